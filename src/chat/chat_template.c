/* chat_template.c — loading a checkpoint's chat template, SGLang-style message preprocessing
 * and the apply_chat_template variable set (see chat_template.h).
 * Does not own the Jinja engine (jinja_*.c). Thread rules: immutable after create. */
#include "chat/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_json.h"

struct chat_template {
	struct jinja_template *tpl;
	char *origin;
	struct jinja_value *specials; /* dict of special-token variables (immortal for sharing) */
};

/* ------------------------------------------------------------------ loading */

static struct chat_template *create_from(const char *src, size_t len, const char *origin, const char *name,
                                         struct err *e)
{
	struct jinja_template *tpl = jinja_template_create(src, len, name, e);
	if (!tpl) return NULL;
	struct chat_template *t = xcalloc(1, sizeof *t);
	t->tpl = tpl;
	t->origin = xstrdup(origin);
	t->specials = jinja_dict();
	return t;
}

struct chat_template *chat_template_create_from_source(const char *source, size_t len, const char *name,
                                                       struct err *e)
{
	return create_from(source, len, name ? name : "chat template", name ? name : "chat template", e);
}

/* tokenizer_config.json special tokens: a string, or an AddedToken object {"content": ...} */
static const char *token_text(const json_t *v)
{
	if (json_is_string(v)) return json_string_value(v);
	if (json_is_object(v) && json_is_string(json_object_get(v, "content")))
		return json_string_value(json_object_get(v, "content"));
	return NULL;
}

static void load_specials(struct chat_template *t, const json_t *cfg)
{
	static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
	                                   "pad_token", "cls_token", "mask_token"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *s = token_text(json_object_get(cfg, keys[i]));
		if (s) jinja_dict_set_cstr(t->specials, keys[i], jinja_cstring(s));
	}
	const json_t *add = json_object_get(cfg, "additional_special_tokens");
	if (json_is_array(add)) {
		struct jinja_value *l = jinja_list();
		size_t i;
		json_t *x;
		json_array_foreach(add, i, x)
		{
			const char *s = token_text(x);
			if (s) jinja_list_append(l, jinja_cstring(s));
		}
		jinja_dict_set_cstr(t->specials, "additional_special_tokens", l);
	}
}

static struct chat_template *from_tokenizer_config(const char *path, const json_t *cfg, struct err *e)
{
	const json_t *ct = json_object_get(cfg, "chat_template");
	char origin[1200];
	if (json_is_string(ct)) {
		snprintf(origin, sizeof origin, "%s:chat_template", path);
		return create_from(json_string_value(ct), json_string_length(ct), origin, origin, e);
	}
	if (json_is_array(ct)) {
		/* a list of {"name", "template"}; transformers uses "default" */
		size_t i;
		json_t *x;
		struct buf names;
		buf_init(&names);
		json_array_foreach(ct, i, x)
		{
			const json_t *nm = json_object_get(x, "name"), *tp = json_object_get(x, "template");
			if (!json_is_string(nm) || !json_is_string(tp)) {
				buf_free(&names);
				err_set(e, "%s: chat_template[%zu] is not a {\"name\", \"template\"} object", path, i);
				return NULL;
			}
			if (!strcmp(json_string_value(nm), "default")) {
				buf_free(&names);
				snprintf(origin, sizeof origin, "%s:chat_template[default]", path);
				return create_from(json_string_value(tp), json_string_length(tp), origin, origin, e);
			}
			buf_printf(&names, "%s'%s'", names.len ? ", " : "", json_string_value(nm));
		}
		err_set(e, "%s: chat_template has no \"default\" entry (named templates: %s); pass --chat-template", path,
		        names.data ? names.data : "none");
		buf_free(&names);
		return NULL;
	}
	if (ct && !json_is_null(ct)) {
		err_set(e, "%s: chat_template must be a string or a list of named templates", path);
		return NULL;
	}
	return NULL; /* absent */
}

