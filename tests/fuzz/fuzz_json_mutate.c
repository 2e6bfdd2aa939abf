/* fuzz_json_mutate.c — the standalone driver's structure-aware mutator for targets whose input
 * is JSON (request bodies, config.json, tokenizer.json, safetensors headers). Byte mutations
 * alone leave under 1% of such inputs parseable, so the parsers behind the JSON would hardly be
 * reached; here the input is parsed with jansson, a random node of the tree is changed
 * (replaced by a scalar, a dictionary string, a number, a copy of another subtree of this or
 * another input; keys added, deleted or renamed; array items inserted, dropped or duplicated;
 * nodes wrapped in a list or an object), and the tree is printed back.
 * Owns nothing beyond one call. Does not own byte-level mutation or the corpus (fuzz_main.c).
 * Thread rules: pure apart from the caller's rng. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"

struct nodes {
	json_t **v;
	size_t n, cap;
};

static void collect(json_t *j, struct nodes *ns, int depth)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 64;
		ns->v = xrealloc(ns->v, ns->cap * sizeof *ns->v);
	}
	ns->v[ns->n++] = j;
	if (depth > 64) return;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) collect(v, ns, depth + 1);
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) collect(v, ns, depth + 1);
	}
}

static size_t rnd(struct rng *r, size_t n) { return n ? (size_t)(rng_next(r) % n) : 0; }

/* A dictionary entry that is a JSON string literal ("...") gives a key or a string value. */
static const char *dict_string(struct rng *r, const char *const *dict, size_t nd, char *tmp, size_t cap)
{
	for (int tries = 0; tries < 8 && nd; tries++) {
		const char *s = dict[rnd(r, nd)];
		size_t l = strlen(s);
		if (l >= 2 && s[0] == '"' && s[l - 1] == '"' && l - 2 < cap && !memchr(s + 1, '\\', l - 2)) {
			memcpy(tmp, s + 1, l - 2);
			tmp[l - 2] = 0;
			return tmp;
		}
	}
	static const char *const fallback[] = {"", "a", "x y", "é", "北京", "😀", "\n", "<tool_call>", "{\"a\": 1}", "null"};
	return fallback[rnd(r, sizeof fallback / sizeof *fallback)];
}

/* A new random leaf: null/bool/number/string, or a parsed dictionary fragment ({}, [1, 2]...). */
static json_t *random_value(struct rng *r, const char *const *dict, size_t nd)
{
	static const long long ints[] = {0, 1, -1, 2, 3, 7, 8, 16, 64, 100, 128, 255, 256, 1000, 4096, 65536, 131072,
	                                 2147483647LL, 2147483648LL, -2147483648LL, 4294967296LL, 9007199254740993LL,
	                                 2305843009213693952LL, 4611686018427387904LL,
	                                 9223372036854775807LL, (-9223372036854775807LL - 1)};
	static const double reals[] = {0.0, -0.0, 0.5, 1.0, 1.5, -1.0, 2.5e-7, 1e-5, 0.95, 1e20, 1e308, -1e308, 3.4e38};
	char tmp[256];
	switch (rnd(r, 8)) {
	case 0: return json_null();
	case 1: return json_boolean(rnd(r, 2));
	case 2:
	case 3: return json_integer(ints[rnd(r, sizeof ints / sizeof *ints)]);
	case 4: return json_real(reals[rnd(r, sizeof reals / sizeof *reals)]);
	case 5:
	case 6: return json_string(dict_string(r, dict, nd, tmp, sizeof tmp));
	default:
		for (int tries = 0; tries < 4 && nd; tries++) {
			const char *s = dict[rnd(r, nd)];
			json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
			if (j) return j;
		}
		return json_object();
	}
}

/* Replaces child `old` of its parent (found by search) with v (reference taken). */
static bool replace_in_parent(struct nodes *ns, json_t *old, json_t *v)
{
	for (size_t i = 0; i < ns->n; i++) {
		json_t *p = ns->v[i];
		if (json_is_object(p)) {
			const char *k;
			json_t *c;
			json_object_foreach(p, k, c) if (c == old) return json_object_set_new(p, k, v) == 0;
		} else if (json_is_array(p)) {
			size_t k;
			json_t *c;
			json_array_foreach(p, k, c) if (c == old) return json_array_set_new(p, k, v) == 0;
		}
	}
	json_decref(v);
	return false;
}

