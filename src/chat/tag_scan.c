/* tag_scan.c — the incremental tag scan shared by the streaming chat parsers; see tag_scan.h.
 * Thread rules: none (pure). */
#include "chat/tag_scan.h"

#include <string.h>

void tag_scan_release(const struct tag_scan_ops *ops, char *held, size_t *held_len, void *parser, void *events)
{
	char tmp[TAG_SCAN_HELD_MAX];
	size_t n = *held_len;
	memcpy(tmp, held, n);
	*held_len = 0;
	ops->text(parser, events, tmp, n); /* may scan again (and hold again) after a state change */
}

void tag_scan_feed(const struct tag_scan_ops *ops, char *held, size_t *held_len, void *parser, void *events,
                   const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (*held_len == 0) {
			if (ops->live(parser) == 0) {
				ops->text(parser, events, s + i, n - i);
				return;
			}
			const char *lt = memchr(s + i, '<', n - i);
			size_t j = lt ? (size_t)(lt - s) : n;
			if (j > i) {
				/* The text callback may change state midway and scan the rest itself, but a
				 * later '<' must still be matched, so it only gets text up to '<'. */
				ops->text(parser, events, s + i, j - i);
				i = j;
				continue;
			}
			held[0] = '<';
			*held_len = 1;
			i++;
			continue;
		}
		held[*held_len] = s[i];
		size_t len = *held_len + 1;
		unsigned set = ops->live(parser);
		int full = -1;
		bool prefix = false;
		for (int t = 0; t < ops->n_tags; t++) {
			if (!(set & (1u << t))) continue;
			size_t tl = strlen(ops->tags[t]);
			if (tl >= len && memcmp(ops->tags[t], held, len) == 0) {
				prefix = true;
				if (tl == len) full = t;
			}
		}
		if (full >= 0) {
			*held_len = 0;
			i++;
			ops->tag(parser, events, full);
		} else if (prefix) {
			*held_len = len;
			i++;
		} else {
			tag_scan_release(ops, held, held_len, parser, events); /* s[i] is looked at again */
		}
	}
}
