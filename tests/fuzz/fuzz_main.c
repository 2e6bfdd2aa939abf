/* fuzz_main.c — the standalone driver linked into every fuzz target when it is built without
 * libFuzzer (gcc, CI): it runs the seed inputs, then a deterministic sequence of random
 * mutations of them (bit flips, byte edits, inserts, deletes, copies, splices, dictionary
 * strings, numbers; structural edits of JSON inputs, fuzz_json_mutate.c) until a mutation
 * count or a time bound is reached, and it replays single files given on the command line (to
 * reproduce a crash).
 * Owns: the corpus pool, the mutator, crash/hang capture (the input that crashed is written to
 * an artifact file before the process dies) and the memory cap.
 * Does not own: what an input means (the target's LLVMFuzzerTestOneInput).
 * Thread rules: single-threaded; signal handlers only use async-signal-safe calls.
 *
 * Usage: fuzz_<target> [options] [PATH...]
 *   PATH that is a directory: seed corpus (every file in it is run, then mutated)
 *   PATH that is a file:      replayed as is (no mutation unless a directory is given too)
 *   --seconds S   time bound of the mutation phase (env FUZZ_SECONDS, default 4)
 *   --iters N     mutated inputs at most (env FUZZ_ITERS, default 10000000)
 *   --seed K      mutation seed (env FUZZ_SEED, default 1): same seed, same inputs
 *   --timeout T   one input running longer than T seconds is a hang (default 20)
 *   --artifacts D where a crashing input is saved (env FUZZ_ARTIFACTS, default .)
 *   --mem-mb M    address-space cap in MiB for builds without ASan (default 4096) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_HAVE_ASAN 1
#endif
#endif

/* Sanitizer defaults: a too-large allocation or RSS is a failure (a parser that allocates
 * gigabytes for a small input is a bug, and this machine is shared), UBSan stops at the first
 * report so that the test fails (gcc's -fsanitize=undefined only warns by default), and both
 * end in abort() so that on_fatal saves the input (UBSan does not run death callbacks). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_allocation_size_mb=2048:hard_rss_limit_mb=4096:allocator_may_return_null=0:detect_leaks=1:"
	       "abort_on_error=1";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:abort_on_error=1:print_stacktrace=1"; }
/* Present only in sanitized builds: lets us save the input before a sanitizer kills us. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

struct input {
	uint8_t *p;
	size_t n;
	char *name; /* the seed file; NULL for mutants */
};

struct pool {
	struct input *v;
	size_t n, cap;
	size_t n_seeds; /* v[0..n_seeds) are the seed files; the rest are kept mutants */
};

#define POOL_EXTRA_MAX 512

/* The input now running, for the crash handlers. */
static const uint8_t *g_cur;
static size_t g_cur_n;
static const char *g_cur_name;       /* the file the running input came from, or NULL */
static volatile sig_atomic_t g_save; /* 0 when the running input is a file on disk already */
static char g_artifact[4096];
static int g_timeout = 20;

static void write_str(const char *s) { (void)!write(2, s, strlen(s)); }

static void save_current(void)
{
	if (g_cur_name) {
		write_str("fuzz: the failing input is ");
		write_str(g_cur_name);
		write_str("\n");
	}
	if (!g_save) return;
	g_save = 0;
	int fd = open(g_artifact, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		size_t off = 0;
		while (off < g_cur_n) {
			ssize_t k = write(fd, g_cur + off, g_cur_n - off);
			if (k <= 0) break;
			off += (size_t)k;
		}
		close(fd);
		write_str("fuzz: the failing input was saved to ");
		write_str(g_artifact);
		write_str("\n");
	} else {
		write_str("fuzz: could not save the failing input to ");
		write_str(g_artifact);
		write_str("\n");
	}
}

static void on_fatal(int sig)
{
	save_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_alarm(int sig)
{
	(void)sig;
	write_str("fuzz: an input ran longer than the --timeout: hang\n");
	save_current();
	signal(SIGABRT, SIG_DFL);
	abort();
}

/* Returns the target's verdict: 0, or -1 for an input that went nowhere (libFuzzer's "do not
 * add to the corpus"), which the driver uses the same way. */
static int run_one(const uint8_t *p, size_t n, const char *name, bool save)
{
	g_cur_name = name;
	g_cur = p;
	g_cur_n = n;
	g_save = save;
	alarm((unsigned)g_timeout);
	/* a copy of exactly n bytes, so ASan sees any read past the end */
	uint8_t *copy = xmalloc(n ? n : 1);
	memcpy(copy, p, n);
	int rc = LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	alarm(0);
	g_save = 0;
	return rc;
}

/* ---- corpus ---- */

static void pool_add(struct pool *pl, const uint8_t *p, size_t n, const char *name)
{
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? 2 * pl->cap : 64;
		pl->v = xrealloc(pl->v, pl->cap * sizeof *pl->v);
	}
	uint8_t *c = xmalloc(n ? n : 1);
	memcpy(c, p, n);
	pl->v[pl->n++] = (struct input){c, n, name ? xstrdup(name) : NULL};
}

