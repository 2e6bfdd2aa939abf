/* tokenizer.c — loads an HF tokenizer.json (jansson, only here) into struct tokenizer and runs
 * the HF encode pipeline: added tokens split out of the raw text (leftmost-longest, with HF's
 * single_word/lstrip/rstrip handling), then the pre-tokenizer (pretok.c), then BPE (bpe.c);
 * and decode (ByteLevel decoder, from_utf8_lossy). Supported: model BPE, normalizer null,
 * pre_tokenizer Sequence/Split/ByteLevel, decoder ByteLevel or null; anything else is a load
 * error naming the key. The post_processor is not run: we always encode with HF's
 * add_special_tokens=false (GLM's chat template writes [gMASK]<sop> as text).
 * Thread rules: immutable after tokenizer_create; encode/decode keep their state on the stack. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

/* Ids index dense per-id tables, so a sparse id far beyond the vocabulary would cost memory
 * in proportion: ids stay below 2^24 (16.7M; GLM's vocabulary is 151552, the largest in use
 * today are a few hundred thousand). */
#define TOKENIZER_MAX_ID (1 << 24)

enum tokenizer_decoder {
	TOKENIZER_DECODER_NONE,       /* HF with no decoder: tokens joined with " " */
	TOKENIZER_DECODER_BYTE_LEVEL, /* GPT-2 chars back to bytes */
};

struct added_token {
	char *content;
	size_t len;
	int32_t id;
	bool special, lstrip, rstrip, single_word, normalized;
};

/* Byte trie of added-token contents for leftmost-longest matching (what HF's aho-corasick
 * LeftmostLongest gives). Edges live in a hash map keyed by (node << 8 | byte). */
struct added_trie {
	struct tokmap_u64 edges;
	int32_t *term; /* node -> token id, -1 when no token ends here */
	size_t n_nodes;
	uint8_t first[32]; /* bitmap of first bytes, to skip most positions fast */
};

struct tokenizer {
	struct bpe bpe;
	struct pretok pretok;
	enum tokenizer_decoder decoder;
	int32_t vocab_size;
	const char **id_str;    /* per id: token string, NULL for holes */
	uint32_t *id_len;       /* per id: its length (added contents may hold NULs) */
	int32_t *added_index;   /* per id: index in added[], or -1 */
	uint32_t *dec_off;      /* per id: decoded bytes in dec */
	uint32_t *dec_len;
	struct buf dec;
	uint8_t *special;       /* per id: 1 if decode(skip_special) drops it */
	struct added_token *added; /* HF added_tokens_map_r: one entry per added id */
	size_t n_added;
	struct tokmap_str added_ids; /* content -> id */
	struct added_trie trie[2];   /* [0]: normalized=false tokens, [1]: normalized=true */
	pcre2_code *word_re;         /* Rust regex's \w, for single_word */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static void trie_init(struct added_trie *tr)
{
	memset(tr, 0, sizeof *tr);
	tokmap_u64_init(&tr->edges);
	tr->term = xmalloc(sizeof *tr->term);
	tr->term[0] = -1;
	tr->n_nodes = 1;
}

static void trie_free(struct added_trie *tr)
{
	tokmap_u64_free(&tr->edges);
	free(tr->term);
}

static void trie_add(struct added_trie *tr, const char *s, size_t n, int32_t id)
{
	uint64_t node = 0;
	tr->first[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << ((unsigned char)s[0] & 7));
	for (size_t i = 0; i < n; i++) {
		uint64_t key = node << 8 | (unsigned char)s[i], child;
		if (!tokmap_u64_get(&tr->edges, key, &child)) {
			child = tr->n_nodes++;
			tr->term = xrealloc(tr->term, tr->n_nodes * sizeof *tr->term);
			tr->term[child] = -1;
			tokmap_u64_put(&tr->edges, key, child);
		}
		node = child;
	}
	tr->term[node] = id;
}

/* Longest token starting at s[0]; returns its length (0: none) and its id. */
static size_t trie_longest(const struct added_trie *tr, const char *s, size_t n, int32_t *id)
{
	uint64_t node = 0;
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t child;
		if (!tokmap_u64_get(&tr->edges, node << 8 | (unsigned char)s[i], &child)) break;
		node = child;
		if (tr->term[node] >= 0) best = i + 1, *id = tr->term[node];
	}
	return best;
}

/* Rust's char::is_whitespace / regex \s: Unicode White_Space. */
static bool is_ws(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
	       c == 0x3000;
}

