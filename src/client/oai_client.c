/* oai_client.c — the libcurl side of oai_client.h: one easy handle per request in flight, driven
 * by curl_multi_poll on the calling thread. Chunk timestamps are taken when curl hands over the
 * bytes (one timestamp per delivery, as vLLM's aiohttp client does per read), and the chunk rules
 * follow vLLM's request functions (vllm/benchmarks/lib/endpoint_request_func.py): a chunk with a
 * non-empty `choices` is a token chunk (first one = TTFT, the others ITL), `usage` gives the token
 * counts. Unlike vLLM, an error object in the stream or an event that is not JSON fails the
 * request with that message instead of being skipped or raising. */
#include "client/oai_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/sse.h"

#define BODY_CAP (64u << 20) /* a non-stream or error body larger than this is cut */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void oai_global_init(void) { pthread_once(&curl_once, curl_init_once); }

void oai_request_init(struct oai_request *r, char *body, double arrival)
{
	memset(r, 0, sizeof *r);
	r->body = body;
	r->arrival = arrival;
	r->prompt_tokens = r->completion_tokens = -1;
	buf_init(&r->text);
}

void oai_request_free(struct oai_request *r)
{
	free(r->body);
	free(r->error);
	free(r->itl);
	buf_free(&r->text);
	memset(r, 0, sizeof *r);
}

static void req_fail(struct oai_request *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void req_fail(struct oai_request *r, const char *fmt, ...)
{
	if (r->error) return; /* the first reason is the real one */
	va_list ap;
	va_start(ap, fmt);
	struct buf b;
	buf_init(&b);
	char tmp[1024];
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	buf_puts(&b, tmp);
	r->error = buf_take(&b);
	r->success = false;
}

char *oai_error_message(const char *body, size_t len)
{
	json_error_t je;
	json_t *j = body && len ? json_loadb(body, len, 0, &je) : NULL;
	const char *msg = NULL;
	if (json_is_object(j)) {
		json_t *err = json_object_get(j, "error");
		if (json_is_object(err)) msg = json_string_value(json_object_get(err, "message"));
		else if (json_is_string(err)) msg = json_string_value(err);
		if (!msg) msg = json_string_value(json_object_get(j, "message"));
		if (!msg) msg = json_string_value(json_object_get(j, "detail"));
	}
	char *out;
	if (msg) out = xstrdup(msg);
	else if (!body || !len) out = xstrdup("(empty body)");
	else out = xstrndup(body, len > 300 ? 300 : len);
	json_decref(j);
	return out;
}

/* Loopback servers are never reached through a proxy from the environment. */
static bool is_loopback_url(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	return !strncmp(p, "127.", 4) || !strncmp(p, "localhost", 9) || !strncmp(p, "[::1]", 5);
}

/* ---- one request in flight ---- */

struct conn {
	struct oai_run *run;
	struct oai_request *r;
	CURL *h;
	double t0;          /* the run's start */
	double now;         /* run-relative time of the delivery being parsed */
	double last_chunk;  /* run-relative time of the previous token chunk */
	bool first_chunk;   /* a token chunk was seen */
	bool stopped;       /* the stream was abandoned (malformed / error event) */
	bool status_known, ok_stream;
	struct sse_parser sse;
	struct buf body;    /* non-stream body, or the body of an error status */
	char errbuf[CURL_ERROR_SIZE];
};

static void itl_push(struct oai_request *r, double v)
{
	if (r->n_itl == r->cap_itl) {
		r->cap_itl = r->cap_itl ? r->cap_itl * 2 : 64;
		r->itl = xrealloc(r->itl, r->cap_itl * sizeof *r->itl);
	}
	r->itl[r->n_itl++] = v;
}

static void read_usage(struct oai_request *r, json_t *usage)
{
	if (!json_is_object(usage)) return;
	json_t *ct = json_object_get(usage, "completion_tokens"), *pt = json_object_get(usage, "prompt_tokens");
	if (json_is_integer(ct)) r->completion_tokens = (long)json_integer_value(ct);
	if (json_is_integer(pt)) r->prompt_tokens = (long)json_integer_value(pt);
}

/* An error object in place of a chunk or a response: {"error": {...}} or SGLang's {"object": "error"}. */
static bool is_error_object(json_t *j)
{
	json_t *err = json_object_get(j, "error");
	if (err && !json_is_null(err)) return true;
	const char *obj = json_string_value(json_object_get(j, "object"));
	return obj && !strcmp(obj, "error");
}

/* Appends the choice's text (completions) or content (chat) to out. Generated text may hold NULs
 * (\u0000 is valid JSON), hence the explicit lengths. */
static void choice_text(enum oai_api api, json_t *choice, bool stream, struct buf *out)
{
	json_t *s;
	if (api == OAI_API_COMPLETIONS) s = json_object_get(choice, "text");
	else s = json_object_get(json_object_get(choice, stream ? "delta" : "message"), "content");
	if (json_is_string(s)) buf_append(out, json_string_value(s), json_string_length(s));
}

static int on_event(void *ctx, const char *data, size_t len)
{
	struct conn *c = ctx;
	struct oai_request *r = c->r;
	if (len == 6 && !memcmp(data, "[DONE]", 6)) return 0;
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_ALLOW_NUL, &je);
	if (!json_is_object(j)) {
		req_fail(r, "malformed SSE event (%s): %.200s", j ? "not a JSON object" : je.text, data);
		json_decref(j);
		return 1;
	}
	if (is_error_object(j)) {
		char *s = json_dumps(j, JSON_COMPACT);
		char *m = oai_error_message(s, strlen(s));
		req_fail(r, "error event in the stream: %s", m);
		free(m), free(s);
		json_decref(j);
		return 1;
	}
	json_t *choices = json_object_get(j, "choices");
	if (json_is_array(choices) && json_array_size(choices) > 0) {
		if (!c->first_chunk) {
			c->first_chunk = true;
			r->ttft = c->now - r->start_time;
		} else itl_push(r, c->now - c->last_chunk);
		c->last_chunk = c->now;
		choice_text(c->run->api, json_array_get(choices, 0), true, &r->text);
	}
	read_usage(r, json_object_get(j, "usage"));
	json_decref(j);
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct conn *c = ud;
	size_t n = size * nmemb;
	if (!c->status_known) {
		long st = 0;
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
		c->r->http_status = st;
		c->status_known = true;
		c->ok_stream = c->run->stream && st == 200;
	}
	if (!c->ok_stream) {
		if (c->body.len + n <= BODY_CAP) buf_append(&c->body, ptr, n);
		return n;
	}
	if (c->stopped) return n; /* drain what is left of an abandoned stream */
	c->now = time_now() - c->t0;
	if (sse_feed(&c->sse, ptr, n, on_event, c)) c->stopped = true;
	return n;
}

