/* fuzz_tokenizer_config.c — fuzz target for how a checkpoint's chat template is found and loaded
 * (src/chat/chat_template.c chat_template_create): tokenizer_config.json (chat_template as a
 * string or a list of named templates, special tokens as strings or AddedToken objects) and
 * chat_template.json. The input is written to a private temporary directory as
 * tokenizer_config.json; after a NUL byte, the rest (if any) becomes chat_template.json.
 * Invariants: a failure has a message; a loaded template has an origin and renders a fixed
 * conversation to valid UTF-8 or fails with a message.
 * Thread rules: single-threaded (one temporary directory per process). */
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "chat/chat_template.h"
#include "fuzz.h"

const size_t fuzz_max_len = 8192;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_WHOLE;
const char *const fuzz_dict[] = {
	"\"chat_template\"", "\"name\"", "\"template\"", "\"default\"", "\"tool_use\"", "\"bos_token\"", "\"eos_token\"",
	"\"unk_token\"", "\"pad_token\"", "\"sep_token\"", "\"cls_token\"", "\"mask_token\"",
	"\"additional_special_tokens\"", "\"content\"", "\"<|endoftext|>\"", "\"{{ bos_token }}{{ messages[0].content }}\"",
	"\"{% for m in messages %}{{ m.role }}{% endfor %}\"", "\"{{ eos_token }}\"", "\"{{ additional_special_tokens }}\"",
	"\"{{ raise_exception('x') }}\"", "\"{%\"", "[{\"name\": \"default\", \"template\": \"x\"}]", "null", "[]", "{}", NULL,
};

static char *g_dir, *g_cfg, *g_json;
static struct jinja_value *g_messages;

static void cleanup(void)
{
	unlink(g_cfg);
	unlink(g_json);
	rmdir(g_dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
	                  : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
	                                                  : "/tmp";
	g_dir = path_join(tmp, "fuzz_tokenizer_config.XXXXXX");
	FUZZ_CHECK(mkdtemp(g_dir) != NULL, "mkdtemp %s failed", g_dir);
	g_cfg = path_join(g_dir, "tokenizer_config.json");
	g_json = path_join(g_dir, "chat_template.json");
	atexit(cleanup);
	json_t *m = json_loads("[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"hi é\"}, "
	                       "{\"role\": \"assistant\", \"content\": \"<think>r</think>a\"}]",
	                       0, NULL);
	struct err e = {{0}};
	g_messages = chat_messages_from_json(m, &e);
	FUZZ_CHECK(g_messages != NULL, "fixed messages: %s", e.msg);
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_dir) setup();
	struct err e = {{0}};
	const char *nul = memchr(data, 0, size);
	size_t n1 = nul ? (size_t)(nul - (const char *)data) : size;
	FUZZ_CHECK(!file_write_all(g_cfg, data, n1, &e), "%s", e.msg);
	unlink(g_json);
	if (nul) FUZZ_CHECK(!file_write_all(g_json, nul + 1, size - n1 - 1, &e), "%s", e.msg);
	struct chat_template *t = chat_template_create(g_dir, NULL, &e);
	if (!t) {
		FUZZ_CHECK(e.msg[0] != 0, "a failed load must say why");
		return -1;
	}
	FUZZ_CHECK(chat_template_origin(t) && chat_template_origin(t)[0], "a template without origin");
	struct buf out;
	buf_init(&out);
	struct err re = {{0}};
	if (chat_template_render(t, g_messages, NULL, true, NULL, &out, &re)) FUZZ_CHECK(re.msg[0] != 0, "a failed render must say why");
	else FUZZ_CHECK(fuzz_utf8_valid(out.data ? out.data : "", out.len), "the render is not valid UTF-8");
	buf_free(&out);
	chat_template_destroy(t);
	return 0;
}