static size_t utf8_prev(const char *s, size_t i)
{
	do i--;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
	return i;
}

static bool valid_utf8(const char *s, size_t n, size_t *bad)
{
	size_t i = 0;
	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		int l = utf8_decode(s + i, n - i, &cp);
		if (!l) {
			*bad = i;
			return false;
		}
		i += (size_t)l;
	}
	return true;
}

size_t tokenizer_utf8_lossy(struct buf *out, const char *s, size_t n, bool final)
{
	static const char fffd[] = "\xEF\xBF\xBD";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned c = u[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		int need;
		unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
		if (c >= 0xC2 && c <= 0xDF) need = 1;
		else if (c == 0xE0) need = 2, lo = 0xA0;
		else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
		else if (c == 0xED) need = 2, hi = 0x9F;
		else if (c == 0xF0) need = 3, lo = 0x90;
		else if (c >= 0xF1 && c <= 0xF3) need = 3;
		else if (c == 0xF4) need = 3, hi = 0x8F;
		else need = 0;
		size_t bad = 0; /* bytes of the maximal invalid subpart, 0 if the sequence is valid */
		if (!need) bad = 1;
		for (int k = 1; k <= need && !bad; k++) {
			if (i + (size_t)k >= n) { /* truncated at the end */
				if (!final) {
					buf_append(out, s + run, i - run);
					return i;
				}
				bad = n - i;
				break;
			}
			unsigned b = u[i + (size_t)k];
			if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) bad = (size_t)k;
		}
		if (!bad) {
			i += (size_t)need + 1;
			continue;
		}
		buf_append(out, s + run, i - run);
		buf_append(out, fffd, 3);
		i += bad;
		run = i;
	}
	buf_append(out, s + run, n - run);
	return n;
}

/* ---- loading ----------------------------------------------------------------------------- */

static int get_bool(json_t *obj, const char *key, bool dflt, bool *out, const char *where, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v)) return err_set(e, "%s.%s: expected true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

static const char *get_type(json_t *obj)
{
	json_t *v = json_object_get(obj, "type");
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int load_model(struct tokenizer *t, json_t *model, struct err *e)
{
	struct bpe *m = &t->bpe;
	if (!json_is_object(model)) return err_set(e, "model: expected an object");
	const char *type = get_type(model);
	if (type && strcmp(type, "BPE") != 0)
		return err_set(e, "model.type '%s' is not supported (only BPE)", type);
	json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
	if (!type && !(vocab && merges)) return err_set(e, "model.type: missing (and no BPE vocab/merges)");
	if (!json_is_object(vocab)) return err_set(e, "model.vocab: missing or not an object");
	if (merges && !json_is_array(merges)) return err_set(e, "model.merges: not an array");

	json_t *dropout = json_object_get(model, "dropout");
	if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0))
		return err_set(e, "model.dropout: BPE dropout is not supported (must be null)");
	static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(model, affixes[i]);
		if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
			return err_set(e, "model.%s: not supported (must be null)", affixes[i]);
	}
	if (get_bool(model, "ignore_merges", false, &m->ignore_merges, "model", e) ||
	    get_bool(model, "byte_fallback", false, &m->byte_fallback, "model", e) ||
	    get_bool(model, "fuse_unk", false, &m->fuse_unk, "model", e))
		return -1;

	const char *key;
	size_t klen;
	json_t *val;
	json_object_keylen_foreach(vocab, key, klen, val)
	{
		if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= TOKENIZER_MAX_ID)
			return err_set(e, "model.vocab[\"%.*s\"]: id is not an integer in [0, 2^24)", (int)klen, key);
		tokmap_str_put(&m->vocab, key, klen, (int32_t)json_integer_value(val));
	}
	m->n_vocab = m->vocab.n;

	json_t *unk = json_object_get(model, "unk_token");
	if (unk && !json_is_null(unk)) {
		if (!json_is_string(unk)) return err_set(e, "model.unk_token: expected a string or null");
		if (!tokmap_str_get(&m->vocab, json_string_value(unk), json_string_length(unk), &m->unk_id, NULL))
			return err_set(e, "model.unk_token '%s' is not in model.vocab", json_string_value(unk));
	}

	size_t n_merges = merges ? json_array_size(merges) : 0;
	for (size_t r = 0; r < n_merges; r++) {
		json_t *it = json_array_get(merges, r);
		const char *a, *b;
		size_t la, lb;
		if (json_is_string(it)) { /* legacy form "a b" */
			a = json_string_value(it);
			const char *sp = memchr(a, ' ', json_string_length(it));
			if (!sp || memchr(sp + 1, ' ', json_string_length(it) - (size_t)(sp + 1 - a)))
				return err_set(e, "model.merges[%zu]: \"%s\" is not two tokens separated by one space", r, a);
			la = (size_t)(sp - a);
			b = sp + 1;
			lb = json_string_length(it) - la - 1;
		} else if (json_is_array(it) && json_array_size(it) == 2 && json_is_string(json_array_get(it, 0)) &&
		           json_is_string(json_array_get(it, 1))) {
			a = json_string_value(json_array_get(it, 0));
			la = json_string_length(json_array_get(it, 0));
			b = json_string_value(json_array_get(it, 1));
			lb = json_string_length(json_array_get(it, 1));
		} else {
			return err_set(e, "model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", r);
		}
		int32_t ia, ib, ic;
		char *ab = xmalloc(la + lb + 1);
		memcpy(ab, a, la);
		memcpy(ab + la, b, lb);
		bool ok_a = tokmap_str_get(&m->vocab, a, la, &ia, NULL), ok_b = tokmap_str_get(&m->vocab, b, lb, &ib, NULL);
		bool ok_c = tokmap_str_get(&m->vocab, ab, la + lb, &ic, NULL);
		if (!ok_a || !ok_b || !ok_c) {
			err_set(e, "model.merges[%zu]: token \"%.*s\" is not in model.vocab", r,
			        (int)(!ok_a ? la : !ok_b ? lb : la + lb), !ok_a ? a : !ok_b ? b : ab);
			free(ab);
			return -1;
		}
		free(ab);
		/* a repeated pair keeps the later rank, as HF's HashMap collect does */
		tokmap_u64_put(&m->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, (uint64_t)r << 32 | (uint32_t)ic);
	}
	bpe_finish_load(m);
	return 0;
}