static void finish_nonstream(struct conn *c)
{
	struct oai_request *r = c->r;
	json_error_t je;
	json_t *j = json_loadb(c->body.data ? c->body.data : "", c->body.len, JSON_ALLOW_NUL, &je);
	if (!json_is_object(j)) req_fail(r, "malformed JSON response: %s: %.200s", je.text, c->body.data ? c->body.data : "");
	else if (is_error_object(j)) {
		char *m = oai_error_message(c->body.data, c->body.len);
		req_fail(r, "error response: %s", m);
		free(m);
	} else {
		json_t *choices = json_object_get(j, "choices");
		if (!json_is_array(choices) || json_array_size(choices) == 0) req_fail(r, "response without choices: %.200s", c->body.data);
		else {
			choice_text(c->run->api, json_array_get(choices, 0), false, &r->text);
			read_usage(r, json_object_get(j, "usage"));
			r->success = true;
		}
	}
	json_decref(j);
}

static void conn_finish(struct conn *c, CURLcode rc)
{
	struct oai_request *r = c->r;
	double end = time_now() - c->t0;
	if (!c->status_known) curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->http_status);
	if (r->error) {
		/* a malformed or error event already said why */
	} else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && c->stopped)) {
		req_fail(r, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc)); /* errbuf is the more precise */
	} else if (r->http_status != 200) {
		char *m = oai_error_message(c->body.data, c->body.len);
		req_fail(r, "HTTP %ld: %s", r->http_status, m);
		free(m);
	} else if (c->run->stream) {
		c->now = end;
		sse_finish(&c->sse, on_event, c);
		if (!r->error && !c->first_chunk)
			req_fail(r, "Never received a valid chunk to calculate TTFT. This response will be marked as failed!");
		else if (!r->error) r->success = true;
		r->latency = c->first_chunk ? c->last_chunk - r->start_time : end - r->start_time;
	} else {
		r->latency = r->ttft = end - r->start_time;
		finish_nonstream(c);
	}
	if (!r->success && r->latency == 0) r->latency = end - r->start_time;
}

static struct conn *conn_start(struct oai_run *run, struct oai_request *r, struct curl_slist *headers, double t0)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->run = run, c->r = r, c->t0 = t0;
	sse_parser_init(&c->sse);
	buf_init(&c->body);
	c->h = curl_easy_init();
	if (!c->h) return c; /* the caller fails it */
	CURL *h = c->h;
	curl_easy_setopt(h, CURLOPT_URL, run->url);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_PRIVATE, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (run->timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, run->timeout_ms);
	if (is_loopback_url(run->url)) curl_easy_setopt(h, CURLOPT_PROXY, "");
	r->start_time = time_now() - t0;
	return c;
}