static int load_file(const char *path, struct buf *b)
{
	struct err e = {{0}};
	buf_clear(b);
	if (file_read_all(path, b, &e)) {
		fprintf(stderr, "fuzz: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of a directory in name order, so that runs are reproducible. */
static int load_dir(struct pool *pl, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "fuzz: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.') continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = path_join(dir, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	struct buf b;
	buf_init(&b);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (load_file(names[i], &b)) rc = -1;
			else pool_add(pl, (const uint8_t *)b.data, b.len, names[i]);
		}
		free(names[i]);
	}
	free(names);
	buf_free(&b);
	return rc;
}

/* ---- mutator ---- */

static const char *const g_numbers[] = {
	"0", "-1", "1", "2", "7", "8", "16", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483648",
	"4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"18446744073709551616", "1e308", "1e309", "-1e308", "1e-320", "0.5", "-0.0", "1.5", "NaN", "Infinity", "-Infinity",
	"100000", "99999999999999999999999", "3.4e38", "1e10", "0x10", "007", "1_0", "",
};

static const uint8_t g_bytes[] = {0, 0xff, 0x7f, 0x80, 0xc0, 0xc3, 0xe4, 0xed, 0xf0, 0xf4, '"', '\'', '\\', '<', '>',
                                  '/', '{', '}', '[', ']', '(', ')', ',', ':', ' ', '\n', '\t', '\r', '%', '-',
                                  '0', '1', '9', 'a', 'n', 'u', 'e', '.', '|', '#', '*', '='};

static const char *const g_utf8[] = {"é", "北京", "😀", "\xc3", "\xe4\xb8", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                     "\xc0\xaf", "\xef\xbb\xbf", "\xe2\x80\xa8", "\xc2\xa0", "\xe3\x80\x80"};

static size_t dict_len(void)
{
	size_t n = 0;
	while (fuzz_dict[n]) n++;
	return n;
}

static size_t rnd(struct rng *r, size_t n) { return n ? (size_t)(rng_next(r) % n) : 0; }

static void ins(struct buf *b, size_t at, const void *p, size_t n)
{
	buf_reserve(b, n);
	memmove(b->data + at + n, b->data + at, b->len - at);
	memcpy(b->data + at, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

static void del(struct buf *b, size_t at, size_t n)
{
	memmove(b->data + at, b->data + at + n, b->len - at - n);
	b->len -= n;
	b->data[b->len] = 0;
}

/* A run length biased to short ones (most grammar tokens are short). */
static size_t run_len(struct rng *r, size_t max)
{
	if (!max) return 0;
	size_t k = rnd(r, 4) ? 1 + rnd(r, 8) : 1 + rnd(r, 64);
	return k < max ? k : max;
}

static void mutate_once(struct buf *b, const struct pool *pl, struct rng *r)
{
	size_t nd = dict_len();
	size_t at = rnd(r, b->len + 1);
	switch (rnd(r, 13)) {
	case 0: /* bit flip */
		if (b->len) b->data[rnd(r, b->len)] ^= (char)(1u << rnd(r, 8));
		break;
	case 1: /* interesting byte */
		if (b->len) b->data[rnd(r, b->len)] = (char)g_bytes[rnd(r, sizeof g_bytes)];
		break;
	case 2: { /* random bytes inserted */
		uint8_t tmp[8];
		size_t k = 1 + rnd(r, sizeof tmp);
		for (size_t i = 0; i < k; i++) tmp[i] = rnd(r, 2) ? (uint8_t)rng_next(r) : g_bytes[rnd(r, sizeof g_bytes)];
		ins(b, at, tmp, k);
		break;
	}
	case 3: /* delete a run */
		if (at < b->len) del(b, at, run_len(r, b->len - at));
		break;
	case 4: { /* copy a run of the input elsewhere (repeats grammar structure) */
		if (!b->len) break;
		size_t from = rnd(r, b->len), k = run_len(r, b->len - from);
		char *tmp = xmalloc(k);
		memcpy(tmp, b->data + from, k);
		ins(b, at, tmp, k);
		free(tmp);
		break;
	}
	case 5: { /* splice: a run of another corpus entry */
		const struct input *o = &pl->v[rnd(r, pl->n)];
		if (!o->n) break;
		size_t from = rnd(r, o->n), k = run_len(r, o->n - from);
		if (rnd(r, 4) == 0) k = o->n - from; /* sometimes the whole tail */
		ins(b, at, o->p + from, k);
		break;
	}
	case 6: /* dictionary string inserted */
	case 7:
		if (nd) {
			const char *s = fuzz_dict[rnd(r, nd)];
			ins(b, at, s, strlen(s));
		}
		break;
	case 8: /* dictionary string over a run */
		if (nd) {
			if (at < b->len) del(b, at, run_len(r, b->len - at));
			const char *s = fuzz_dict[rnd(r, nd)];
			ins(b, at, s, strlen(s));
		}
		break;
	case 9: { /* a number over the digits at a random place (or inserted) */
		size_t s = at;
		while (s < b->len && (b->data[s] < '0' || b->data[s] > '9')) s++;
		size_t e = s;
		while (e < b->len && ((b->data[e] >= '0' && b->data[e] <= '9') || b->data[e] == '.' || b->data[e] == '-' ||
		                      b->data[e] == 'e'))
			e++;
		if (s == b->len) s = e = at;
		del(b, s, e - s);
		const char *num = g_numbers[rnd(r, sizeof g_numbers / sizeof *g_numbers)];
		ins(b, s, num, strlen(num));
		break;
	}
	case 10: { /* a non-ASCII or broken UTF-8 sequence */
		const char *s = g_utf8[rnd(r, sizeof g_utf8 / sizeof *g_utf8)];
		ins(b, at, s, strlen(s));
		break;
	}
	case 11: /* truncate */
		if (b->len) del(b, at, b->len - at);
		break;
	case 12: /* swap two bytes */
		if (b->len > 1) {
			size_t i = rnd(r, b->len), j = rnd(r, b->len);
			char c = b->data[i];
			b->data[i] = b->data[j];
			b->data[j] = c;
		}
		break;
	}
}

/* ---- main ---- */

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 10) : dflt;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s [--seconds S] [--iters N] [--seed K] [--timeout T] [--artifacts DIR] [--mem-mb M] [PATH...]\n"
	        "  a directory PATH is a seed corpus (run, then mutated); a file PATH is replayed as is\n",
	        argv0);
}

