/* cli_serve.c — `glm serve`: loads a checkpoint (or creates the built-in demo one), starts the
 * engine thread (scheduler) and the HTTP server, and runs until SIGINT/SIGTERM. Flags take
 * vLLM's names (and SGLang's spellings as aliases) where the concept is the same.
 * Shutdown: the first signal stops accepting connections and lets in-flight requests finish for
 * up to --shutdown-timeout seconds; then (or at a second signal) they are aborted (streams end
 * with finish_reason "abort" and [DONE]); then the server, the scheduler and the model are torn
 * down and the process exits 0.
 * Thread rules: SIGINT/SIGTERM are blocked in the threads this command starts (engine, HTTP);
 * a handler turns them into a byte on a pipe that the main thread polls (a handler rather than
 * sigwait, because threads started before main — a sanitizer's, say — would otherwise take the
 * signal with its default action). */
#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "server/api.h"
#include "server/metrics.h"
#include "chat/chat_template.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

#define MAX_NAMES 16
#define MAX_KEYS 16

static void usage(void)
{
	printf("usage: glm serve [--model DIR] [flags]     (OpenAI-compatible HTTP server)\n"
	       "  --model, --model-path DIR   Hugging Face checkpoint directory (also accepted as the first\n"
	       "                         argument). Without it, the built-in demo checkpoint (RANDOM weights)\n"
	       "                         is created once in $GLM_DEMO_DIR or ${XDG_CACHE_HOME:-~/.cache}/glm/demo\n"
	       "  --host ADDR            bind address (default 127.0.0.1; 0.0.0.0 for all interfaces)\n"
	       "  --port N               port (default 8000; 0 = any free port, printed at start)\n"
	       "  --served-model-name NAME [NAME...]  names clients use as `model` (repeatable; default: the\n"
	       "                         model path as given, or glm-demo)\n"
	       "  --api-key KEY          require Authorization: Bearer KEY on every route but /health\n"
	       "                         (repeatable; also read from GLM_API_KEY)\n"
	       "  --reasoning-parser glm45  split <think> reasoning into reasoning_content\n"
	       "  --tool-call-parser glm45|glm47  parse tool calls (glm45: GLM-4.5/4.6, glm47: GLM-4.7/5)\n"
	       "  --enable-auto-tool-choice  let the model decide to call tools (tool_choice \"auto\")\n"
	       "  --chat-template FILE   Jinja chat template instead of the checkpoint's\n"
	       "  --tp-size, --tensor-parallel-size 1   accepted for compatibility (only 1)\n"
	       "  --max-num-seqs N       sequences in a running batch (default 64)\n"
	       "  --max-num-batched-tokens N  tokens per engine step (default: --max-batch-tokens)\n"
	       "  --max-queued-requests N  waiting requests at most; more get 503 (default 1024)\n"
	       "  --no-enable-prefix-caching  do not share KV blocks of identical prompt prefixes\n"
	       "  --max-request-bytes N  largest request body (default 33554432); larger get 413\n"
	       "  --max-connections N    simultaneous HTTP connections (default 1000)\n"
	       "  --shutdown-timeout S   on SIGINT/SIGTERM, let requests finish this long (default 5)\n"
	       "  --log-level debug|info|warn|error  (default info)\n"
	       "  --disable-log-requests  no access log lines\n"
	       "engine flags:\n%s",
	       cli_engine_help);
}

