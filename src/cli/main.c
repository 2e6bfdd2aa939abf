/* main.c — dispatches `glm <command>` to its subcommand. The only place that calls exit(). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli/cli.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	/* one line per subcommand; each lives in cli/cli_<name>.c */
	{"run", cli_run, "generate from a prompt (--model DIR --prompt TEXT | --prompt-ids 1,2,3)"},
	{"info", cli_info, "describe a checkpoint (--model DIR)"},
	{"synth", cli_synth, "write a checkpoint shaped like a real GLM model (--like glm-4.5-air --out DIR)"},
	{"bench", cli_bench, "benchmarks: `glm bench model --model DIR`, `glm bench serve --base-url URL`"},
	{"tokenize", cli_tokenize, "stdin text -> token ids JSON (--model DIR [--decode] [--skip-special])"},
	{"template", cli_template, "render the chat template (--model DIR --messages FILE [--tools FILE] [--kwargs JSON] [--ids])"},
	{"serve", cli_serve, "OpenAI-compatible HTTP server (--model DIR; no --model: the demo checkpoint)"},
	{"eval", cli_eval, "accuracy evals against an OpenAI-compatible server (gsm8k)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: glm <command> [flags]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`glm <command> --help` describes a command's flags.\n");
}

bool cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

bool cli_flag_value(int argc, char **argv, int *i, const char *name, const char *alias, const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*value = a + n + 1;
		return true;
	}
	if (strcmp(a, name) != 0 && !(alias && strcmp(a, alias) == 0)) return false;
	if (*i + 1 >= argc) {
		fprintf(stderr, "glm: flag %s needs a value\n", a);
		exit(2);
	}
	*value = argv[++*i];
	return true;
}

long cli_parse_long(const char *flag, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end) {
		fprintf(stderr, "glm: %s expects an integer, got '%s'\n", flag, s);
		exit(2);
	}
	return v;
}

double cli_parse_double(const char *flag, const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end) {
		fprintf(stderr, "glm: %s expects a number, got '%s'\n", flag, s);
		exit(2);
	}
	return v;
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "glm %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "glm: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
