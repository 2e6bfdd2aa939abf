/* jinja_json.c — jansson <-> template values (see jinja_json.h). Owns nothing else.
 * Thread rules: pure functions. */
#include <string.h>

#include "chat/jinja_json.h"

#include "chat/jinja_internal.h"

struct jinja_value *jinja_from_json(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		struct jinja_value *d = jinja_dict();
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) jv_dict_set_str(d, k, strlen(k), jinja_from_json(v));
		return d;
	}
	case JSON_ARRAY: {
		struct jinja_value *l = jv_list_new(JV_SEQ_LIST, json_array_size(j));
		for (size_t i = 0; i < json_array_size(j); i++) jv_list_push(l, jinja_from_json(json_array_get(j, i)));
		return l;
	}
	case JSON_STRING: return jv_str(json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return jinja_int((int64_t)json_integer_value(j));
	case JSON_REAL: return jinja_float(json_real_value(j));
	case JSON_TRUE: return jinja_bool(true);
	case JSON_FALSE: return jinja_bool(false);
	default: return jinja_none();
	}
}

json_t *jinja_to_json(const struct jinja_value *v, struct err *e)
{
	switch (v->type) {
	case JINJA_TYPE_NONE: return json_null();
	case JINJA_TYPE_BOOL: return json_boolean(v->u.b);
	case JINJA_TYPE_INT: return json_integer(v->u.i);
	case JINJA_TYPE_FLOAT: return json_real(v->u.f);
	case JINJA_TYPE_STRING: return json_stringn(v->u.s.p, v->u.s.len);
	case JINJA_TYPE_LIST: {
		if (v->seq != JV_SEQ_LIST && v->seq != JV_SEQ_TUPLE) break;
		json_t *a = json_array();
		for (size_t i = 0; i < v->u.l.len; i++) {
			json_t *x = jinja_to_json(v->u.l.v[i], e);
			if (!x) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, x);
		}
		return a;
	}
	case JINJA_TYPE_DICT: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->u.d.len; i++) {
			const struct jinja_value *k = v->u.d.e[i].k;
			if (k->type != JINJA_TYPE_STRING || memchr(k->u.s.p, 0, k->u.s.len)) {
				json_decref(o);
				err_set(e, "cannot convert a dict key of type %s to JSON", jv_type_name(k));
				return NULL;
			}
			json_t *x = jinja_to_json(v->u.d.e[i].v, e);
			if (!x) {
				json_decref(o);
				return NULL;
			}
			json_object_set_new(o, k->u.s.p, x);
		}
		return o;
	}
	default: break;
	}
	err_set(e, "cannot convert a %s to JSON", jv_type_name(v));
	return NULL;
}