static void conn_free(struct conn *c)
{
	if (c->h) curl_easy_cleanup(c->h);
	sse_parser_free(&c->sse);
	buf_free(&c->body);
	free(c);
}

static struct curl_slist *make_headers(const char *api_key)
{
	struct curl_slist *hs = NULL;
	hs = curl_slist_append(hs, "Content-Type: application/json");
	hs = curl_slist_append(hs, "Expect:"); /* no 100-continue round trip for large prompts */
	if (api_key && *api_key) {
		char *a = xmalloc(strlen(api_key) + 32);
		sprintf(a, "Authorization: Bearer %s", api_key);
		hs = curl_slist_append(hs, a);
		free(a);
	}
	return hs;
}

int oai_run_requests(struct oai_run *run, struct oai_request *reqs, int n, struct err *e)
{
	oai_global_init();
	for (int i = 1; i < n; i++) GLM_ASSERT(reqs[i].arrival >= reqs[i - 1].arrival);
	CURLM *m = curl_multi_init();
	if (!m) return err_set(e, "curl_multi_init failed");
	struct curl_slist *headers = make_headers(run->api_key);
	double t0 = time_now(), last_progress = -1;
	int next = 0, running = 0, done = 0, failed = 0;
	while (done < n) {
		double now = time_now() - t0;
		while (next < n && (run->max_concurrency <= 0 || running < run->max_concurrency) && reqs[next].arrival <= now) {
			struct oai_request *r = &reqs[next++];
			struct conn *c = conn_start(run, r, headers, t0);
			if (!c->h || curl_multi_add_handle(m, c->h) != CURLM_OK) {
				req_fail(r, "could not start the request (curl)");
				conn_free(c);
				done++, failed++;
				continue;
			}
			running++;
		}
		int still = 0;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(m, &q))) {
			if (msg->msg != CURLMSG_DONE) continue;
			struct conn *c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(m, c->h);
			conn_finish(c, rc);
			if (!c->r->success) failed++;
			conn_free(c);
			running--, done++;
			if (run->progress) run->progress(run->progress_ctx, done, failed, n, time_now() - t0);
			last_progress = time_now() - t0;
		}
		if (done >= n) break;
		now = time_now() - t0;
		if (run->progress && now - last_progress > 0.2) {
			run->progress(run->progress_ctx, done, failed, n, now);
			last_progress = now;
		}
		int wait_ms = 200;
		if (next < n && (run->max_concurrency <= 0 || running < run->max_concurrency)) {
			double dt = reqs[next].arrival - now;
			if (dt <= 0) continue;
			if (dt * 1000 < wait_ms) wait_ms = (int)ceil(dt * 1000);
		}
		curl_multi_poll(m, NULL, 0, wait_ms, NULL);
	}
	run->duration = time_now() - t0;
	curl_slist_free_all(headers);
	curl_multi_cleanup(m);
	return 0;
}

/* ---- blocking helpers ---- */

static size_t on_write_buf(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	if (b->len + n <= BODY_CAP) buf_append(b, ptr, n);
	return n;
}

int oai_http(const char *url, const char *api_key, const char *body, long timeout_ms, long *status, struct buf *resp,
             struct err *e)
{
	oai_global_init();
	CURL *h = curl_easy_init();
	if (!h) return err_set(e, "curl_easy_init failed");
	struct curl_slist *headers = make_headers(api_key);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (is_loopback_url(url)) curl_easy_setopt(h, CURLOPT_PROXY, "");
	CURLcode rc = curl_easy_perform(h);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	if (!resp->data) buf_reserve(resp, 0), resp->data[0] = '\0';
	if (rc != CURLE_OK) return err_set(e, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return 0;
}

int oai_first_model(const char *base_url, const char *api_key, char **id, char **root, struct err *e)
{
	*id = *root = NULL;
	char *url = xmalloc(strlen(base_url) + 16);
	sprintf(url, "%s/v1/models", base_url);
	struct buf b;
	buf_init(&b);
	long st;
	int rc = oai_http(url, api_key, NULL, 30000, &st, &b, e);
	if (!rc && st != 200) {
		char *m = oai_error_message(b.data, b.len);
		rc = err_set(e, "%s: HTTP %ld: %s", url, st, m);
		free(m);
	}
	if (!rc) {
		json_error_t je;
		json_t *j = json_loadb(b.data, b.len, 0, &je);
		json_t *d0 = json_array_get(json_object_get(j, "data"), 0);
		const char *s = json_string_value(json_object_get(d0, "id"));
		if (!s) rc = err_set(e, "%s: no models listed (data[0].id missing)", url);
		else {
			*id = xstrdup(s);
			const char *rt = json_string_value(json_object_get(d0, "root"));
			if (rt) *root = xstrdup(rt);
		}
		json_decref(j);
	}
	buf_free(&b);
	free(url);
	return rc;
}
