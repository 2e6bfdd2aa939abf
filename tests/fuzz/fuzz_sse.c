/* fuzz_sse.c — fuzz target for the client's text/event-stream parser (src/client/sse.c), which
 * reads what a remote OpenAI-compatible server streams to `glm bench serve` / `glm eval`.
 * Input: byte 0 = the event after which the callback asks to stop (0: never), the rest is the
 * stream body.
 * Invariants: fed whole, byte by byte and in two random splits (then finished), the parser gives
 * the same events and stops at the same one; every event's data is NUL-terminated and holds no
 * '\r' (line ends never leak into data); an event that stops the parser is the last one.
 * Thread rules: single-threaded. */
#include <string.h>

#include "client/sse.h"
#include "fuzz.h"

const size_t fuzz_max_len = 4096;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_NONE;
const char *const fuzz_dict[] = {
	"data: ", "data:", "data", ": ping", "event: ", "id: ", "retry: ", "\n", "\r", "\r\n", "\n\n", "\r\n\r\n",
	"data: [DONE]\n\n", "data: {\"choices\": [{\"delta\": {\"content\": \"hi\"}}]}\n\n", ":", " ", "\xef\xbb\xbf", NULL,
};

struct events {
	struct buf all; /* each event's data followed by a 0xff separator */
	int n, stop_at;
};

static int on_event(void *ctx, const char *data, size_t len)
{
	struct events *ev = ctx;
	FUZZ_CHECK(data[len] == 0, "event data not NUL-terminated");
	FUZZ_CHECK(!memchr(data, '\r', len), "a line end ('\\r') leaked into event data");
	buf_append(&ev->all, data, len);
	buf_putc(&ev->all, (char)0xff);
	ev->n++;
	return ev->n == ev->stop_at ? 7 : 0;
}

static void run(const char *in, size_t n, enum fuzz_split mode, uint64_t seed, struct events *ev)
{
	struct sse_parser p;
	struct rng r;
	rng_seed(&r, seed);
	sse_parser_init(&p);
	size_t i = 0;
	int rc = 0;
	while (i < n && !rc) {
		size_t k = fuzz_split_next(mode, &r, n - i);
		rc = sse_feed(&p, in + i, k, on_event, ev);
		i += k;
	}
	if (!rc) rc = sse_finish(&p, on_event, ev);
	FUZZ_CHECK(rc == 0 || rc == 7, "sse returned %d, not the callback's value", rc);
	FUZZ_CHECK((rc == 7) == (ev->stop_at > 0 && ev->n == ev->stop_at), "stopped %d after %d events (stop at %d)",
	           rc, ev->n, ev->stop_at);
	sse_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size) return 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct events whole = {.stop_at = data[0] % 16}, other;
	buf_init(&whole.all);
	run(in, n, FUZZ_SPLIT_WHOLE, 0, &whole);
	const enum fuzz_split modes[] = {FUZZ_SPLIT_BYTES, FUZZ_SPLIT_RANDOM, FUZZ_SPLIT_RANDOM};
	for (size_t m = 0; m < 3; m++) {
		other = (struct events){.stop_at = whole.stop_at};
		buf_init(&other.all);
		run(in, n, modes[m], fuzz_hash(data, size) + m, &other);
		FUZZ_CHECK(other.n == whole.n && other.all.len == whole.all.len &&
		               !memcmp(other.all.data ? other.all.data : "", whole.all.data ? whole.all.data : "", whole.all.len),
		           "split %zu gives other events (%d vs %d)", m, other.n, whole.n);
		buf_free(&other.all);
	}
	buf_free(&whole.all);
	return 0;
}
