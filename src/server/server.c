/* server.c — see server.h. libmicrohttpd calls on_request several times per request: once
 * with the headers (state is allocated), then with body pieces (accumulated up to the limit),
 * then once with no data (the request is dispatched). Handlers run on the connection's own
 * thread (MHD_USE_THREAD_PER_CONNECTION), so a non-streaming request simply blocks there until
 * its generation ends, and a streaming response's reader blocks until it has bytes: no busy
 * loop, no suspend/resume bookkeeping. While waiting, both look at the socket every 100 ms; a
 * client that closed it gets its generation cancelled. The stream's state is freed by MHD's
 * free callback when the connection is done with the response, whatever the reason. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef GLM_HAVE_MHD
#include <microhttpd.h>

struct server {
	struct MHD_Daemon *d;
	struct server_config cfg;
	const struct api_ctx *api;
	int port;
};

/* per-request state (MHD's con_cls) */
struct req_state {
	struct buf body;
	bool too_large;
	bool responded; /* a response was queued before the body was read */
	double t0;
	int status;
	char method[8];
	char path[40];
	bool counted; /* counted in metrics in_flight */
};

static bool conn_gone(void *ctx)
{
	struct MHD_Connection *c = ctx;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci) return true;
	char b;
	ssize_t r = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r == 0) return true;
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
	return false;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	ssize_t n = s->read(s, buf, max);
	if (n > 0) return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct api_stream *s = cls;
	s->destroy(s);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_state *rs, struct api_response *r)
{
	struct MHD_Response *resp;
	if (r->stream) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, r->stream, stream_free);
		if (!resp) {
			r->stream->destroy(r->stream);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	} else {
		resp = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(r->body);
			return MHD_NO;
		}
	}
	if (r->content_type) MHD_add_response_header(resp, "Content-Type", r->content_type);
	rs->status = r->status;
	/* 499 (client went away) has nothing to send to anyone */
	enum MHD_Result ok = MHD_queue_response(conn, r->status == 499 ? 400 : (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct req_state *rs, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *conn, struct req_state *rs, int status, const char *fmt, ...)
{
	struct api_error e = {.status = status};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof e.message, fmt, ap);
	va_end(ap);
	struct api_response r;
	api_response_error(&r, &e);
	return send_response(conn, rs, &r);
}

static bool authorized(const struct server *s, struct MHD_Connection *conn)
{
	if (!s->cfg.n_api_keys) return true;
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7)) return false;
	h += 7;
	while (*h == ' ') h++;
	for (int i = 0; i < s->cfg.n_api_keys; i++) {
		/* compare without an early exit, so timing does not reveal a prefix */
		const char *k = s->cfg.api_keys[i];
		size_t a = strlen(h), b = strlen(k);
		unsigned diff = (unsigned)(a != b);
		for (size_t j = 0; j < a && j < b; j++) diff |= (unsigned char)h[j] ^ (unsigned char)k[j];
		if (!diff) return true;
	}
	return false;
}

enum route { ROUTE_NONE, ROUTE_HEALTH, ROUTE_MODELS, ROUTE_METRICS, ROUTE_VERSION, ROUTE_CHAT, ROUTE_COMPLETIONS, ROUTE_TOKENIZE, ROUTE_DETOKENIZE };

