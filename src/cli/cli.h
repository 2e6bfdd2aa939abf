/* cli.h — the subcommands of the `glm` binary (one file each) and small flag helpers.
 * The CLI is an edge layer: it may use everything below it. */
#pragma once
#include <stdbool.h>

int cli_run(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_synth(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_template(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_bench_serve(int argc, char **argv);
int cli_eval(int argc, char **argv);

/* Flag parsing shared by all subcommands. argv[*i] is the current argument.
 * cli_flag_value matches "--name VALUE" and "--name=VALUE" (and the optional alias, e.g. "-n");
 * on a match it stores the value, advances *i past it and returns true. A missing value is a
 * fatal usage error (exits with a message naming the flag). */
bool cli_flag_value(int argc, char **argv, int *i, const char *name, const char *alias, const char **value);
/* Matches a boolean flag "--name" exactly. */
bool cli_flag(char **argv, int i, const char *name);
/* Parses numbers or exits naming the flag. */
long cli_parse_long(const char *flag, const char *s);
double cli_parse_double(const char *flag, const char *s);
_Noreturn void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