struct chat_template *chat_template_create(const char *model_dir, const char *override_path, struct err *e)
{
	struct chat_template *t = NULL;
	struct buf src;
	buf_init(&src);
	json_t *cfg = NULL;
	char *cfg_path = model_dir ? path_join(model_dir, "tokenizer_config.json") : NULL;
	if (cfg_path && file_exists(cfg_path)) {
		json_error_t je;
		cfg = json_load_file(cfg_path, 0, &je);
		if (!cfg) {
			err_set(e, "%s:%d:%d: %s", cfg_path, je.line, je.column, je.text);
			goto out;
		}
		if (!json_is_object(cfg)) {
			err_set(e, "%s: not a JSON object", cfg_path);
			goto out;
		}
	}
	if (override_path) {
		if (file_exists(override_path)) {
			if (file_read_all(override_path, &src, e)) goto out;
			t = create_from(src.data ? src.data : "", src.len, override_path, override_path, e);
		} else if (strstr(override_path, "{{") || strstr(override_path, "{%")) {
			t = create_from(override_path, strlen(override_path), "--chat-template (inline)", "chat template", e);
		} else {
			err_set(e, "%s: chat template file not found", override_path);
		}
		goto out;
	}
	if (!model_dir) {
		err_set(e, "no model directory and no chat template given");
		goto out;
	}
	char *jinja_path = path_join(model_dir, "chat_template.jinja");
	if (file_exists(jinja_path)) {
		if (!file_read_all(jinja_path, &src, e)) t = create_from(src.data ? src.data : "", src.len, jinja_path, jinja_path, e);
		free(jinja_path);
		goto out;
	}
	free(jinja_path);
	char *json_path = path_join(model_dir, "chat_template.json");
	if (file_exists(json_path)) {
		json_error_t je;
		json_t *j = json_load_file(json_path, 0, &je);
		if (!j) {
			err_set(e, "%s:%d:%d: %s", json_path, je.line, je.column, je.text);
		} else {
			const json_t *ct = json_object_get(j, "chat_template");
			if (!json_is_string(ct)) err_set(e, "%s: no string \"chat_template\"", json_path);
			else t = create_from(json_string_value(ct), json_string_length(ct), json_path, json_path, e);
			json_decref(j);
		}
		free(json_path);
		goto out;
	}
	free(json_path);
	if (cfg) {
		t = from_tokenizer_config(cfg_path, cfg, e);
		const json_t *ct = json_object_get(cfg, "chat_template");
		if (!t && (!ct || json_is_null(ct))) /* absent or null: nothing to say about the key itself */
			err_set(e, "%s: no chat template (no chat_template.jinja, chat_template.json or tokenizer_config.json "
			           "\"chat_template\"); pass --chat-template",
			        model_dir);
		goto out;
	}
	err_set(e, "%s: no chat template (no chat_template.jinja, chat_template.json or tokenizer_config.json); pass "
	           "--chat-template",
	        model_dir);
out:
	if (t && cfg) load_specials(t, cfg);
	if (cfg) json_decref(cfg);
	free(cfg_path);
	buf_free(&src);
	return t;
}

void chat_template_destroy(struct chat_template *t)
{
	if (!t) return;
	jinja_template_destroy(t->tpl);
	jinja_unref(t->specials);
	free(t->origin);
	free(t);
}

const char *chat_template_origin(const struct chat_template *t) { return t->origin; }
const char *chat_template_source(const struct chat_template *t) { return jinja_template_source(t->tpl); }

/* ------------------------------------------------------------------ rendering */

int chat_template_render(const struct chat_template *t, const struct jinja_value *messages,
                         const struct jinja_value *tools, bool add_generation_prompt,
                         const struct jinja_value *kwargs, struct buf *out, struct err *e)
{
	if (kwargs && jinja_type_of(kwargs) != JINJA_TYPE_DICT) return err_set(e, "chat_template_kwargs must be an object");
	struct jinja_value *vars = jinja_dict();
	/* transformers: special tokens, then the caller's kwargs, then the fixed variables */
	for (size_t i = 0; i < jinja_len(t->specials); i++) {
		struct jinja_value *k, *v;
		jinja_dict_entry(t->specials, i, &k, &v);
		size_t kl;
		const char *ks = jinja_string_data(k, &kl);
		jinja_dict_set(vars, ks, kl, jinja_ref(v));
	}
	int rc = 0;
	if (kwargs)
		for (size_t i = 0; i < jinja_len(kwargs) && !rc; i++) {
			struct jinja_value *k, *v;
			jinja_dict_entry(kwargs, i, &k, &v);
			size_t kl;
			const char *ks = jinja_string_data(k, &kl);
			if (!ks) {
				rc = err_set(e, "chat_template_kwargs keys must be strings");
				break;
			}
			/* the fixed variables set below win over kwargs of the same name (as in vLLM) */
			jinja_dict_set(vars, ks, kl, jinja_ref(v));
		}
	if (!rc) {
		jinja_dict_set_cstr(vars, "messages", jinja_ref((struct jinja_value *)messages));
		jinja_dict_set_cstr(vars, "tools", tools ? jinja_ref((struct jinja_value *)tools) : jinja_none());
		jinja_dict_set_cstr(vars, "add_generation_prompt", jinja_bool(add_generation_prompt));
		rc = jinja_template_render(t->tpl, vars, out, e);
	}
	jinja_unref(vars);
	return rc;
}

/* ------------------------------------------------------------------ preprocessing */

