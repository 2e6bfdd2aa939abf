/* jinja_json.h — the JSON edge of the template renderer: jansson values -> template values.
 * JSON integers stay ints, reals stay floats (so 1.0 prints as 1.0 and 1e20 as 1e+20, as in
 * Python), object key order is kept. The renderer itself never sees JSON.
 * Thread rules: pure functions. */
#pragma once
#include <jansson.h>

#include "chat/jinja.h"

/* New reference; never fails (jansson values are always representable). */
struct jinja_value *jinja_from_json(const json_t *j);
/* Template value -> new jansson value (dict keys must be strings; tuples become arrays).
 * NULL with e filled for values JSON cannot hold (undefined, macros, non-string keys...). */
json_t *jinja_to_json(const struct jinja_value *v, struct err *e);
