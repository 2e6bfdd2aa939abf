/* oai_client.h — an HTTP client for OpenAI-compatible servers (ours, vLLM, SGLang), on libcurl.
 * Runs a list of completion requests, each released at its arrival time and limited to a number
 * in flight at once, all on the calling thread through curl's multi interface, and records what
 * a serving benchmark measures of each: send time, time to the first chunk, the gaps between
 * chunks, the end, the text, the usage the server reported, or why it failed. Also small blocking
 * helpers (GET /v1/models, POST JSON). Knows the response shapes of serving.md §4 (choices[0].text
 * of completions, choices[0].delta.content of chat chunks, usage, error objects); builds no
 * payloads (the caller does).
 * Call oai_global_init() once before anything else (curl_global_init is not thread-safe).
 * Thread rules: one oai_run_requests per thread at a time; the requests array belongs to it
 * until it returns; the progress callback runs on that thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

enum oai_api { OAI_API_COMPLETIONS, OAI_API_CHAT };

struct oai_request {
	/* set by the caller */
	char *body;     /* JSON payload (malloc'd; freed by oai_request_free) */
	double arrival; /* seconds after the run's start before which it is not sent */

	/* filled by oai_run_requests */
	bool success;
	char *error;        /* why it failed (malloc'd), NULL on success */
	long http_status;   /* 0 when no response came */
	double start_time;  /* seconds after the run's start when it was sent */
	double ttft;        /* s from send to the first chunk carrying choices (non-stream: = latency) */
	double latency;     /* s from send to the last chunk carrying choices (non-stream: the end) */
	double *itl;        /* gaps between consecutive chunks carrying choices, s */
	size_t n_itl, cap_itl;
	struct buf text;         /* the generated text (all chunks concatenated) */
	long prompt_tokens;      /* usage.prompt_tokens, -1 when the server did not say */
	long completion_tokens;  /* usage.completion_tokens, -1 when the server did not say */
};

void oai_request_init(struct oai_request *r, char *body, double arrival);
void oai_request_free(struct oai_request *r);

struct oai_run {
	const char *url;      /* the full endpoint URL, e.g. http://127.0.0.1:8000/v1/completions */
	const char *api_key;  /* sent as "Authorization: Bearer KEY" when not NULL/empty */
	enum oai_api api;
	bool stream;          /* SSE responses (stream: true in the payloads) */
	int max_concurrency;  /* requests in flight at most; <= 0: no limit */
	long timeout_ms;      /* per request, 0: none */
	/* Called after every finished request and about 5 times a second otherwise. */
	void (*progress)(void *ctx, int done, int failed, int total, double elapsed);
	void *progress_ctx;
	double duration;      /* out: seconds from the start of the run to the last finished request */
};

/* Runs the requests (arrivals must not decrease along the array). Failed requests are results,
 * not errors: returns -1 only when the client itself cannot run (curl setup). */
int oai_run_requests(struct oai_run *run, struct oai_request *reqs, int n, struct err *e);

/* Blocking request: POST body (JSON) when body != NULL, else GET. Fills *status and the response
 * body; -1 when no HTTP response came (e says why: connection refused, timeout, ...). */
int oai_http(const char *url, const char *api_key, const char *body, long timeout_ms, long *status, struct buf *resp,
             struct err *e);
/* GET <base>/v1/models: data[0].id and data[0].root (root NULL when absent). malloc'd strings. */
int oai_first_model(const char *base_url, const char *api_key, char **id, char **root, struct err *e);
/* The message of an OpenAI/vLLM/SGLang error body ({"error":{"message"}} or {"message"}), or the
 * body itself cut to 300 bytes. malloc'd. */
char *oai_error_message(const char *body, size_t len);

void oai_global_init(void);