static int load_pretok_step(struct tokenizer *t, json_t *pt, const char *where, struct err *e)
{
	if (!json_is_object(pt)) return err_set(e, "%s: expected an object", where);
	const char *type = get_type(pt);
	if (!type) return err_set(e, "%s.type: missing", where);
	if (!strcmp(type, "Sequence")) {
		json_t *list = json_object_get(pt, "pretokenizers");
		if (!json_is_array(list)) return err_set(e, "%s.pretokenizers: missing or not an array", where);
		for (size_t i = 0; i < json_array_size(list); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", where, i);
			if (load_pretok_step(t, json_array_get(list, i), sub, e)) return -1;
		}
		return 0;
	}
	struct pretok_step st;
	memset(&st, 0, sizeof st);
	if (!strcmp(type, "Split")) {
		st.kind = PRETOK_KIND_SPLIT;
		json_t *pat = json_object_get(pt, "pattern"), *rx = NULL, *lit = NULL;
		if (json_is_object(pat)) rx = json_object_get(pat, "Regex"), lit = json_object_get(pat, "String");
		if (!json_is_string(rx) && !json_is_string(lit))
			return err_set(e, "%s.pattern: expected {\"Regex\": ...} or {\"String\": ...}", where);
		json_t *p = json_is_string(rx) ? rx : lit;
		if (json_is_string(lit) && json_string_length(lit) == 0)
			return err_set(e, "%s.pattern: an empty String pattern is not supported", where);
		static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
		                                    "Contiguous"};
		json_t *beh = json_object_get(pt, "behavior");
		const char *bs = json_is_string(beh) ? json_string_value(beh) : "";
		int b = -1;
		for (int i = 0; i < 5; i++)
			if (!strcmp(bs, names[i])) b = i;
		if (b < 0) return err_set(e, "%s.behavior '%s' is not supported", where, bs);
		st.behavior = (enum pretok_behavior)b;
		if (get_bool(pt, "invert", false, &st.invert, where, e)) return -1;
		st.re = pretok_compile_regex(json_string_value(p), json_string_length(p), p == lit, e);
		if (!st.re) return err_prefix(e, "%s.pattern", where);
	} else if (!strcmp(type, "ByteLevel")) {
		st.kind = PRETOK_KIND_BYTE_LEVEL;
		if (get_bool(pt, "add_prefix_space", true, &st.add_prefix_space, where, e) ||
		    get_bool(pt, "use_regex", true, &st.use_regex, where, e))
			return -1;
		if (st.use_regex) {
			st.re = pretok_compile_regex(pretok_gpt2_regex, strlen(pretok_gpt2_regex), false, e);
			if (!st.re) return -1;
		}
	} else {
		return err_set(e, "%s.type '%s' is not supported (only Sequence, Split, ByteLevel)", where, type);
	}
	t->pretok.steps = xrealloc(t->pretok.steps, (t->pretok.n_steps + 1) * sizeof st);
	t->pretok.steps[t->pretok.n_steps++] = st;
	return 0;
}