/* One structural edit of root (which may be replaced: *root is updated). */
static void edit(json_t **root, json_t *other, struct rng *r, const char *const *dict, size_t nd)
{
	struct nodes ns = {0}, os = {0};
	collect(*root, &ns, 0);
	if (other) collect(other, &os, 0);
	json_t *t = ns.v[rnd(r, ns.n)];
	char tmp[256];
	unsigned op = (unsigned)rnd(r, 10);
	json_t *v = NULL;
	if (op <= 2) v = random_value(r, dict, nd); /* replace by a leaf */
	else if (op <= 4) { /* replace by a copy of a subtree of this input or another one */
		const struct nodes *src = os.n && rnd(r, 2) ? &os : &ns;
		v = json_deep_copy(src->v[rnd(r, src->n)]);
	} else if (op == 5) { /* wrap */
		if (rnd(r, 2)) {
			v = json_array();
			json_array_append(v, t);
		} else {
			v = json_object();
			json_object_set(v, dict_string(r, dict, nd, tmp, sizeof tmp), t);
		}
	}
	if (v) {
		if (t == *root) {
			json_decref(*root);
			*root = v;
		} else replace_in_parent(&ns, t, v);
		goto done;
	}
	/* container edits: find a container (t itself, or the root) */
	if (!json_is_object(t) && !json_is_array(t)) t = *root;
	if (json_is_object(t)) {
		size_t n = json_object_size(t);
		if (op == 6 || n == 0) { /* add or overwrite a key */
			json_t *val = rnd(r, 2) ? random_value(r, dict, nd) : json_deep_copy(ns.v[rnd(r, ns.n)]);
			json_object_set_new(t, dict_string(r, dict, nd, tmp, sizeof tmp), val);
		} else {
			/* pick the k-th key */
			size_t k = rnd(r, n), i = 0;
			const char *key = NULL;
			json_t *c;
			json_object_foreach(t, key, c) if (i++ == k) break;
			char *kc = xstrdup(key);
			if (op == 7) json_object_del(t, kc); /* drop it */
			else if (op == 8) { /* rename it (the value moves to the end, as a re-insert would) */
				json_t *val = json_incref(json_object_get(t, kc));
				json_object_del(t, kc);
				json_object_set_new(t, dict_string(r, dict, nd, tmp, sizeof tmp), val);
			} else json_object_set_new(t, kc, random_value(r, dict, nd));
			free(kc);
		}
	} else if (json_is_array(t)) {
		size_t n = json_array_size(t);
		if (op == 6 || n == 0) json_array_insert_new(t, rnd(r, n + 1), random_value(r, dict, nd));
		else if (op == 7) json_array_remove(t, rnd(r, n));
		else if (op == 8) json_array_insert_new(t, rnd(r, n + 1), json_deep_copy(json_array_get(t, rnd(r, n))));
		else json_array_clear(t);
	}
done:
	free(ns.v);
	free(os.v);
}

static json_t *parse(const char *s, size_t n) { return json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL); }

/* Splits b per the layout into prefix / JSON / suffix. False if there is no JSON part. */
static bool frame(enum fuzz_json_layout layout, const struct buf *b, size_t *js, size_t *jn)
{
	if (!b->len) return false;
	if (layout == FUZZ_JSON_LAYOUT_SAFETENSORS && !(b->len && b->data[0] == '{')) {
		if (b->len < 8) return false;
		uint64_t h;
		memcpy(&h, b->data, 8);
		if (h > b->len - 8) return false;
		*js = 8, *jn = (size_t)h;
		return true;
	}
	const char *nul = memchr(b->data, 0, b->len); /* config.json NUL generation_config.json */
	*js = 0, *jn = nul ? (size_t)(nul - b->data) : b->len;
	return true;
}

bool fuzz_json_mutate(enum fuzz_json_layout layout, struct buf *b, const uint8_t *other, size_t other_n,
                      struct rng *r, const char *const *dict)
{
	size_t js, jn;
	if (!frame(layout, b, &js, &jn)) return false;
	json_t *root = parse(b->data + js, jn);
	if (!root) return false;
	json_t *oroot = NULL;
	if (other) {
		struct buf ob = {(char *)other, other_n, other_n};
		size_t os, on;
		if (frame(layout, &ob, &os, &on)) oroot = parse((const char *)other + os, on);
	}
	size_t nd = 0;
	while (dict[nd]) nd++;
	size_t k = rnd(r, 2) ? 1 : 2 + rnd(r, 2); /* one edit mostly: every edit risks a validation error */
	for (size_t i = 0; i < k; i++) edit(&root, oroot, r, dict, nd);
	static const size_t styles[] = {JSON_COMPACT, 0, JSON_INDENT(2), JSON_INDENT(1) | JSON_COMPACT};
	char *s = json_dumps(root, JSON_ENCODE_ANY | styles[rnd(r, 4)]);
	json_decref(root);
	json_decref(oroot);
	if (!s) return false;
	/* reassemble: prefix (the safetensors length, fixed up most of the time) + JSON + suffix */
	struct buf out;
	buf_init(&out);
	size_t sn = strlen(s);
	if (js == 8) {
		uint64_t h = rnd(r, 8) ? (uint64_t)sn : (uint64_t)jn;
		buf_append(&out, &h, 8);
	}
	buf_append(&out, s, sn);
	buf_append(&out, b->data + js + jn, b->len - js - jn);
	free(s);
	buf_free(b);
	*b = out;
	return true;
}

bool fuzz_json_valid(enum fuzz_json_layout layout, const uint8_t *p, size_t n)
{
	struct buf b = {(char *)p, n, n};
	size_t js, jn;
	if (!frame(layout, &b, &js, &jn)) return false;
	json_t *j = parse((const char *)p + js, jn);
	json_decref(j);
	return j != NULL;
}
