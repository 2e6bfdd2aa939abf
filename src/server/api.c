/* api.c — shared pieces of the API layer: OpenAI error bodies, typed JSON getters that name
 * the offending field, response constructors, ids. See api.h. */
#include "server/api.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tokenizer/tokenizer.h"

int api_error_set(struct api_error *e, int status, const char *param, const char *fmt, ...)
{
	e->status = status;
	snprintf(e->param, sizeof e->param, "%s", param ? param : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

const char *api_error_type(int status)
{
	switch (status) {
	case 400: return "BadRequestError";
	case 401: return "AuthenticationError";
	case 403: return "PermissionDeniedError";
	case 404: return "NotFoundError";
	case 405: return "MethodNotAllowedError";
	case 413: return "RequestEntityTooLargeError";
	case 415: return "UnsupportedMediaTypeError";
	case 422: return "UnprocessableEntityError";
	case 429: return "RateLimitError";
	case 503: return "ServiceUnavailableError";
	default: return status >= 500 ? "InternalServerError" : "BadRequestError";
	}
}

char *api_error_json(const struct api_error *e)
{
	json_t *err = json_object();
	json_object_set_new(err, "message", api_json_text(e->message, strlen(e->message)));
	json_object_set_new(err, "type", json_string(api_error_type(e->status)));
	json_object_set_new(err, "param", e->param[0] ? json_string(e->param) : json_null());
	json_object_set_new(err, "code", json_integer(e->status));
	json_t *root = json_object();
	json_object_set_new(root, "error", err);
	char *s = api_json_dump(root);
	json_decref(root);
	return s;
}

char *api_json_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
	GLM_ASSERT(s);
	return s;
}

json_t *api_json_text(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	if (j) return j;
	struct buf b;
	buf_init(&b);
	tokenizer_utf8_lossy(&b, s, n, true);
	j = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	GLM_ASSERT(j);
	return j;
}

void api_response_json(struct api_response *r, int status, json_t *body)
{
	memset(r, 0, sizeof *r);
	r->status = status;
	r->content_type = "application/json";
	r->body = api_json_dump(body);
	r->body_len = strlen(r->body);
	json_decref(body);
}

void api_response_error(struct api_response *r, const struct api_error *e)
{
	memset(r, 0, sizeof *r);
	r->status = e->status;
	r->content_type = "application/json";
	r->body = api_error_json(e);
	r->body_len = strlen(r->body);
}

void api_response_text(struct api_response *r, int status, const char *content_type, const char *text)
{
	memset(r, 0, sizeof *r);
	r->status = status;
	r->content_type = content_type;
	r->body = xstrdup(text);
	r->body_len = strlen(text);
}

void api_response_stream(struct api_response *r, struct api_stream *s)
{
	memset(r, 0, sizeof *r);
	r->status = 200;
	r->content_type = "text/event-stream";
	r->stream = s;
}

void api_sse_put_json(struct buf *out, json_t *o)
{
	char *s = api_json_dump(o);
	buf_printf(out, "data: %s\n\n", s);
	free(s);
	json_decref(o);
}

void api_sse_put_error(struct buf *out, const char *msg)
{
	struct api_error e;
	api_error_set(&e, 500, NULL, "%s", msg);
	char *s = api_error_json(&e);
	buf_printf(out, "data: %s\n\n", s);
	free(s);
}

size_t api_sse_drain(struct api_sse *sse, char *dst, size_t max)
{
	if (sse->pos >= sse->out.len) return 0;
	size_t n = sse->out.len - sse->pos;
	if (n > max) n = max;
	memcpy(dst, sse->out.data + sse->pos, n);
	sse->pos += n;
	if (sse->pos == sse->out.len) buf_clear(&sse->out), sse->pos = 0;
	return n;
}

int api_error_context_length(struct api_error *e, const char *param, int max_model_len, int n_input)
{
	return api_error_set(e, 400, param,
	                     "This model's maximum context length is %d tokens. However, your request has %d input tokens. "
	                     "Please reduce the length of the input messages.",
	                     max_model_len, n_input);
}

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

int api_get_bool(json_t *o, const char *key, bool *out, struct api_error *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) return 0;
	if (!json_is_boolean(v)) return api_error_set(e, 400, key, "'%s' must be a boolean, got %s", key, type_name(v));
	*out = json_is_true(v);
	return 0;
}