/* HF's AddedVocabulary::add_tokens as run by the tokenizer.json deserializer: the "id" field is
 * only checked (warning), the id is the content's existing id or the next free one. */
static int load_added(struct tokenizer *t, json_t *list, struct err *e)
{
	if (!list || json_is_null(list)) return 0;
	if (!json_is_array(list)) return err_set(e, "added_tokens: not an array");
	size_t n = json_array_size(list);
	struct added_token *toks = xcalloc(n ? n : 1, sizeof *toks);
	int rc = 0;
	struct tokmap_str special_set;
	tokmap_str_init(&special_set);
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *o = json_array_get(list, i);
		char where[64];
		snprintf(where, sizeof where, "added_tokens[%zu]", i);
		json_t *c = json_object_get(o, "content"), *id = json_object_get(o, "id");
		if (!json_is_object(o) || !json_is_string(c)) {
			rc = err_set(e, "%s.content: missing or not a string", where);
			break;
		}
		if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= TOKENIZER_MAX_ID) {
			rc = err_set(e, "%s.id: missing or not an integer in [0, 2^24)", where);
			break;
		}
		struct added_token *a = &toks[i];
		a->content = xstrndup(json_string_value(c), json_string_length(c));
		a->len = json_string_length(c);
		a->id = (int32_t)json_integer_value(id);
		rc = get_bool(o, "special", false, &a->special, where, e);
		rc = rc ? rc : get_bool(o, "lstrip", false, &a->lstrip, where, e);
		rc = rc ? rc : get_bool(o, "rstrip", false, &a->rstrip, where, e);
		rc = rc ? rc : get_bool(o, "single_word", false, &a->single_word, where, e);
		rc = rc ? rc : get_bool(o, "normalized", !a->special, &a->normalized, where, e);
		if (!rc && a->special && a->len) tokmap_str_put(&special_set, a->content, a->len, 1);
	}
	/* match order: special tokens first (unique contents), then the others */
	struct added_token **order = xcalloc(n ? n : 1, sizeof *order);
	struct tokmap_u64 by_id; /* id -> index in t->added */
	tokmap_u64_init(&by_id);
	size_t n_order = 0;
	int32_t max_added = -1;
	for (size_t i = 0; i < n && !rc; i++) {
		struct added_token *a = &toks[i];
		if (!a->len) continue;
		int32_t nid;
		uint64_t k;
		if (tokmap_str_get(&t->added_ids, a->content, a->len, &nid, NULL)) {
			GLM_ASSERT(tokmap_u64_get(&by_id, (uint64_t)nid, &k));
			const struct added_token *b = &t->added[k];
			if (b->len == a->len && !memcmp(b->content, a->content, a->len) && b->special == a->special && b->lstrip == a->lstrip && b->rstrip == a->rstrip &&
			    b->single_word == a->single_word && b->normalized == a->normalized)
				continue; /* an identical token is ignored */
		} else if (!tokmap_str_get(&t->bpe.vocab, a->content, a->len, &nid, NULL)) {
			int32_t vs = (int32_t)t->bpe.n_vocab; /* the next free id, HF's rule */
			nid = max_added < 0 ? vs : (max_added >= vs || vs == 0) ? max_added + 1 : vs;
		}
		if (nid != a->id)
			log_warn("tokenizer.json: added token '%s' has id %d in the file but gets id %d (as in HF tokenizers)",
			         a->content, a->id, nid);
		if (nid > max_added) max_added = nid;
		tokmap_str_put(&t->added_ids, a->content, a->len, nid);
		/* added_tokens_map_r: one entry per id, the last token wins */
		if (!tokmap_u64_get(&by_id, (uint64_t)nid, &k)) {
			k = t->n_added++;
			t->added = xrealloc(t->added, t->n_added * sizeof *t->added);
			tokmap_u64_put(&by_id, (uint64_t)nid, k);
		} else {
			free(t->added[k].content);
		}
		t->added[k] = *a;
		t->added[k].content = xstrndup(a->content, a->len);
		t->added[k].id = nid;
		if (!tokmap_str_get(&special_set, a->content, a->len, NULL, NULL)) order[n_order++] = a;
	}
	/* tries: the special tokens (first occurrence of each content), then the others; a content
	 * always maps to its one id, so adding it twice is harmless */
	struct tokmap_str seen;
	tokmap_str_init(&seen);
	for (size_t i = 0; i < n && !rc; i++) {
		struct added_token *a = &toks[i];
		if (!a->special || !a->len || tokmap_str_get(&seen, a->content, a->len, NULL, NULL)) continue;
		tokmap_str_put(&seen, a->content, a->len, 1);
		int32_t nid;
		tokmap_str_get(&t->added_ids, a->content, a->len, &nid, NULL);
		trie_add(&t->trie[a->normalized ? 1 : 0], a->content, a->len, nid);
	}
	for (size_t i = 0; i < n_order && !rc; i++) {
		struct added_token *a = order[i];
		int32_t nid;
		tokmap_str_get(&t->added_ids, a->content, a->len, &nid, NULL);
		trie_add(&t->trie[a->normalized ? 1 : 0], a->content, a->len, nid);
	}
	tokmap_str_free(&seen);
	tokmap_u64_free(&by_id);
	free(order);
	tokmap_str_free(&special_set);
	for (size_t i = 0; i < n; i++) free(toks[i].content);
	free(toks);
	return rc;
}

