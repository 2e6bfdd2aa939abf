/* stop_match.h — the request's `stop` strings over a text stream (vLLM semantics: searched in
 * the whole decoded output, reasoning included; the matched string and everything after it
 * never reach the client). Incremental: text goes in as the detokenizer produces it, text that
 * can no longer be part of a match comes out. A suffix that is still a prefix of some stop
 * string is held back, so a stop string split across tokens never leaks.
 * Owns: the held-back text and the stop strings' copies. Does not own: cancelling the engine
 * request on a match (the caller does that). Thread rules: one matcher per stream, one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct stop_match {
	char **stops; /* NUL-terminated copies; empty strings are not kept */
	size_t *lens;
	int *orig; /* index of each kept string in the caller's list */
	int n;
	struct buf held; /* text not yet released */
	int matched;     /* caller's index of the stop string that matched, -1 while none */
};

void stop_match_init(struct stop_match *m, const char *const *stops, int n);
void stop_match_free(struct stop_match *m);
/* Appends text; the part that is final (before any match, and not a possible stop prefix) is
 * appended to out. Returns true once a stop string matched (then out holds the text before it
 * and every later feed is ignored). */
bool stop_match_feed(struct stop_match *m, const char *text, size_t n, struct buf *out);
/* End of the stream without a match: releases what was held. */
void stop_match_finish(struct stop_match *m, struct buf *out);
