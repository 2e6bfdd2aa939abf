/* py_escape.h — Python's backslash escapes in string literals: the part that the
 * unicode-escape codec (jinja2 decodes template literals with it) and Python source (tool-call
 * arguments written as Python literals) share. Each caller keeps what differs: its error
 * messages, \r line continuations (source only), surrogates (refused in templates). Pure. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum py_escape {
	PY_ESCAPE_OK,
	PY_ESCAPE_TRUNCATED, /* \x, \u or \U without its 2, 4 or 8 hex digits */
	PY_ESCAPE_RANGE,     /* \U above 0x10FFFF */
	PY_ESCAPE_NAMED,     /* \N{...}: not supported */
};

/* s[*i] (with *i < n) is the character after a backslash. Appends the escape's value to out as
 * UTF-8 and moves *i past the escape: \<newline> appends nothing, \a \b \f \n \r \t \v \\ \' \"
 * their character, \ooo (1-3 octal digits) and \xhh \uhhhh \Uhhhhhhhh their code point, and any
 * other character keeps the backslash. *hex_cp receives the code point of a \x, \u or \U escape
 * (so a caller can refuse surrogates), UINT32_MAX for the others. */
enum py_escape py_escape_decode(const char *s, size_t n, size_t *i, struct buf *out, uint32_t *hex_cp);