/* After everything is loaded: per-id string, decoded bytes and special flag. */
static void build_id_tables(struct tokenizer *t, struct tokmap_str *special_set)
{
	int32_t vs = 0;
	const struct tokmap_str *v = &t->bpe.vocab;
	for (size_t i = 0; i < v->cap; i++)
		if (v->slots[i].len != UINT32_MAX && v->slots[i].val + 1 > vs) vs = v->slots[i].val + 1;
	for (size_t i = 0; i < t->n_added; i++)
		if (t->added[i].id + 1 > vs) vs = t->added[i].id + 1;
	t->vocab_size = vs;
	size_t nid = vs ? (size_t)vs : 1;
	t->id_str = xcalloc(nid, sizeof *t->id_str);
	t->id_len = xcalloc(nid, sizeof *t->id_len);
	t->added_index = xmalloc(nid * sizeof *t->added_index);
	for (size_t i = 0; i < nid; i++) t->added_index[i] = -1;
	/* vocab first in file order is not kept by the map; any string for a duplicated id will do,
	 * prefer the lowest pool offset (the first one in the file) */
	uint32_t *best = xmalloc((vs ? (size_t)vs : 1) * sizeof *best);
	for (int32_t i = 0; i < vs; i++) best[i] = UINT32_MAX;
	for (size_t i = 0; i < v->cap; i++) {
		const struct tokmap_str_slot *s = &v->slots[i];
		if (s->len != UINT32_MAX && s->off < best[s->val]) best[s->val] = s->off;
	}
	for (size_t i = 0; i < v->cap; i++) {
		const struct tokmap_str_slot *s = &v->slots[i];
		if (s->len != UINT32_MAX && s->off == best[s->val]) {
			t->id_str[s->val] = tokmap_str_key(v, s->off);
			t->id_len[s->val] = s->len;
		}
	}
	free(best);
	for (size_t i = 0; i < t->n_added; i++) {
		t->id_str[t->added[i].id] = t->added[i].content;
		t->id_len[t->added[i].id] = (uint32_t)t->added[i].len;
		t->added_index[t->added[i].id] = (int32_t)i;
	}

	t->dec_off = xcalloc(vs ? (size_t)vs : 1, sizeof *t->dec_off);
	t->dec_len = xcalloc(vs ? (size_t)vs : 1, sizeof *t->dec_len);
	t->special = xcalloc(vs ? (size_t)vs : 1, 1);
	for (int32_t id = 0; id < vs; id++) {
		const char *s = t->id_str[id];
		if (!s) continue;
		size_t n = t->id_len[id];
		t->dec_off[id] = (uint32_t)t->dec.len;
		bool mapped = t->decoder == TOKENIZER_DECODER_BYTE_LEVEL;
		if (mapped) { /* HF ByteLevel decoder: all chars must be byte chars, else raw UTF-8 */
			size_t start = t->dec.len;
			for (size_t i = 0; i < n && mapped;) {
				uint32_t cp;
				int l = utf8_decode(s + i, n - i, &cp);
				if (l <= 0 || cp >= 512 || pretok_char_byte[cp] < 0) mapped = false;
				else buf_putc(&t->dec, (char)pretok_char_byte[cp]), i += (size_t)l;
			}
			if (!mapped) t->dec.len = start;
		}
		if (!mapped) buf_append(&t->dec, s, n);
		t->dec_len[id] = (uint32_t)(t->dec.len - t->dec_off[id]);
		t->special[id] = tokmap_str_get(special_set, s, n, NULL, NULL);
	}
}

