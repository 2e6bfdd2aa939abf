/* jinja_batch.c — test helper: renders many (template, context) cases in one process so the
 * comparison against Python jinja2 (run_compare.py) stays fast.
 * Input: JSON lines {"template": SOURCE | "template_file": PATH, "context": {...}}.
 * Output: one JSON line per case, {"out": RENDERED} or {"err": MESSAGE}.
 * Like pyrender.py, the context keys become variables and `tools` defaults to None. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "chat/jinja.h"
#include "chat/jinja_json.h"

struct cached {
	char *key;
	struct jinja_template *t;
	char *err;
};

int main(int argc, char **argv)
{
	FILE *in = argc > 1 ? fopen(argv[1], "rb") : stdin;
	if (!in) {
		perror(argv[1]);
		return 2;
	}
	struct cached *cache = NULL;
	size_t n_cache = 0, cap_cache = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, in)) > 0) {
		if (len <= 1) continue;
		json_error_t je;
		json_t *c = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &je);
		if (!c) {
			fprintf(stderr, "bad input line: %s\n", je.text);
			return 2;
		}
		const char *key = NULL;
		struct buf src;
		buf_init(&src);
		json_t *tj = json_object_get(c, "template"), *tf = json_object_get(c, "template_file");
		if (json_is_string(tj)) key = json_string_value(tj);
		else key = json_string_value(tf);
		struct cached *hit = NULL;
		for (size_t i = 0; i < n_cache; i++)
			if (!strcmp(cache[i].key, key)) hit = &cache[i];
		if (!hit) {
			struct err e = {{0}};
			struct cached cc = {.key = xstrdup(key)};
			if (json_is_string(tj)) buf_append(&src, json_string_value(tj), json_string_length(tj));
			else if (file_read_all(key, &src, &e)) cc.err = xstrdup(e.msg);
			if (!cc.err) {
				cc.t = jinja_template_create(src.data ? src.data : "", src.len, "template", &e);
				if (!cc.t) cc.err = xstrdup(e.msg);
			}
			if (n_cache == cap_cache) {
				cap_cache = cap_cache ? 2 * cap_cache : 16;
				cache = xrealloc(cache, cap_cache * sizeof *cache);
			}
			cache[n_cache++] = cc;
			hit = &cache[n_cache - 1];
		}
		buf_free(&src);
		json_t *res = json_object();
		if (hit->err) {
			json_object_set_new(res, "err", json_string(hit->err));
		} else {
			struct jinja_value *vars = jinja_from_json(json_object_get(c, "context"));
			if (!jinja_dict_get(vars, "tools")) jinja_dict_set_cstr(vars, "tools", jinja_none());
			struct buf out;
			buf_init(&out);
			struct err e = {{0}};
			if (jinja_template_render(hit->t, vars, &out, &e)) json_object_set_new(res, "err", json_string(e.msg));
			else json_object_set_new(res, "out", json_stringn(out.data ? out.data : "", out.len));
			buf_free(&out);
			jinja_unref(vars);
		}
		char *s = json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII);
		puts(s);
		free(s);
		json_decref(res);
		json_decref(c);
	}
	free(line);
	for (size_t i = 0; i < n_cache; i++) {
		free(cache[i].key);
		free(cache[i].err);
		jinja_template_destroy(cache[i].t);
	}
	free(cache);
	return 0;
}
