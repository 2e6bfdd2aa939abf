/* server.h — the HTTP side of `glm serve`: libmicrohttpd with one thread per connection,
 * routing, bearer-token auth, request-body limits, and SSE streaming through callback
 * responses whose reader blocks on the request's generation (design.md §3, §5).
 * Owns: the MHD daemon and per-connection state. Does not own: the API semantics (api.h) or
 * the engine (the caller creates the scheduler and tears it down after server_stop).
 * Thread rules: server_start/quiesce/stop from one (the main) thread; MHD's threads call the
 * API handlers, which block only their own connection. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "server/api.h"

struct server_config {
	const char *host;            /* default 127.0.0.1 */
	int port;                    /* 0: an ephemeral port (see server_port) */
	const char *const *api_keys; /* accepted Bearer tokens; none = no auth */
	int n_api_keys;
	size_t max_body_bytes;       /* larger request bodies get 413 */
	int max_connections;
	bool log_requests;           /* one info line per request */
};

struct server;

/* NULL with e set when the address cannot be bound. */
struct server *server_start(const struct server_config *cfg, const struct api_ctx *api, struct err *e);
int server_port(const struct server *s);
/* Stops accepting new connections (in-flight requests continue). */
void server_quiesce(struct server *s);
/* HTTP requests being served right now. */
long long server_in_flight(const struct server *s);
/* Closes every connection (waiting for handlers to return) and frees the server. */
void server_stop(struct server *s);