static void tokenizer_free_parts(struct tokenizer *t)
{
	bpe_free(&t->bpe);
	pretok_free(&t->pretok);
	free(t->id_str);
	free(t->dec_off);
	free(t->dec_len);
	buf_free(&t->dec);
	free(t->special);
	for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
	free(t->added);
	tokmap_str_free(&t->added_ids);
	trie_free(&t->trie[0]);
	trie_free(&t->trie[1]);
	pcre2_code_free(t->word_re);
	free(t->id_len);
	free(t->added_index);
}

static struct tokenizer *load_root(json_t *root, struct err *e)
{
	if (!json_is_object(root)) {
		err_set(e, "top level is not a JSON object");
		return NULL;
	}
	pretok_tables_init();
	struct tokenizer *t = xcalloc(1, sizeof *t);
	bpe_init(&t->bpe);
	tokmap_str_init(&t->added_ids);
	trie_init(&t->trie[0]);
	trie_init(&t->trie[1]);
	buf_init(&t->dec);
	int rc = 0;

	json_t *model = json_object_get(root, "model");
	if (!model) rc = err_set(e, "missing key 'model'");
	if (!rc) rc = load_model(t, model, e);

	json_t *norm = json_object_get(root, "normalizer");
	if (!rc && norm && !json_is_null(norm)) {
		const char *type = get_type(norm);
		json_t *list = json_object_get(norm, "normalizers");
		/* an empty Sequence is a no-op and harmless */
		if (!(type && !strcmp(type, "Sequence") && json_is_array(list) && json_array_size(list) == 0))
			rc = err_set(e, "normalizer.type '%s' is not supported (only null)", type ? type : "?");
	}
	json_t *pt = json_object_get(root, "pre_tokenizer");
	if (!rc && pt && !json_is_null(pt)) rc = load_pretok_step(t, pt, "pre_tokenizer", e);

	json_t *dec = json_object_get(root, "decoder");
	if (!rc && dec && !json_is_null(dec)) {
		const char *type = get_type(dec);
		if (type && !strcmp(type, "ByteLevel")) t->decoder = TOKENIZER_DECODER_BYTE_LEVEL;
		else rc = err_set(e, "decoder.type '%s' is not supported (only ByteLevel or null)", type ? type : "?");
	}
	static const char *const ignored[] = {"truncation", "padding"};
	for (int i = 0; i < 2 && !rc; i++) {
		json_t *v = json_object_get(root, ignored[i]);
		if (v && !json_is_null(v)) log_warn("tokenizer.json: '%s' is set and ignored", ignored[i]);
	}
	if (!rc) rc = load_added(t, json_object_get(root, "added_tokens"), e);
	if (!rc) {
		struct tokmap_str special_set;
		tokmap_str_init(&special_set);
		for (size_t i = 0; i < t->n_added; i++)
			if (t->added[i].special) tokmap_str_put(&special_set, t->added[i].content, t->added[i].len, 1);
		build_id_tables(t, &special_set);
		tokmap_str_free(&special_set);
		if (t->vocab_size == 0) rc = err_set(e, "model.vocab: empty");
	}
	if (!rc) {
		bool need_word = false;
		for (size_t i = 0; i < t->n_added; i++) need_word |= t->added[i].single_word;
		if (need_word) {
			/* Rust regex's Unicode \w (HF checks single_word with \w$ and ^\w) */
			static const char w[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]";
			int ec;
			PCRE2_SIZE eo;
			t->word_re = pcre2_compile((PCRE2_SPTR)w, sizeof w - 1, PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &ec,
			                           &eo, NULL);
			if (!t->word_re) rc = err_set(e, "internal: word regex failed to compile");
		}
	}
	if (rc) {
		tokenizer_free_parts(t);
		free(t);
		return NULL;
	}
	return t;
}

struct tokenizer *tokenizer_create_from_memory(const char *json, size_t len, struct err *e)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &je);
	if (!root) {
		err_set(e, "not valid JSON: %s at line %d column %d", je.text, je.line, je.column);
		return NULL;
	}
	struct tokenizer *t = load_root(root, e);
	json_decref(root);
	return t;
}