static enum route find_route(const char *url, bool *post)
{
	static const struct {
		const char *path;
		bool post;
		enum route r;
	} routes[] = {
		{"/health", false, ROUTE_HEALTH},
		{"/v1/models", false, ROUTE_MODELS},
		{"/metrics", false, ROUTE_METRICS},
		{"/version", false, ROUTE_VERSION},
		{"/v1/chat/completions", true, ROUTE_CHAT},
		{"/v1/completions", true, ROUTE_COMPLETIONS},
		{"/tokenize", true, ROUTE_TOKENIZE},
		{"/detokenize", true, ROUTE_DETOKENIZE},
	};
	size_t n = strlen(url);
	while (n > 1 && url[n - 1] == '/') n--; /* "/v1/models/" too */
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
		if (strlen(routes[i].path) == n && !strncmp(routes[i].path, url, n)) {
			*post = routes[i].post;
			return routes[i].r;
		}
	return ROUTE_NONE;
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *conn, struct req_state *rs, const char *url,
                                const char *method)
{
	const struct api_ctx *api = s->api;
	bool want_post = false;
	enum route rt = find_route(url, &want_post);
	if (rt == ROUTE_NONE) return send_error(conn, rs, 404, "Not Found: %s %s", method, url);
	bool is_post = !strcmp(method, "POST"), is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (want_post ? !is_post : !is_get) return send_error(conn, rs, 405, "Method Not Allowed: %s %s", method, url);
	if (rt != ROUTE_HEALTH && !authorized(s, conn))
		return send_error(conn, rs, 401, "Unauthorized: a valid API key is required (Authorization: Bearer <key>)");
	if (rs->too_large)
		return send_error(conn, rs, 413, "the request body is larger than the limit of %zu bytes", s->cfg.max_body_bytes);
	struct api_response r = {0};
	switch (rt) {
	case ROUTE_HEALTH:
		if (api->stopping && atomic_load(api->stopping) != API_RUNNING) api_response_text(&r, 503, "text/plain", "shutting down\n");
		else api_response_text(&r, 200, "text/plain", "");
		break;
	case ROUTE_MODELS: api_models(api, &r); break;
	case ROUTE_VERSION: api_response_json(&r, 200, json_pack("{s:s}", "version", "glm.c")); break;
	case ROUTE_METRICS: {
		struct buf out;
		buf_init(&out);
		metrics_render(api->metrics, api->sched, api->served_names[0], &out);
		r.status = 200;
		r.content_type = "text/plain; version=0.0.4; charset=utf-8";
		r.body = buf_take(&out);
		r.body_len = strlen(r.body);
		break;
	}
	default: {
		if (api->stopping && atomic_load(api->stopping) != API_RUNNING && (rt == ROUTE_CHAT || rt == ROUTE_COMPLETIONS))
			return send_error(conn, rs, 503, "the server is shutting down");
		json_error_t je;
		json_t *body = json_loadb(rs->body.data ? rs->body.data : "", rs->body.len, 0, &je);
		if (!body) return send_error(conn, rs, 400, "JSON decode error: %s (line %d, column %d)", je.text, je.line, je.column);
		struct api_conn ac = {.gone = conn_gone, .ctx = conn};
		if (rt == ROUTE_CHAT) api_chat(api, body, &ac, &r);
		else if (rt == ROUTE_COMPLETIONS) api_completions(api, body, &ac, &r);
		else if (rt == ROUTE_TOKENIZE) api_tokenize(api, body, &r);
		else api_detokenize(api, body, &r);
		json_decref(body);
	}
	}
	return send_response(conn, rs, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct req_state *rs = *con_cls;
	if (!rs) {
		rs = xcalloc(1, sizeof *rs);
		buf_init(&rs->body);
		rs->t0 = time_now();
		snprintf(rs->method, sizeof rs->method, "%s", method);
		bool post;
		snprintf(rs->path, sizeof rs->path, "%s", find_route(url, &post) != ROUTE_NONE ? url : "other");
		*con_cls = rs;
		metrics_in_flight(s->api->metrics, 1);
		rs->counted = true;
		/* a declared length over the limit is refused before reading the body */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
			rs->too_large = rs->responded = true;
			return send_error(conn, rs, 413, "the request body is larger than the limit of %zu bytes", s->cfg.max_body_bytes);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rs->too_large) {
			if (rs->body.len + *upload_data_size > s->cfg.max_body_bytes) {
				rs->too_large = true;
				buf_free(&rs->body);
			} else buf_append(&rs->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->responded) return MHD_YES;
	rs->responded = true;
	return dispatch(s, conn, rs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct req_state *rs = *con_cls;
	if (!rs) return;
	double ms = (time_now() - rs->t0) * 1e3;
	metrics_record_http(s->api->metrics, rs->path, rs->status);
	if (rs->counted) metrics_in_flight(s->api->metrics, -1);
	if (!s->cfg.log_requests) {
	} else if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_info("%s %s -> %d (%.1f ms)", rs->method, rs->path, rs->status, ms);
	else log_info("%s %s -> %d, connection closed early (%.1f ms)", rs->method, rs->path, rs->status, ms);
	buf_free(&rs->body);
	free(rs);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n') line[--n] = 0;
	log_debug("libmicrohttpd: %s", line);
}

struct server *server_start(const struct server_config *cfg, const struct api_ctx *api, struct err *e)
{
	struct server *s = xcalloc(1, sizeof *s);
	s->cfg = *cfg;
	s->api = api;
	const char *host = cfg->host ? cfg->host : "127.0.0.1";
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", cfg->port);
	int gai = getaddrinfo(host, port, &hints, &ai);
	if (gai) {
		err_set(e, "--host %s: %s", host, gai_strerror(gai));
		free(s);
		return NULL;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
	                 MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
	                        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_connections > 0 ? cfg->max_connections : 1000),
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
	                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	                        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                        MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!s->d) {
		err_set(e, "cannot listen on %s:%d (address in use or not available)", host, cfg->port);
		free(s);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : cfg->port;
	return s;
}

int server_port(const struct server *s) { return s->port; }

void server_quiesce(struct server *s)
{
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET) close(fd);
}

long long server_in_flight(const struct server *s) { return metrics_get_in_flight(s->api->metrics); }

void server_stop(struct server *s)
{
	if (!s) return;
	MHD_stop_daemon(s->d);
	free(s);
}

#else /* built without libmicrohttpd */

struct server {
	int unused;
};

struct server *server_start(const struct server_config *cfg, const struct api_ctx *api, struct err *e)
{
	err_set(e, "this glm was built without libmicrohttpd (install libmicrohttpd-dev and rebuild)");
	return NULL;
}
int server_port(const struct server *s) { return 0; }
void server_quiesce(struct server *s) {}
long long server_in_flight(const struct server *s) { return 0; }
void server_stop(struct server *s) {}

#endif
