/* gsm8k.c — GSM8K data, prompts and answer extraction (gsm8k.h). The digit runs are found with
 * PCRE2 in UTF + UCP mode so that \d means what it means in Python's re on str (any Unicode
 * decimal digit); ast.literal_eval then only accepts ASCII runs without leading zeros. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "client/gsm8k.h"

#include <jansson.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int gsm8k_load(struct gsm8k *g, const char *path, struct err *e)
{
	memset(g, 0, sizeof *g);
	struct stat st;
	char *file = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) file = path_join(path, "test.jsonl");
	else file = xstrdup(path);
	struct buf b;
	buf_init(&b);
	if (file_read_all(file, &b, e)) {
		free(file);
		buf_free(&b);
		return -1;
	}
	int cap = 0, line_no = 0, rc = 0;
	char *p = b.data, *end = b.data + b.len;
	while (p < end && !rc) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line_no++;
		size_t k = 0;
		while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
		if (k < n) {
			json_error_t je;
			json_t *j = json_loadb(p, n, 0, &je);
			const char *q = json_string_value(json_object_get(j, "question"));
			const char *a = json_string_value(json_object_get(j, "answer"));
			if (!q || !a) rc = err_set(e, "%s:%d: expected {\"question\": str, \"answer\": str}%s%s", file, line_no,
			                           j ? "" : ": ", j ? "" : je.text);
			else {
				if (g->n == cap) cap = cap ? cap * 2 : 1024, g->items = xrealloc(g->items, cap * sizeof *g->items);
				g->items[g->n].question = xstrdup(q);
				g->items[g->n].answer = xstrdup(a);
				g->n++;
			}
			json_decref(j);
		}
		p += n + (nl ? 1 : 0);
	}
	if (!rc && g->n == 0) rc = err_set(e, "%s: no questions", file);
	free(file);
	buf_free(&b);
	if (rc) gsm8k_free(g);
	return rc;
}

void gsm8k_free(struct gsm8k *g)
{
	for (int i = 0; i < g->n; i++) free(g->items[i].question), free(g->items[i].answer);
	free(g->items);
	memset(g, 0, sizeof *g);
}

void gsm8k_example(const struct gsm8k *g, int i, bool include_answer, struct buf *out)
{
	buf_puts(out, "Question: ");
	buf_puts(out, g->items[i].question);
	buf_puts(out, "\nAnswer:");
	if (include_answer) {
		buf_putc(out, ' ');
		buf_puts(out, g->items[i].answer);
	}
}

void gsm8k_prompt(const struct gsm8k *g, int k, int i, struct buf *out)
{
	for (int s = 0; s < k && s < g->n; s++) {
		gsm8k_example(g, s, true, out);
		buf_puts(out, "\n\n");
	}
	gsm8k_example(g, i, false, out);
}

static pcre2_code *digits_re;
static pthread_once_t digits_once = PTHREAD_ONCE_INIT;
static void digits_compile(void)
{
	int ec;
	PCRE2_SIZE off;
	digits_re = pcre2_compile((PCRE2_SPTR) "\\d+", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &off, NULL);
	GLM_ASSERT(digits_re);
}

bool gsm8k_answer_value(const char *s, size_t n, char *out, size_t cap)
{
	GLM_ASSERT(cap >= 2);
	pthread_once(&digits_once, digits_compile);
	/* answer_str.replace(",", "") */
	char *t = xmalloc(n + 1);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != ',') t[m++] = s[i];
	t[m] = '\0';
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(digits_re, NULL);
	PCRE2_SIZE start = 0, last_b = 0, last_e = 0;
	bool found = false;
	uint32_t opts = 0;
	while (start <= m) {
		int rc = pcre2_match(digits_re, (PCRE2_SPTR)t, m, start, opts, md, NULL);
		if (rc < 0) break; /* no more matches (or invalid UTF-8, which a JSON string cannot hold) */
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		found = true, last_b = ov[0], last_e = ov[1];
		start = ov[1];
		opts = PCRE2_NO_UTF_CHECK;
	}
	pcre2_match_data_free(md);
	bool ok = false;
	if (found) {
		const char *d = t + last_b;
		size_t len = last_e - last_b;
		bool ascii = true, all_zero = true;
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)d[i] >= 0x80) ascii = false;
			if (d[i] != '0') all_zero = false;
		}
		if (!ascii) ok = false;               /* literal_eval: invalid character */
		else if (all_zero) ok = true, snprintf(out, cap, "0");
		else if (d[0] == '0') ok = false;     /* literal_eval: leading zeros are a SyntaxError */
		else if (len < cap) ok = true, memcpy(out, d, len), out[len] = '\0';
		else ok = true, snprintf(out, cap, "#"); /* longer than any gold answer: valid, never equal */
	}
	free(t);
	return ok;
}