struct tokenizer *tokenizer_create(const char *path, struct err *e)
{
	struct buf b;
	buf_init(&b);
	if (file_read_all(path, &b, e)) return NULL;
	struct tokenizer *t = tokenizer_create_from_memory(b.data, b.len, e);
	buf_free(&b);
	if (!t) err_prefix(e, "%s", path);
	return t;
}

void tokenizer_destroy(struct tokenizer *t)
{
	if (!t) return;
	tokenizer_free_parts(t);
	free(t);
}

/* ---- lookups ----------------------------------------------------------------------------- */

int32_t tokenizer_vocab_size(const struct tokenizer *t) { return t->vocab_size; }

int32_t tokenizer_token_id(const struct tokenizer *t, const char *token)
{
	int32_t id;
	size_t n = strlen(token);
	if (tokmap_str_get(&t->added_ids, token, n, &id, NULL)) return id;
	if (tokmap_str_get(&t->bpe.vocab, token, n, &id, NULL)) return id;
	return -1;
}

const char *tokenizer_token_str(const struct tokenizer *t, int32_t id)
{
	return id >= 0 && id < t->vocab_size ? t->id_str[id] : NULL;
}

bool tokenizer_is_special(const struct tokenizer *t, int32_t id)
{
	return id >= 0 && id < t->vocab_size && t->special[id];
}

const char *tokenizer_token_bytes(const struct tokenizer *t, int32_t id, size_t *len)
{
	if (id < 0 || id >= t->vocab_size || !t->id_str[id]) {
		*len = 0;
		return "";
	}
	*len = t->dec_len[id];
	return t->dec.data + t->dec_off[id];
}

/* ---- encode ------------------------------------------------------------------------------ */

struct seg {
	size_t off, len;
	int32_t id; /* added token id, or -1 for text still to tokenize */
};
struct segs {
	struct seg *v;
	size_t n, cap;
};

static void seg_push(struct segs *s, size_t off, size_t len, int32_t id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = (struct seg){off, len, id};
}

static const struct added_token *added_by_id(const struct tokenizer *t, int32_t id)
{
	int32_t k = id >= 0 && id < t->vocab_size ? t->added_index[id] : -1;
	return k >= 0 ? &t->added[k] : NULL;
}

static bool is_word_at(const struct tokenizer *t, const char *s, size_t n, pcre2_match_data *md)
{
	return pcre2_match(t->word_re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, md, NULL) >= 0;
}

/* HF AddedVocabulary::find_matches over s[0, n) (base: offset of s in the text). */
static void added_split(const struct tokenizer *t, const struct added_trie *tr, const char *s, size_t n, size_t base,
                        struct segs *out)
{
	size_t start_offset = 0, pos = 0;
	pcre2_match_data *md = NULL;
	while (pos < n && tr->n_nodes > 1) {
		size_t ms = pos, ml = 0;
		int32_t id = -1;
		for (; ms < n; ms++) {
			unsigned char c = (unsigned char)s[ms];
			if (!(tr->first[c >> 3] & (1u << (c & 7)))) continue;
			if ((ml = trie_longest(tr, s + ms, n - ms, &id))) break;
		}
		if (!ml) break;
		size_t start = ms, stop = ms + ml;
		pos = stop; /* the match is consumed even when single_word discards it */
		const struct added_token *a = added_by_id(t, id);
		if (a && a->single_word) {
			if (!md) md = pcre2_match_data_create(1, NULL);
			bool start_space = start == 0 || !is_word_at(t, s + utf8_prev(s, start), start - utf8_prev(s, start), md);
			bool stop_space = stop == n || !is_word_at(t, s + stop, n - stop, md);
			if (!start_space || !stop_space) continue;
		}
		if (a && a->lstrip) {
			size_t ns = start;
			while (ns > 0) {
				size_t p = utf8_prev(s, ns);
				uint32_t cp;
				utf8_decode(s + p, ns - p, &cp);
				if (!is_ws(cp)) break;
				ns = p;
			}
			start = ns > start_offset ? ns : start_offset;
		}
		if (a && a->rstrip) {
			while (stop < n) {
				uint32_t cp;
				int l = utf8_decode(s + stop, n - stop, &cp);
				if (l <= 0 || !is_ws(cp)) break;
				stop += (size_t)l;
			}
		}
		if (start > stop) start = stop;
		if (start_offset < start) seg_push(out, base + start_offset, start - start_offset, -1);
		seg_push(out, base + start, stop - start, id);
		start_offset = stop;
	}
	if (start_offset < n) seg_push(out, base + start_offset, n - start_offset, -1);
	pcre2_match_data_free(md);
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n_ids,
                     struct err *e)
{
	*ids = NULL;
	*n_ids = 0;
	size_t bad;
	if (!valid_utf8(text, len, &bad)) return err_set(e, "encode: input is not valid UTF-8 (byte %zu)", bad);