/* The demo checkpoint: written once by `glm synth` (this same binary) into a cache directory. */
static int demo_checkpoint(char *dir, size_t cap)
{
	const char *d = getenv("GLM_DEMO_DIR");
	if (d && *d) snprintf(dir, cap, "%s", d);
	else {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		if (xdg && *xdg) snprintf(dir, cap, "%s/glm/demo", xdg);
		else snprintf(dir, cap, "%s/.cache/glm/demo", home && *home ? home : "/tmp");
	}
	char cfg[4200];
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	if (file_exists(cfg)) return 0;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-%d", dir, (int)getpid());
	log_info("creating the demo checkpoint in %s (glm synth --like glm-4.5-air --tiny, random weights)", dir);
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* Ctrl-C still stops the synth */
		char *args[] = {"glm", "synth", "--like", "glm-4.5-air", "--tiny", "--out", tmp, NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_error("glm synth failed for the demo checkpoint (%s)", tmp);
		return -1;
	}
	char note[4300];
	snprintf(note, sizeof note, "%s/DEMO-RANDOM-WEIGHTS.txt", tmp);
	const char *txt = "This checkpoint was written by `glm synth --like glm-4.5-air --tiny` for `glm serve`'s demo mode.\n"
	                  "Its weights are random: every API feature works, but the generated text is gibberish.\n";
	struct err e = {{0}};
	if (file_write_all(note, txt, strlen(txt), &e)) log_warn("%s", e.msg);
	if (rename(tmp, dir) != 0 && !file_exists(cfg)) {
		log_error("cannot move %s to %s: %s", tmp, dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* True when the directory has no chat template anywhere chat_template_create would look. */
static bool checkpoint_lacks_template(const char *dir)
{
	static const char *const files[] = {"chat_template.jinja", "chat_template.json"};
	for (int i = 0; i < 2; i++) {
		char *p = path_join(dir, files[i]);
		bool there = file_exists(p);
		free(p);
		if (there) return false;
	}
	/* a "chat_template": null there is no template either (transformers treats it so) */
	char *p = path_join(dir, "tokenizer_config.json");
	bool there = file_exists(p);
	json_t *cfg = there ? json_load_file(p, 0, NULL) : NULL;
	const json_t *ct = json_object_get(cfg, "chat_template");
	bool has = there && (!cfg || (ct && !json_is_null(ct))); /* unreadable: let the loader say why */
	json_decref(cfg);
	free(p);
	return !has;
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(sig_pipe[1], &b, 1) < 0) {} /* a full pipe already holds a pending signal */
	errno = saved;
}

/* Waits up to timeout_ms (-1: forever) for SIGINT/SIGTERM; returns the signal or 0. */
static int wait_signal(int timeout_ms)
{
	struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0) return 0;
	unsigned char b = 0;
	return read(sig_pipe[0], &b, 1) == 1 ? b : 0;
}

static int parse_parser(const char *flag, const char *v, bool tool)
{
	if (!strcmp(v, "glm45") || (!tool && !strcmp(v, "glm47"))) return 1;
	if (tool && !strcmp(v, "glm47")) return 2;
	cli_usage_error("serve", "%s: unknown parser '%s' (%s)", flag, v, tool ? "glm45 or glm47" : "glm45");
}

int cli_serve(int argc, char **argv)
{
	const char *model_dir = NULL, *host = "127.0.0.1", *tmpl_file = NULL, *v;
	const char *names[MAX_NAMES], *keys[MAX_KEYS];
	int n_names = 0, n_keys = 0, port = 8000, reasoning = 0, tool = 0, max_conn = 1000;
	bool auto_tools = false, log_requests = true;
	long long max_body = 32LL << 20;
	double grace = 5.0;
	struct engine_config ec;
	engine_config_default(&ec);
	struct sched_config sc;
	sched_config_default(&sc);
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) return usage(), 0;
		else if (cli_flag_value(argc, argv, &i, "--model", "-m", &model_dir)) {}
		else if (cli_flag_value(argc, argv, &i, "--model-path", NULL, &model_dir)) {}
		else if (cli_flag_value(argc, argv, &i, "--host", NULL, &host)) {}
		else if (cli_flag_value(argc, argv, &i, "--port", NULL, &v)) {
			port = (int)cli_parse_long("--port", v);
			if (port < 0 || port > 65535) cli_usage_error("serve", "--port must be in 0..65535");
		} else if (cli_flag_value(argc, argv, &i, "--served-model-name", NULL, &v)) {
			/* vLLM takes several names after one flag */
			for (;;) {
				if (n_names == MAX_NAMES) cli_usage_error("serve", "at most %d served model names", MAX_NAMES);
				names[n_names++] = v;
				if (i + 1 < argc && argv[i + 1][0] != '-') v = argv[++i];
				else break;
			}
		} else if (cli_flag_value(argc, argv, &i, "--api-key", NULL, &v)) {
			if (n_keys == MAX_KEYS) cli_usage_error("serve", "at most %d API keys", MAX_KEYS);
			keys[n_keys++] = v;
		} else if (cli_flag_value(argc, argv, &i, "--reasoning-parser", NULL, &v)) reasoning = parse_parser("--reasoning-parser", v, false);
		else if (cli_flag_value(argc, argv, &i, "--tool-call-parser", NULL, &v)) tool = parse_parser("--tool-call-parser", v, true);
		else if (cli_flag(argv, i, "--enable-auto-tool-choice")) auto_tools = true;
		else if (cli_flag_value(argc, argv, &i, "--chat-template", NULL, &tmpl_file)) {}
		else if (cli_flag_value(argc, argv, &i, "--tp-size", NULL, &v) || cli_flag_value(argc, argv, &i, "--tensor-parallel-size", "-tp", &v)) {
			if (cli_parse_long("--tp-size", v) != 1) cli_usage_error("serve", "tensor parallelism is not supported: --tp-size must be 1");
		} else if (cli_flag_value(argc, argv, &i, "--max-num-seqs", NULL, &v)) sc.max_num_seqs = (int)cli_parse_long("--max-num-seqs", v);
		else if (cli_flag_value(argc, argv, &i, "--max-num-batched-tokens", NULL, &v))
			sc.max_num_batched_tokens = (int)cli_parse_long("--max-num-batched-tokens", v);
		else if (cli_flag_value(argc, argv, &i, "--max-queued-requests", "--max-waiting", &v)) sc.max_waiting = (int)cli_parse_long("--max-queued-requests", v);
		else if (cli_flag(argv, i, "--no-enable-prefix-caching")) sc.enable_prefix_caching = false;
		else if (cli_flag(argv, i, "--enable-prefix-caching")) sc.enable_prefix_caching = true;
		else if (cli_flag_value(argc, argv, &i, "--max-request-bytes", NULL, &v)) max_body = cli_parse_long("--max-request-bytes", v);
		else if (cli_flag_value(argc, argv, &i, "--max-connections", NULL, &v)) max_conn = (int)cli_parse_long("--max-connections", v);
		else if (cli_flag_value(argc, argv, &i, "--shutdown-timeout", NULL, &v)) grace = cli_parse_double("--shutdown-timeout", v);
		else if (cli_flag_value(argc, argv, &i, "--log-level", NULL, &v)) {
			if (!strcmp(v, "debug")) log_set_level(LOG_LEVEL_DEBUG);
			else if (!strcmp(v, "info")) log_set_level(LOG_LEVEL_INFO);
			else if (!strcmp(v, "warn") || !strcmp(v, "warning")) log_set_level(LOG_LEVEL_WARN);
			else if (!strcmp(v, "error")) log_set_level(LOG_LEVEL_ERROR);
			else cli_usage_error("serve", "--log-level must be debug, info, warn or error");
		} else if (cli_flag(argv, i, "--disable-log-requests") || cli_flag(argv, i, "--no-enable-log-requests")) log_requests = false;
		else if (cli_flag(argv, i, "--trust-remote-code")) {} /* vLLM habit; nothing remote here */
		else if (cli_engine_flag(argc, argv, &i, &ec)) {}
		else if (argv[i][0] != '-' && !model_dir) model_dir = argv[i]; /* `vllm serve MODEL` */
		else cli_usage_error("serve", "unknown flag '%s' (see glm serve --help)", argv[i]);
	}
	if (max_body <= 0) cli_usage_error("serve", "--max-request-bytes must be positive");
	/* the engine's per-forward capacity has to cover the scheduler's step budget */
	if (sc.max_num_batched_tokens > ec.max_batch_tokens) ec.max_batch_tokens = sc.max_num_batched_tokens;
	if (!n_keys && getenv("GLM_API_KEY") && *getenv("GLM_API_KEY")) keys[n_keys++] = getenv("GLM_API_KEY");

	/* signals: blocked in the threads started below (they inherit the mask), handled here */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "glm serve: pipe: %s\n", strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char demo_dir[4096];
	bool demo = false;
	if (!model_dir) {
		if (demo_checkpoint(demo_dir, sizeof demo_dir)) return 1;
		model_dir = demo_dir;
		demo = true;
		if (!n_names) names[n_names++] = "glm-demo";
	}
	if (!n_names) names[n_names++] = model_dir;

	struct err e = {{0}};
	struct model m;
	if (model_load(&m, model_dir, &e)) {
		fprintf(stderr, "glm serve: %s\n", e.msg);
		return 1;
	}
	char *tp = path_join(model_dir, "tokenizer.json");
	struct tokenizer *tok = tokenizer_create(tp, &e);
	free(tp);
	if (!tok) {
		fprintf(stderr, "glm serve: %s\n", e.msg);
		model_close(&m);
		return 1;
	}
	bool no_template = !tmpl_file && checkpoint_lacks_template(model_dir);
	struct chat_template *tmpl = no_template ? NULL : chat_template_create(model_dir, tmpl_file, &e);
	if (!tmpl && !no_template) {
		fprintf(stderr, "glm serve: chat template: %s\n", e.msg);
		tokenizer_destroy(tok);
		model_close(&m);
		return 1;
	}
	if (no_template) log_warn("%s has no chat template: /v1/chat/completions will answer 400 (use --chat-template FILE)", model_dir);
	struct engine eng;
	if (engine_init(&eng, &m, &ec, &e)) {
		fprintf(stderr, "glm serve: %s\n", e.msg);
		chat_template_destroy(tmpl);
		tokenizer_destroy(tok);
		model_close(&m);
		return 1;
	}
	struct scheduler *sched = scheduler_create(&eng, &sc, &e);
	if (!sched) {
		fprintf(stderr, "glm serve: %s\n", e.msg);
		engine_free(&eng);
		chat_template_destroy(tmpl);
		tokenizer_destroy(tok);
		model_close(&m);
		return 1;
	}
	struct metrics metrics;
	metrics_init(&metrics);
	atomic_int stopping = API_RUNNING;
	json_object_seed(0); /* jansson's hash seed, set once before any thread parses JSON */
	struct api_ctx api = {
		.mcfg = &m.cfg, .tok = tok, .tmpl = tmpl, .sched = sched, .metrics = &metrics, .model_path = model_dir,
		.served_names = names, .n_served = n_names, .demo = demo, .max_model_len = scheduler_max_model_len(sched),
		.reasoning_parser = reasoning ? API_REASONING_PARSER_GLM45 : API_REASONING_PARSER_NONE,
		.tool_parser = tool == 2 ? API_TOOL_PARSER_GLM47 : tool == 1 ? API_TOOL_PARSER_GLM45 : API_TOOL_PARSER_NONE,
		.enable_auto_tool_choice = auto_tools, .created = (long long)time(NULL), .stopping = &stopping,
	};
	struct server_config scfg = {.host = host, .port = port, .api_keys = keys, .n_api_keys = n_keys,
	                             .max_body_bytes = (size_t)max_body, .max_connections = max_conn,
	                             .log_requests = log_requests};
	struct server *srv = server_start(&scfg, &api, &e);
	int rc = 0;
	if (!srv) {
		fprintf(stderr, "glm serve: %s\n", e.msg);
		rc = 1;
		goto teardown;
	}
	if (demo)
		log_warn("DEMO MODE: serving the built-in demo checkpoint %s. Its weights are RANDOM: every API feature works, "
		         "but the text is gibberish. Pass --model DIR to serve a real checkpoint.", model_dir);
	log_info("model %s (%s, %d layers, vocab %d), max model len %d, served as '%s'%s%s", model_dir, m.cfg.model_type,
	         m.cfg.n_layers, m.cfg.vocab, api.max_model_len, names[0], n_keys ? ", API key required" : "",
	         tmpl ? "" : ", no chat template");
	log_info("listening on http://%s:%d", strchr(host, ':') ? "[::]" : host, server_port(srv));

	/* wait for a signal */
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	int sig;
	while (!(sig = wait_signal(-1))) {}
	log_info("received %s: no new connections; letting %lld request(s) finish (up to %.1f s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
	         server_in_flight(srv), grace);
	server_quiesce(srv);
	atomic_store(&stopping, API_DRAINING);
	double t_end = time_now() + grace;
	while (server_in_flight(srv) > 0 && time_now() < t_end)
		if (wait_signal(50)) {
			log_info("second signal: aborting in-flight requests");
			break;
		}
	atomic_store(&stopping, API_ABORTING);
	if (server_in_flight(srv) > 0) log_info("aborting %lld in-flight request(s)", server_in_flight(srv));
	t_end = time_now() + 10.0;
	while (server_in_flight(srv) > 0 && time_now() < t_end) wait_signal(50);
	server_stop(srv);
	log_info("shut down cleanly");
teardown:
	close(sig_pipe[0]), close(sig_pipe[1]);
	scheduler_destroy(sched);
	engine_free(&eng);
	metrics_free(&metrics);
	chat_template_destroy(tmpl);
	tokenizer_destroy(tok);
	model_close(&m);
	return rc;
}
