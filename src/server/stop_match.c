/* stop_match.c — see stop_match.h. The held text is always shorter than the longest stop
 * string, so each feed costs O(held + n) per stop string. */
#include "server/stop_match.h"

#include <stdlib.h>
#include <string.h>

void stop_match_init(struct stop_match *m, const char *const *stops, int n)
{
	memset(m, 0, sizeof *m);
	m->matched = -1;
	buf_init(&m->held);
	m->stops = xcalloc(n > 0 ? n : 1, sizeof *m->stops);
	m->lens = xcalloc(n > 0 ? n : 1, sizeof *m->lens);
	m->orig = xcalloc(n > 0 ? n : 1, sizeof *m->orig);
	for (int i = 0; i < n; i++)
		if (stops[i] && stops[i][0]) {
			m->stops[m->n] = xstrdup(stops[i]);
			m->lens[m->n] = strlen(stops[i]);
			m->orig[m->n] = i;
			m->n++;
		}
}

void stop_match_free(struct stop_match *m)
{
	for (int i = 0; i < m->n; i++) free(m->stops[i]);
	free(m->stops);
	free(m->lens);
	free(m->orig);
	buf_free(&m->held);
	memset(m, 0, sizeof *m);
	m->matched = -1;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of some stop string. */
static size_t held_suffix(const struct stop_match *m, const char *s, size_t n)
{
	size_t best = 0;
	for (int i = 0; i < m->n; i++) {
		size_t k = m->lens[i] - 1 < n ? m->lens[i] - 1 : n;
		for (; k > best; k--)
			if (!memcmp(s + n - k, m->stops[i], k)) {
				best = k;
				break;
			}
	}
	return best;
}

bool stop_match_feed(struct stop_match *m, const char *text, size_t n, struct buf *out)
{
	if (m->matched >= 0) return true;
	if (m->n == 0) {
		buf_append(out, text, n);
		return false;
	}
	buf_append(&m->held, text, n);
	const char *h = m->held.data;
	size_t hl = m->held.len;
	/* the earliest match wins; at equal positions the first listed */
	size_t first = (size_t)-1;
	int which = -1;
	for (int i = 0; i < m->n; i++) {
		if (m->lens[i] > hl) continue;
		const char *p = memmem(h, hl, m->stops[i], m->lens[i]);
		if (p && (size_t)(p - h) < first) first = (size_t)(p - h), which = i;
	}
	if (which >= 0) {
		buf_append(out, h, first);
		buf_clear(&m->held);
		m->matched = m->orig[which];
		return true;
	}
	size_t keep = held_suffix(m, h, hl);
	buf_append(out, h, hl - keep);
	memmove(m->held.data, h + hl - keep, keep);
	m->held.len = keep;
	m->held.data[keep] = '\0';
	return false;
}

void stop_match_finish(struct stop_match *m, struct buf *out)
{
	if (m->matched >= 0) return;
	if (m->held.len) buf_append(out, m->held.data, m->held.len);
	buf_clear(&m->held);
}