int api_get_int(json_t *o, const char *key, long long lo, long long hi, long long *out, struct api_error *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) return 0;
	long long x;
	if (json_is_integer(v)) x = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15)
		x = (long long)json_real_value(v); /* 5.0 is an integer to Python's pydantic too */
	else return api_error_set(e, 400, key, "'%s' must be an integer, got %s", key, type_name(v));
	if (x < lo || x > hi) return api_error_set(e, 400, key, "'%s' must be in [%lld, %lld], got %lld", key, lo, hi, x);
	*out = x;
	return 0;
}

int api_get_number(json_t *o, const char *key, double lo, double hi, double *out, struct api_error *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) return 0;
	if (!json_is_number(v)) return api_error_set(e, 400, key, "'%s' must be a number, got %s", key, type_name(v));
	double x = json_number_value(v);
	if (!(x >= lo && x <= hi)) return api_error_set(e, 400, key, "'%s' must be in [%g, %g], got %g", key, lo, hi, x);
	*out = x;
	return 0;
}

int api_get_string(json_t *o, const char *key, const char **out, struct api_error *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) return 0;
	if (!json_is_string(v)) return api_error_set(e, 400, key, "'%s' must be a string, got %s", key, type_name(v));
	*out = json_string_value(v);
	return 0;
}

static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rng g_rng;
static bool g_rng_ready;

uint64_t api_random_u64(void)
{
	pthread_mutex_lock(&rng_mu);
	if (!g_rng_ready) {
		uint64_t seed = 0;
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
		}
		if (fd >= 0) close(fd);
		rng_seed(&g_rng, seed);
		g_rng_ready = true;
	}
	uint64_t v = rng_next(&g_rng);
	pthread_mutex_unlock(&rng_mu);
	return v;
}

void api_random_hex(char *out, int n_hex)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = 0;
	for (int i = 0; i < n_hex; i++) {
		if (i % 16 == 0) v = api_random_u64();
		out[i] = hex[v & 15];
		v >>= 4;
	}
	out[n_hex] = 0;
}

int api_kwarg_bool(json_t *kwargs, const char *key)
{
	json_t *v = kwargs ? json_object_get(kwargs, key) : NULL;
	if (json_is_true(v)) return 1;
	if (json_is_false(v)) return 0;
	return -1;
}

int api_check_model(const struct api_ctx *ctx, const char *model, struct api_error *e)
{
	if (!model) return 0;
	for (int i = 0; i < ctx->n_served; i++)
		if (!strcmp(model, ctx->served_names[i])) return 0;
	return api_error_set(e, 404, "model", "The model `%s` does not exist.", model);
}

void api_models(const struct api_ctx *ctx, struct api_response *res)
{
	json_t *data = json_array();
	for (int i = 0; i < ctx->n_served; i++) {
		json_t *m = json_object();
		json_object_set_new(m, "id", json_string(ctx->served_names[i]));
		json_object_set_new(m, "object", json_string("model"));
		json_object_set_new(m, "created", json_integer(ctx->created));
		json_object_set_new(m, "owned_by", json_string("glm.c"));
		json_object_set_new(m, "root", api_json_text(ctx->model_path, strlen(ctx->model_path)));
		json_object_set_new(m, "parent", json_null());
		json_object_set_new(m, "max_model_len", json_integer(ctx->max_model_len));
		if (ctx->demo) {
			json_object_set_new(m, "demo", json_true());
			json_object_set_new(m, "description",
			                    json_string("built-in demo checkpoint with RANDOM weights: it serves every API "
			                                "feature, but its text is gibberish"));
		}
		json_array_append_new(data, m);
	}
	api_response_json(res, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}