static int decode_arguments(json_t *fn, size_t mi, size_t ti, struct err *e)
{
	json_t *args = json_object_get(fn, "arguments");
	if (!json_is_string(args)) return 0;
	json_error_t je;
	json_t *dec = json_loadb(json_string_value(args), json_string_length(args), JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!dec)
		return err_set(e, "messages[%zu].tool_calls[%zu].function.arguments is not valid JSON: %s (at %d)", mi, ti,
		               je.text, je.position);
	json_object_set_new(fn, "arguments", dec);
	return 0;
}

/* drops null-valued keys (recursively through message-level objects only, as pydantic
 * exclude_none does for the message model) */
static json_t *drop_nulls(const json_t *o)
{
	json_t *r = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		if (json_is_null(v)) continue;
		json_object_set(r, k, v);
	}
	return r;
}

struct jinja_value *chat_messages_from_json(const json_t *messages, struct err *e)
{
	if (!json_is_array(messages)) {
		err_set(e, "messages must be an array");
		return NULL;
	}
	struct jinja_value *list = jinja_list();
	size_t i;
	json_t *m;
	json_array_foreach(messages, i, m)
	{
		if (!json_is_object(m)) {
			err_set(e, "messages[%zu] must be an object", i);
			goto fail;
		}
		json_t *c = drop_nulls(m);
		const json_t *role = json_object_get(c, "role");
		if (!json_is_string(role)) {
			json_decref(c);
			err_set(e, "messages[%zu].role must be a string", i);
			goto fail;
		}
		bool assistant = !strcmp(json_string_value(role), "assistant");
		json_t *tcs = json_object_get(c, "tool_calls");
		if (tcs) {
			if (!json_is_array(tcs)) {
				json_decref(c);
				err_set(e, "messages[%zu].tool_calls must be an array", i);
				goto fail;
			}
			json_t *tcs2 = json_array();
			size_t ti;
			json_t *tc;
			int rc = 0;
			json_array_foreach(tcs, ti, tc)
			{
				if (!json_is_object(tc)) {
					rc = err_set(e, "messages[%zu].tool_calls[%zu] must be an object", i, ti);
					break;
				}
				json_t *tc2 = drop_nulls(tc);
				json_t *fn = json_object_get(tc2, "function");
				if (json_is_object(fn)) {
					json_t *fn2 = drop_nulls(fn);
					rc = decode_arguments(fn2, i, ti, e);
					json_object_set_new(tc2, "function", fn2);
				}
				json_array_append_new(tcs2, tc2);
				if (rc) break;
			}
			if (rc) {
				json_decref(tcs2);
				json_decref(c);
				goto fail;
			}
			json_object_set_new(c, "tool_calls", tcs2);
		}
		if (assistant) {
			json_t *reasoning = json_object_get(c, "reasoning");
			if (reasoning) {
				if (!json_object_get(c, "reasoning_content")) {
					/* keep the key's position: rebuild with the alias renamed */
					json_t *c2 = json_object();
					const char *k;
					json_t *v;
					json_object_foreach(c, k, v) json_object_set(c2, strcmp(k, "reasoning") ? k : "reasoning_content", v);
					json_decref(c);
					c = c2;
				} else {
					json_object_del(c, "reasoning");
				}
			}
		}
		jinja_list_append(list, jinja_from_json(c));
		json_decref(c);
	}
	return list;
fail:
	jinja_unref(list);
	return NULL;
}

int chat_tools_from_json(const json_t *tools, const json_t *tool_choice, struct jinja_value **out, struct err *e)
{
	*out = NULL;
	if (!tools || json_is_null(tools)) return 0;
	if (!json_is_array(tools)) return err_set(e, "tools must be an array");
	size_t i;
	json_t *x;
	json_array_foreach(tools, i, x) if (!json_is_object(x)) return err_set(e, "tools[%zu] must be an object", i);
	if (json_is_string(tool_choice) && !strcmp(json_string_value(tool_choice), "none")) return 0;
	if (!json_array_size(tools)) return 0;
	*out = jinja_from_json(tools);
	return 0;
}

int chat_template_render_json(const struct chat_template *t, const json_t *messages, const json_t *tools,
                              const json_t *tool_choice, const json_t *kwargs, bool add_generation_prompt,
                              struct buf *out, struct err *e)
{
	if (kwargs && !json_is_null(kwargs) && !json_is_object(kwargs)) return err_set(e, "chat_template_kwargs must be an object");
	struct jinja_value *msgs = chat_messages_from_json(messages, e);
	if (!msgs) return -1;
	struct jinja_value *tl = NULL;
	if (chat_tools_from_json(tools, tool_choice, &tl, e)) {
		jinja_unref(msgs);
		return -1;
	}
	struct jinja_value *kw = kwargs && json_is_object(kwargs) ? jinja_from_json(kwargs) : NULL;
	int rc = chat_template_render(t, msgs, tl, add_generation_prompt, kw, out, e);
	jinja_unref(msgs);
	if (tl) jinja_unref(tl);
	if (kw) jinja_unref(kw);
	return rc;
}
