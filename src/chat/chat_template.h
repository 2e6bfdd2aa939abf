/* chat_template.h — a checkpoint's chat template: finding it (DIR/chat_template.jinja,
 * DIR/chat_template.json, `chat_template` in DIR/tokenizer_config.json, or an explicit file as
 * --chat-template gives), preprocessing OpenAI request messages the way SGLang does
 * (docs/serving.md §1.5) and rendering the prompt with the variables transformers'
 * apply_chat_template provides.
 * Owns the compiled template and the special-token variables read from tokenizer_config.json.
 * Does not own tokenization or any parsing of model output.
 * Thread rules: create once; render from any number of threads concurrently. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "base/base.h"
#include "chat/jinja.h"

struct chat_template;

/* override_path (nullable): a template file; if it does not exist but looks like template
 * text (contains "{{" or "{%"), it is used as the template itself (vLLM's --chat-template).
 * Otherwise the template comes from model_dir as described above. */
struct chat_template *chat_template_create(const char *model_dir, const char *override_path, struct err *e);
/* A template from source text (tests, embedded defaults). name appears in error messages. */
struct chat_template *chat_template_create_from_source(const char *source, size_t len, const char *name,
                                                       struct err *e);
void chat_template_destroy(struct chat_template *t);
/* Where the template came from (a path, or "tokenizer_config.json:chat_template[default]"...). */
const char *chat_template_origin(const struct chat_template *t);
const char *chat_template_source(const struct chat_template *t);

/* Renders with messages (a list), tools (a list, or NULL for Python None), add_generation_prompt
 * and every key of kwargs (a dict, nullable) as top-level variables; special tokens from
 * tokenizer_config.json (bos_token, eos_token, ...) are variables too, overridable by kwargs.
 * kwargs cannot override messages / tools / add_generation_prompt (ignored, as vLLM does).
 * Appends the prompt to out. */
int chat_template_render(const struct chat_template *t, const struct jinja_value *messages,
                         const struct jinja_value *tools, bool add_generation_prompt,
                         const struct jinja_value *kwargs, struct buf *out, struct err *e);

/* SGLang-style preprocessing of request JSON (serving.md §1.5):
 *  - messages: keys whose value is null are dropped; string content stays a string;
 *    tool_calls[].function.arguments given as a JSON string is decoded; an assistant's
 *    `reasoning` is passed as `reasoning_content` (unless that is present).
 *  - tools: kept in the client's shape and key order; NULL (None) when absent/empty or when
 *    tool_choice is "none".
 * Errors name the offending path (messages[2].tool_calls[0].function.arguments). */
struct jinja_value *chat_messages_from_json(const json_t *messages, struct err *e);
/* *out = NULL means None. */
int chat_tools_from_json(const json_t *tools, const json_t *tool_choice, struct jinja_value **out, struct err *e);

/* Request parts (any may be NULL except messages) -> prompt. kwargs is chat_template_kwargs. */
int chat_template_render_json(const struct chat_template *t, const json_t *messages, const json_t *tools,
                              const json_t *tool_choice, const json_t *kwargs, bool add_generation_prompt,
                              struct buf *out, struct err *e);
