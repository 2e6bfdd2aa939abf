/* tag_scan.h — the incremental tag scan shared by the streaming chat parsers (reasoning.c,
 * tool_parser.c): text goes to the caller up to each '<', and bytes from a '<' on are held
 * while they can still become one of the tags live in the caller's current state.
 * Owns no memory: the held bytes live in the caller's parser, and what text and tags mean is
 * the caller's business.
 * Thread rules: none (pure; the caller's parser is used by one thread at a time). */
#ifndef GLM_CHAT_TAG_SCAN_H
#define GLM_CHAT_TAG_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* The size of a caller's hold buffer, so every tag is shorter. */
#define TAG_SCAN_HELD_MAX 16

/* Bit t set: tags[t] can be recognised now. */
typedef unsigned (*tag_scan_live_fn)(void *parser);
/* Text in the caller's current state (never a byte of a tag that matched). */
typedef void (*tag_scan_text_fn)(void *parser, void *events, const char *s, size_t n);
/* tags[tag] matched in full; its bytes are not passed as text. */
typedef void (*tag_scan_tag_fn)(void *parser, void *events, int tag);

/* What a parser recognises and how it hears of it; parser and events are handed through. */
struct tag_scan_ops {
	const char *const *tags; /* each starts with '<' */
	int n_tags;
	tag_scan_live_fn live;
	tag_scan_text_fn text;
	tag_scan_tag_fn tag;
};

/* Scans s; held (TAG_SCAN_HELD_MAX bytes, *held_len in use) carries a possible tag across
 * calls. A state with no live tag and nothing held takes the rest as text at once. */
void tag_scan_feed(const struct tag_scan_ops *ops, char *held, size_t *held_len, void *parser, void *events,
                   const char *s, size_t n);

/* The held bytes cannot become a tag: passes them on as text and holds none. */
void tag_scan_release(const struct tag_scan_ops *ops, char *held, size_t *held_len, void *parser, void *events);

#endif
