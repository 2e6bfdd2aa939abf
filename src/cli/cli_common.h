/* cli_common.h — flags shared by the subcommands that run a model (run, bench, serve):
 * engine/backend selection and sampling. */
#pragma once
#include <stdbool.h>

#include "engine/engine.h"
#include "engine/sampler.h"

/* Consumes argv[*i] if it is an engine flag (--threads, --backend, --isa, --bf16-activations,
 * --max-model-len, --kv-tokens, --block-size, --max-batch-tokens). */
bool cli_engine_flag(int argc, char **argv, int *i, struct engine_config *c);
/* Consumes argv[*i] if it is a sampling flag (--temperature, --top-k, --top-p, --min-p,
 * --repetition-penalty, --presence-penalty, --frequency-penalty, --seed, -n/--max-tokens,
 * --ignore-eos). */
bool cli_sampling_flag(int argc, char **argv, int *i, struct sampling_params *p);
extern const char cli_engine_help[], cli_sampling_help[];
/* Parses a byte size ("8GiB", "512MiB", "2e9"); exits naming the flag on bad input. */
int64_t cli_parse_bytes(const char *flag, const char *s);
/* Parses "1,2,3" into a malloc'd array; exits with a message naming the flag on bad input. */
int32_t *cli_parse_ids(const char *flag, const char *s, int *n);