int main(int argc, char **argv)
{
	double seconds = getenv("FUZZ_SECONDS") && *getenv("FUZZ_SECONDS") ? atof(getenv("FUZZ_SECONDS")) : 4;
	long long iters = env_long("FUZZ_ITERS", 10000000);
	unsigned long long seed = (unsigned long long)env_long("FUZZ_SEED", 1);
	const char *artifacts = getenv("FUZZ_ARTIFACTS") ? getenv("FUZZ_ARTIFACTS") : ".";
	long mem_mb = 4096;
	const char *slash = strrchr(argv[0], '/');
	const char *name = slash ? slash + 1 : argv[0];

	struct pool pl = {0};
	char **files = NULL;
	size_t n_files = 0;
	bool have_dir = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--seconds") && more) seconds = atof(argv[++i]);
		else if (!strcmp(a, "--iters") && more) iters = atoll(argv[++i]);
		else if (!strcmp(a, "--seed") && more) seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(a, "--timeout") && more) g_timeout = atoi(argv[++i]);
		else if (!strcmp(a, "--artifacts") && more) artifacts = argv[++i];
		else if (!strcmp(a, "--mem-mb") && more) mem_mb = atol(argv[++i]);
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(argv[0]), 0;
		else if (a[0] == '-' && a[1] == '-') return usage(argv[0]), 2;
		else {
			struct stat sb;
			if (stat(a, &sb) != 0) {
				fprintf(stderr, "fuzz: %s: %s\n", a, strerror(errno));
				return 2;
			}
			if (S_ISDIR(sb.st_mode)) {
				if (load_dir(&pl, a)) return 2;
				have_dir = true;
			} else {
				files = xrealloc(files, (n_files + 1) * sizeof *files);
				files[n_files++] = argv[i];
			}
		}
	}
	if (g_timeout < 1) g_timeout = 1;
