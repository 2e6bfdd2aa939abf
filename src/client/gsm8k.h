/* gsm8k.h — the pieces of SGLang's few-shot GSM8K smoke test (serving.md §6.1;
 * sglang python/sglang/test/few_shot_gsm8k.py): the test.jsonl items, the prompt (the first k test
 * items with their answers as shots, then "Question: <q>\nAnswer:"), and the answer extraction
 * (commas removed, the last run of digits, compared as an integer; none -> invalid).
 * Pure: no I/O beyond reading the data file. Thread rules: none. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct gsm8k_item {
	char *question;
	char *answer; /* the full worked answer ending "#### N" */
};

struct gsm8k {
	struct gsm8k_item *items;
	int n;
};

/* path: a test.jsonl file or a directory holding one. */
int gsm8k_load(struct gsm8k *g, const char *path, struct err *e);
void gsm8k_free(struct gsm8k *g);

/* "Question: " q "\nAnswer:" plus " " answer when include_answer; appended to out. */
void gsm8k_example(const struct gsm8k *g, int i, bool include_answer, struct buf *out);
/* The few-shot block (k examples, each followed by "\n\n") then question i. */
void gsm8k_prompt(const struct gsm8k *g, int k, int i, struct buf *out);

/* SGLang's get_answer_value: the last run of decimal digits (Unicode \d, as Python's re) in s[0..len) with
 * the commas removed. Writes its canonical decimal form to out (e.g. "72", "0") and returns true;
 * returns false for INVALID: no digits, or a run Python's ast.literal_eval rejects (leading
 * zeros such as "007", non-ASCII digits). Comparing the strings compares the integers. */
bool gsm8k_answer_value(const char *s, size_t len, char *out, size_t cap);