	struct segs s1 = {0}, s2 = {0};
	added_split(t, &t->trie[0], text, len, 0, &s1);
	for (size_t i = 0; i < s1.n; i++) {
		if (s1.v[i].id >= 0 || t->trie[1].n_nodes <= 1) seg_push(&s2, s1.v[i].off, s1.v[i].len, s1.v[i].id);
		else added_split(t, &t->trie[1], text + s1.v[i].off, s1.v[i].len, s1.v[i].off, &s2);
	}

	struct buf work;
	buf_init(&work);
	buf_append(&work, text, len);
	struct pretok_scratch ps;
	memset(&ps, 0, sizeof ps);
	struct bpe_scratch bs;
	memset(&bs, 0, sizeof bs);
	struct tok_ranges pieces = {0};
	struct tok_ids out = {0};
	int rc = 0;
	for (size_t i = 0; i < s2.n && !rc; i++) {
		if (s2.v[i].id >= 0) {
			tok_ids_push(&out, s2.v[i].id);
			continue;
		}
		pieces.n = 0;
		work.len = len; /* drop mapped text of the previous segment */
		rc = pretok_run(&t->pretok, &work, s2.v[i].off, s2.v[i].len, &ps, &pieces, e);
		for (size_t k = 0; k < pieces.n && !rc; k++)
			bpe_encode_piece(&t->bpe, work.data + pieces.v[k].off, pieces.v[k].len, &bs, &out);
	}
	free(s1.v);
	free(s2.v);
	buf_free(&work);
	pretok_scratch_free(&ps);
	bpe_scratch_free(&bs);
	free(pieces.v);
	if (rc) {
		free(out.v);
		return -1;
	}
	*ids = out.v ? out.v : xmalloc(sizeof **ids);
	*n_ids = out.n;
	return 0;
}

/* ---- decode ------------------------------------------------------------------------------ */

static bool keep(const struct tokenizer *t, int32_t id, bool skip_special)
{
	return id >= 0 && id < t->vocab_size && t->id_str[id] && !(skip_special && t->special[id]);
}

void tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n, bool skip_special, struct buf *out)
{
	if (t->decoder == TOKENIZER_DECODER_NONE) {
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			if (!keep(t, ids[i], skip_special)) continue;
			if (!first) buf_putc(out, ' ');
			buf_append(out, t->dec.data + t->dec_off[ids[i]], t->dec_len[ids[i]]);
			first = false;
		}
		return;
	}
	struct buf raw;
	buf_init(&raw);
	for (size_t i = 0; i < n; i++)
		if (keep(t, ids[i], skip_special)) buf_append(&raw, t->dec.data + t->dec_off[ids[i]], t->dec_len[ids[i]]);
	tokenizer_utf8_lossy(out, raw.data ? raw.data : "", raw.len, true);
	buf_free(&raw);
	if (!out->data) buf_reserve(out, 0), out->data[0] = '\0';
}

/* ---- incremental detokenizer ------------------------------------------------------------- */

void detok_init(struct detok *d, const struct tokenizer *t, bool skip_special)
{
	d->t = t;
	d->skip_special = skip_special;
	d->started = false;
	buf_init(&d->pending);
}

void detok_feed(struct detok *d, int32_t id, struct buf *out)
{
	const struct tokenizer *t = d->t;
	if (!keep(t, id, d->skip_special)) return;
	const char *s = t->dec.data + t->dec_off[id];
	size_t n = t->dec_len[id];
	if (t->decoder == TOKENIZER_DECODER_NONE) {
		if (d->started) buf_putc(out, ' ');
		buf_append(out, s, n);
		d->started = true;
		return;
	}
	buf_append(&d->pending, s, n);
	size_t used = tokenizer_utf8_lossy(out, d->pending.data, d->pending.len, false);
	memmove(d->pending.data, d->pending.data + used, d->pending.len - used);
	d->pending.len -= used;
	d->pending.data[d->pending.len] = '\0';
}

void detok_finish(struct detok *d, struct buf *out)
{
	if (d->pending.len) tokenizer_utf8_lossy(out, d->pending.data, d->pending.len, true);
	d->pending.len = 0;
	if (d->pending.data) d->pending.data[0] = '\0';
	d->started = false;
}

void detok_free(struct detok *d)
{
	buf_free(&d->pending);
	d->t = NULL;
}
