/* cli_tokenize.c — `glm tokenize`: stdin text -> token ids as a JSON array, or with --decode a
 * JSON id array -> the decoded text as a JSON string. An inspection tool and the CLI face of
 * the tokenizer tests. JSON is parsed/printed here, at the edge, with jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tokenizer/tokenizer.h"

static const char tokenize_help[] =
	"usage: glm tokenize (--model DIR | --tokenizer FILE) [--decode [--skip-special]] < input\n"
	"  --model DIR        checkpoint directory holding tokenizer.json\n"
	"  --tokenizer FILE   a tokenizer.json file (instead of --model)\n"
	"  --decode           read a JSON array of ids, print the decoded text as a JSON string\n"
	"  --skip-special     with --decode: drop special tokens (skip_special_tokens=true)\n"
	"Without --decode the whole of stdin is encoded (special tokens written in the text are\n"
	"matched, no BOS is added) and the ids are printed as a JSON array on one line.\n";

static int read_stdin(struct buf *b)
{
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0) buf_append(b, tmp, n);
	if (!b->data) buf_reserve(b, 0), b->data[0] = '\0';
	return ferror(stdin) ? -1 : 0;
}

static int decode_ids(const struct tokenizer *t, const struct buf *in, bool skip)
{
	json_error_t je;
	json_t *arr = json_loadb(in->data, in->len, JSON_DECODE_ANY, &je);
	if (!arr || !json_is_array(arr)) {
		fprintf(stderr, "glm tokenize: --decode expects a JSON array of ids on stdin%s%s\n", arr ? "" : ": ",
		        arr ? "" : je.text);
		json_decref(arr);
		return 1;
	}
	size_t n = json_array_size(arr);
	int32_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX) {
			fprintf(stderr, "glm tokenize: --decode: element %zu is not an integer id\n", i);
			free(ids);
			json_decref(arr);
			return 1;
		}
		ids[i] = (int32_t)json_integer_value(v);
	}
	json_decref(arr);
	struct buf out;
	buf_init(&out);
	tokenizer_decode(t, ids, n, skip, &out);
	free(ids);
	json_t *s = json_stringn(out.data ? out.data : "", out.len); /* decode output is valid UTF-8 */
	char *js = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	buf_free(&out);
	if (!js) {
		fprintf(stderr, "glm tokenize: could not print the decoded text\n");
		return 1;
	}
	printf("%s\n", js);
	free(js);
	return 0;
}

int cli_tokenize(int argc, char **argv)
{
	const char *model = NULL, *tok_path = NULL;
	bool decode = false, skip = false;
	for (int i = 1; i < argc; i++) {
		if (cli_flag_value(argc, argv, &i, "--model", NULL, &model)) continue;
		if (cli_flag_value(argc, argv, &i, "--tokenizer", NULL, &tok_path)) continue;
		if (cli_flag(argv, i, "--decode")) decode = true;
		else if (cli_flag(argv, i, "--skip-special")) skip = true;
		else if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
			fputs(tokenize_help, stdout);
			return 0;
		} else cli_usage_error("tokenize", "unknown argument '%s' (see glm tokenize --help)", argv[i]);
	}
	if (!model && !tok_path) cli_usage_error("tokenize", "needs --model DIR or --tokenizer FILE");
	if (skip && !decode) cli_usage_error("tokenize", "--skip-special only applies with --decode");
	char *path = tok_path ? xstrdup(tok_path) : path_join(model, "tokenizer.json");
	struct err e;
	struct tokenizer *t = tokenizer_create(path, &e);
	free(path);
	if (!t) {
		fprintf(stderr, "glm tokenize: %s\n", e.msg);
		return 1;
	}
	struct buf in;
	buf_init(&in);
	int rc = 0;
	if (read_stdin(&in)) {
		fprintf(stderr, "glm tokenize: error reading stdin\n");
		rc = 1;
	} else if (decode) {
		rc = decode_ids(t, &in, skip);
	} else {
		int32_t *ids;
		size_t n;
		if (tokenizer_encode(t, in.data, in.len, &ids, &n, &e)) {
			fprintf(stderr, "glm tokenize: %s\n", e.msg);
			rc = 1;
		} else {
			struct buf out;
			buf_init(&out);
			buf_putc(&out, '[');
			for (size_t i = 0; i < n; i++) buf_printf(&out, i ? ",%d" : "%d", ids[i]);
			buf_puts(&out, "]\n");
			fwrite(out.data, 1, out.len, stdout);
			buf_free(&out);
			free(ids);
		}
	}
	buf_free(&in);
	tokenizer_destroy(t);
	return rc;
}
