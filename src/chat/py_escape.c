/* py_escape.c — see py_escape.h. */
#include "chat/py_escape.h"

enum py_escape py_escape_decode(const char *s, size_t n, size_t *i, struct buf *out, uint32_t *hex_cp)
{
	char c = s[(*i)++];
	*hex_cp = UINT32_MAX;
	switch (c) {
	case '\n': return PY_ESCAPE_OK;
	case '\\': buf_putc(out, '\\'); return PY_ESCAPE_OK;
	case '\'': buf_putc(out, '\''); return PY_ESCAPE_OK;
	case '"': buf_putc(out, '"'); return PY_ESCAPE_OK;
	case 'a': buf_putc(out, '\a'); return PY_ESCAPE_OK;
	case 'b': buf_putc(out, '\b'); return PY_ESCAPE_OK;
	case 'f': buf_putc(out, '\f'); return PY_ESCAPE_OK;
	case 'n': buf_putc(out, '\n'); return PY_ESCAPE_OK;
	case 'r': buf_putc(out, '\r'); return PY_ESCAPE_OK;
	case 't': buf_putc(out, '\t'); return PY_ESCAPE_OK;
	case 'v': buf_putc(out, '\v'); return PY_ESCAPE_OK;
	case 'x':
	case 'u':
	case 'U': {
		int want = c == 'x' ? 2 : c == 'u' ? 4 : 8;
		uint32_t v = 0;
		for (int d = 0; d < want; d++) {
			int h = *i < n ? hex_digit_value((unsigned char)s[*i]) : -1;
			if (h < 0) return PY_ESCAPE_TRUNCATED;
			v = v * 16 + (uint32_t)h;
			(*i)++;
		}
		if (v > 0x10FFFF) return PY_ESCAPE_RANGE;
		*hex_cp = v;
		buf_put_utf8(out, v);
		return PY_ESCAPE_OK;
	}
	case 'N': return PY_ESCAPE_NAMED;
	default:
		if (c >= '0' && c <= '7') {
			uint32_t v = (uint32_t)(c - '0');
			for (int d = 0; d < 2 && *i < n && s[*i] >= '0' && s[*i] <= '7'; d++) v = v * 8 + (uint32_t)(s[(*i)++] - '0');
			buf_put_utf8(out, v);
		} else {
			buf_putc(out, '\\');
			buf_putc(out, c);
		}
		return PY_ESCAPE_OK;
	}
}
