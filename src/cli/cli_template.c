/* cli_template.c — `glm template`: renders a checkpoint's chat template for a conversation and
 * prints exactly the prompt (nothing appended), or with --ids its token ids as a JSON array, so
 * the prompt the server would build can be inspected and diffed against transformers.
 * Owns only flag handling and printing; rendering is chat/chat_template.h, tokenizing
 * tokenizer/tokenizer.h. Thread rules: single-threaded. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "chat/chat_template.h"
#include "cli/cli.h"
#include "tokenizer/tokenizer.h"

static const char template_help[] =
	"usage: glm template --model DIR --messages FILE [flags]\n"
	"Prints the prompt the checkpoint's chat template renders (as transformers' apply_chat_template).\n"
	"  --model DIR             checkpoint directory (chat_template.jinja / tokenizer_config.json)\n"
	"  --messages FILE         JSON: a list of OpenAI messages, or a request object with \"messages\"\n"
	"                          (and optionally \"tools\", \"tool_choice\", \"chat_template_kwargs\",\n"
	"                          \"add_generation_prompt\"); - reads stdin\n"
	"  --tools FILE            JSON list of tools ({\"type\": \"function\", \"function\": {...}})\n"
	"  --kwargs JSON           chat_template_kwargs, e.g. '{\"enable_thinking\": false}' (or @FILE)\n"
	"  --chat-template FILE    use this template instead of the checkpoint's\n"
	"  --no-generation-prompt  add_generation_prompt=false (default true)\n"
	"  --ids                   print the token ids (tokenizer.json of --model) as a JSON array\n";

static json_t *load_json(const char *what, const char *path)
{
	struct buf b;
	buf_init(&b);
	struct err e;
	if (!strcmp(path, "-")) {
		char tmp[65536];
		size_t n;
		while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0) buf_append(&b, tmp, n);
	} else if (file_read_all(path, &b, &e)) {
		fprintf(stderr, "glm template: %s: %s\n", what, e.msg);
		buf_free(&b);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j) fprintf(stderr, "glm template: %s %s:%d:%d: %s\n", what, path, je.line, je.column, je.text);
	buf_free(&b);
	return j;
}

int cli_template(int argc, char **argv)
{
	const char *model = NULL, *messages_path = NULL, *tools_path = NULL, *kwargs_s = NULL, *tpl_path = NULL;
	bool gen = true, gen_flag = false, ids = false;
	for (int i = 1; i < argc; i++) {
		if (cli_flag_value(argc, argv, &i, "--model", NULL, &model)) continue;
		if (cli_flag_value(argc, argv, &i, "--messages", NULL, &messages_path)) continue;
		if (cli_flag_value(argc, argv, &i, "--tools", NULL, &tools_path)) continue;
		if (cli_flag_value(argc, argv, &i, "--kwargs", NULL, &kwargs_s)) continue;
		if (cli_flag_value(argc, argv, &i, "--chat-template", NULL, &tpl_path)) continue;
		if (cli_flag(argv, i, "--no-generation-prompt")) {
			gen = false;
			gen_flag = true;
		} else if (cli_flag(argv, i, "--ids")) {
			ids = true;
		} else if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
			fputs(template_help, stdout);
			return 0;
		} else {
			cli_usage_error("template", "unknown argument '%s' (see glm template --help)", argv[i]);
		}
	}
	if (!messages_path) cli_usage_error("template", "needs --messages FILE");
	if (!model && !tpl_path) cli_usage_error("template", "needs --model DIR (or --chat-template FILE)");
	if (ids && !model) cli_usage_error("template", "--ids needs --model DIR (for tokenizer.json)");

	int rc = 1;
	json_t *req = NULL, *tools_file = NULL, *kwargs = NULL;
	struct chat_template *t = NULL;
	struct tokenizer *tok = NULL;
	struct buf out;
	buf_init(&out);
	struct err e;

	if (!(req = load_json("--messages", messages_path))) goto done;
	json_t *messages = req, *tools = NULL, *tool_choice = NULL, *req_kwargs = NULL;
	if (json_is_object(req)) { /* a whole chat request */
		messages = json_object_get(req, "messages");
		tools = json_object_get(req, "tools");
		tool_choice = json_object_get(req, "tool_choice");
		req_kwargs = json_object_get(req, "chat_template_kwargs");
		json_t *agp = json_object_get(req, "add_generation_prompt");
		if (json_is_boolean(agp) && !gen_flag) gen = json_is_true(agp);
		if (!messages) {
			fprintf(stderr, "glm template: %s: an object needs a \"messages\" list\n", messages_path);
			goto done;
		}
	}
	if (tools_path) {
		if (!(tools_file = load_json("--tools", tools_path))) goto done;
		tools = tools_file;
	}
	if (kwargs_s) {
		json_error_t je;
		if (kwargs_s[0] == '@') {
			kwargs = load_json("--kwargs", kwargs_s + 1);
			if (!kwargs) goto done;
		} else if (!(kwargs = json_loads(kwargs_s, JSON_DECODE_ANY, &je))) {
			fprintf(stderr, "glm template: --kwargs is not JSON: %s\n", je.text);
			goto done;
		}
		if (!json_is_object(kwargs)) {
			fprintf(stderr, "glm template: --kwargs must be a JSON object\n");
			goto done;
		}
		req_kwargs = kwargs;
	}

	if (!(t = chat_template_create(model, tpl_path, &e))) {
		fprintf(stderr, "glm template: %s\n", e.msg);
		goto done;
	}
	if (chat_template_render_json(t, messages, tools, tool_choice, req_kwargs, gen, &out, &e)) {
		fprintf(stderr, "glm template: %s\n", e.msg);
		goto done;
	}
	if (!ids) {
		if (out.len) fwrite(out.data, 1, out.len, stdout);
		rc = 0;
		goto done;
	}
	char *tp = path_join(model, "tokenizer.json");
	tok = tokenizer_create(tp, &e);
	free(tp);
	if (!tok) {
		fprintf(stderr, "glm template: %s\n", e.msg);
		goto done;
	}
	int32_t *v;
	size_t n;
	if (tokenizer_encode(tok, out.data ? out.data : "", out.len, &v, &n, &e)) {
		fprintf(stderr, "glm template: %s\n", e.msg);
		goto done;
	}
	struct buf o;
	buf_init(&o);
	buf_putc(&o, '[');
	for (size_t i = 0; i < n; i++) buf_printf(&o, i ? ",%d" : "%d", v[i]);
	buf_puts(&o, "]\n");
	fwrite(o.data, 1, o.len, stdout);
	buf_free(&o);
	free(v);
	rc = 0;
done:
	buf_free(&out);
	chat_template_destroy(t);
	if (tok) tokenizer_destroy(tok);
	json_decref(req);
	json_decref(tools_file);
	json_decref(kwargs);
	return rc;
}