#ifdef FUZZ_HAVE_ASAN
	(void)mem_mb;
#else
	/* ASan reserves terabytes of shadow address space, so the cap only applies without it */
	struct rlimit rl = {(rlim_t)mem_mb << 20, (rlim_t)mem_mb << 20};
	if (mem_mb > 0) setrlimit(RLIMIT_AS, &rl);
#endif
	snprintf(g_artifact, sizeof g_artifact, "%s/crash-%s-seed%llu", artifacts, name, seed);
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGFPE, on_fatal);
	signal(SIGILL, on_fatal);
	signal(SIGABRT, on_fatal);
	signal(SIGALRM, on_alarm);
	if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
	log_set_level(LOG_LEVEL_QUIET); /* parsers warn on odd input; thousands of warnings help nobody */

	/* replays: the file is on disk already, so nothing to save */
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n_files; i++) {
		if (load_file(files[i], &b)) return 2;
		fprintf(stderr, "fuzz: replaying %s (%zu bytes)\n", files[i], b.len);
		run_one((const uint8_t *)b.data, b.len, files[i], false);
	}
	free(files);
	if (n_files && !have_dir) {
		printf("%s: %zu input(s) replayed: ok\n", name, n_files);
		return 0;
	}

	/* seeds as they are (a failing seed is named, not saved again) */
	double t0 = time_now();
	for (size_t i = 0; i < pl.n; i++) run_one(pl.v[i].p, pl.v[i].n, pl.v[i].name, false);
	if (!pl.n) pool_add(&pl, (const uint8_t *)"", 0, NULL);
	pl.n_seeds = pl.n;

	/* mutants: the sequence depends only on the seed; time only cuts it short */
	struct rng r;
	rng_seed(&r, seed);
	long long done = 0;
	double deadline = t0 + seconds;
	for (; done < iters; done++) {
		if (time_now() >= deadline) break;
		const struct input *base = &pl.v[rnd(&r, pl.n)];
		buf_clear(&b);
		buf_append(&b, base->p, base->n);
		/* JSON inputs: mostly edits of the parsed tree (byte edits rarely leave JSON valid),
		 * sometimes followed by a byte edit to test the syntax paths too */
		bool structural = fuzz_json_layout != FUZZ_JSON_LAYOUT_NONE && rnd(&r, 4) != 0;
		if (structural) {
			const struct input *o = &pl.v[rnd(&r, pl.n)];
			structural = fuzz_json_mutate(fuzz_json_layout, &b, o->p, o->n, &r, fuzz_dict);
		}
		if (!structural || rnd(&r, 4) == 0) {
			size_t k = rnd(&r, 8) == 0 ? 1 + rnd(&r, 16) : 1 + rnd(&r, 4);
			if (structural) k = 1;
			for (size_t m = 0; m < k; m++) mutate_once(&b, &pl, &r);
		}
		if (b.len > fuzz_max_len) b.len = fuzz_max_len;
		int rc = run_one((const uint8_t *)b.data, b.len, NULL, true);
		/* keep some mutants as new bases: mutations stack over generations (a random walk, as
		 * there is no coverage to say which are interesting); mostly inputs the target accepted
		 * (rc 0), or the walk drifts into text the parsers reject at once */
		size_t keep = rc == 0 ? 8 : 64;
		if (rc == 0 && fuzz_json_layout != FUZZ_JSON_LAYOUT_NONE &&
		    !fuzz_json_valid(fuzz_json_layout, (const uint8_t *)b.data, b.len))
			keep = 32;
		if (rnd(&r, keep) == 0) {
			if (pl.n < pl.n_seeds + POOL_EXTRA_MAX) pool_add(&pl, (const uint8_t *)b.data, b.len, NULL);
			else {
				struct input *v = &pl.v[pl.n_seeds + rnd(&r, POOL_EXTRA_MAX)];
				free(v->p);
				v->p = xmalloc(b.len ? b.len : 1);
				memcpy(v->p, b.data, b.len);
				v->n = b.len;
			}
		}
	}
	printf("%s: %zu seed input(s), %lld mutated input(s) in %.1f s (seed %llu): ok\n", name, pl.n_seeds, done,
	       time_now() - t0, seed);
	buf_free(&b);
	for (size_t i = 0; i < pl.n; i++) free(pl.v[i].p), free(pl.v[i].name);
	free(pl.v);
	return 0;
}
