/* pyprobe.c — runs the tool_json codecs and the argument typing over records read from stdin,
 * for pyref_check.py to compare with CPython's json, ast and the reference typing chain.
 * Record in: "<op> <n>\n" + n bytes + "\n"; ops: loads, lit, type:<type name>.
 * Record out: "<n>\n" + n bytes + "\n"; "ERR" (as the bytes) where the codec fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tool_json.h"
#include "chat/tool_parser.h"

int main(void)
{
	char op[64];
	size_t n;
	struct buf out;
	buf_init(&out);
	while (scanf("%63s %zu", op, &n) == 2) {
		getchar();
		char *s = xmalloc(n + 1);
		if (fread(s, 1, n, stdin) != n) return 1;
		s[n] = 0;
		getchar();
		buf_clear(&out);
		struct tool_json *v = NULL;
		if (strcmp(op, "loads") == 0 || strcmp(op, "lit") == 0) {
			v = op[0] == 'l' && op[1] == 'o' ? tool_json_loads(s, n) : tool_json_literal_eval(s, n);
			if (v) tool_json_dumps(v, &out);
			else buf_puts(&out, "ERR");
			tool_json_free(v);
		} else if (strncmp(op, "type:", 5) == 0) {
			enum tool_arg_type t = TOOL_ARG_TYPE_UNKNOWN;
			for (int k = 0; k <= TOOL_ARG_TYPE_OTHER; k++)
				if (strcmp(tool_arg_type_name((enum tool_arg_type)k), op + 5) == 0) t = (enum tool_arg_type)k;
			tool_arg_to_json(s, n, t, &out);
		} else {
			return 2;
		}
		printf("%zu\n", out.len);
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		printf("\n");
		free(s);
	}
	buf_free(&out);
	return 0;
}
