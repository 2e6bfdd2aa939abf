/* fuzz_safetensors.c — fuzz target for src/io/safetensors.c: the untrusted bytes of a
 * checkpoint file (u64 header length, JSON header, data) through safetensors_open_file, and
 * model.safetensors.index.json through safetensors_open_dir.
 * The parser only opens files, so the input is written to a private temporary directory first.
 * An input starting with '{' is an index file (over two fixed valid shards); anything else is a
 * whole .safetensors file.
 * Invariants: a failure has a message; a success gives tensors whose byte ranges lie inside the
 * mapping, whose byte count is exactly numel * dtype size (with no overflow on the way), that
 * safetensors_find returns, and whose sizes add up to total_bytes.
 * Thread rules: single-threaded (one temporary directory per process). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "io/safetensors.h"

const size_t fuzz_max_len = 8192;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_SAFETENSORS;
const char *const fuzz_dict[] = {
	"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"", "\"BF16\"",
	"\"F8_E4M3\"", "\"I64\"", "\"I32\"", "\"I8\"", "\"U8\"", "\"BOOL\"", "\"F64\"", "\"weight_map\"", "\"metadata\"",
	"\"a.safetensors\"", "\"b.safetensors\"", "\"x\"", "\"y\"", "\"z\"", "[0, 0]", "[]", "[1]", "[2, 2]",
	"{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}", ", ", ": ", "\"../b.safetensors\"", "\"\"",
	"4611686018427387904", "2305843009213693952", "\"model.safetensors\"", NULL,
};

static char *g_dir;          /* private temporary directory */
static char *g_file;         /* g_dir/model.safetensors: the raw-file mode */
static char *g_index;        /* g_dir/idx/model.safetensors.index.json: the index mode */
static char *g_idx_dir;      /* g_dir/idx, holding a.safetensors and b.safetensors */

static void cleanup(void)
{
	char *p;
	unlink(g_file);
	unlink(g_index);
	p = path_join(g_idx_dir, "a.safetensors"), unlink(p), free(p);
	p = path_join(g_idx_dir, "b.safetensors"), unlink(p), free(p);
	rmdir(g_idx_dir);
	rmdir(g_dir);
}

static void write_shard(const char *name, const char *t1, enum dtype d1, int64_t n1, const char *t2, enum dtype d2,
                        int64_t n2)
{
	struct st_writer w;
	struct err e = {{0}};
	st_writer_init(&w);
	int64_t s1[1] = {n1}, s2[2] = {n2, 2};
	st_writer_add(&w, t1, d1, 1, s1, xcalloc((size_t)n1, dtype_size(d1)), (size_t)n1 * dtype_size(d1));
	if (t2) st_writer_add(&w, t2, d2, 2, s2, xcalloc((size_t)n2 * 2, dtype_size(d2)), (size_t)n2 * 2 * dtype_size(d2));
	char *p = path_join(g_idx_dir, name);
	FUZZ_CHECK(st_writer_write(&w, p, &e) == 0, "writing the fixed shard %s: %s", p, e.msg);
	free(p);
	st_writer_free(&w);
}

static void setup(void)
{
	/* tmpfs when there is one: rewriting a file on ext4 flushes it on every close (auto_da_alloc),
	 * which makes this target a hundred times slower */
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
	                  : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
	                                                  : "/tmp";
	char *templ = path_join(tmp, "fuzz_safetensors.XXXXXX");
	FUZZ_CHECK(mkdtemp(templ) != NULL, "mkdtemp %s failed", templ);
	g_dir = templ;
	g_file = path_join(g_dir, "model.safetensors");
	g_idx_dir = path_join(g_dir, "idx");
	FUZZ_CHECK(mkdir(g_idx_dir, 0700) == 0, "mkdir %s failed", g_idx_dir);
	g_index = path_join(g_idx_dir, "model.safetensors.index.json");
	write_shard("a.safetensors", "x", DTYPE_F32, 2, "y", DTYPE_BF16, 2);
	write_shard("b.safetensors", "z", DTYPE_I8, 3, NULL, DTYPE_F32, 0);
	atexit(cleanup);
}

/* Checks every promise of a successful open. */
static void check_open(const struct safetensors *st)
{
	size_t total = 0;
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		FUZZ_CHECK(t->name != NULL, "tensor %zu has no name", i);
		FUZZ_CHECK(t->dtype >= 0 && t->dtype < DTYPE_COUNT, "tensor '%s': dtype %d", t->name, (int)t->dtype);
		FUZZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS, "tensor '%s': ndim %d", t->name, t->ndim);
		FUZZ_CHECK(t->file >= 0 && t->file < st->n_files, "tensor '%s': file %d", t->name, t->file);
		/* numel and bytes as the model code will compute them: they must be representable */
		uint64_t numel = 1;
		bool overflow = false;
		for (int d = 0; d < t->ndim; d++) {
			FUZZ_CHECK(t->shape[d] >= 0, "tensor '%s': shape[%d] = %lld", t->name, d, (long long)t->shape[d]);
			overflow |= __builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel);
		}
		uint64_t bytes = 0;
		overflow |= __builtin_mul_overflow(numel, (uint64_t)dtype_size(t->dtype), &bytes);
		overflow |= numel > (uint64_t)INT64_MAX;
		FUZZ_CHECK(!overflow, "tensor '%s': shape product * dtype size overflows 64 bits but the header was accepted "
		                      "with %zu data bytes", t->name, t->nbytes);
		FUZZ_CHECK(bytes == t->nbytes, "tensor '%s': %llu elements of %zu bytes but nbytes %zu", t->name,
		           (unsigned long long)numel, dtype_size(t->dtype), t->nbytes);
		FUZZ_CHECK(st_tensor_numel(t) == (int64_t)numel, "tensor '%s': st_tensor_numel %lld vs %llu", t->name,
		           (long long)st_tensor_numel(t), (unsigned long long)numel);
		const struct st_file *f = &st->files[t->file];
		const char *lo = (const char *)f->map, *p = (const char *)t->data;
		FUZZ_CHECK(p >= lo + 8 && p <= lo + f->size && t->nbytes <= (size_t)(lo + f->size - p),
		           "tensor '%s': bytes outside the mapping", t->name);
		FUZZ_CHECK(safetensors_find(st, t->name) == t, "tensor '%s' is not found by name", t->name);
		total += t->nbytes;
	}
	FUZZ_CHECK(total == st->total_bytes, "total_bytes %zu but tensors add up to %zu", st->total_bytes, total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_dir) setup();
	struct err e = {{0}};
	struct safetensors st;
	memset(&st, 0, sizeof st);
	bool index = size > 0 && data[0] == '{';
	const char *path = index ? g_index : g_file;
	FUZZ_CHECK(file_write_all(path, data, size, &e) == 0, "writing %s: %s", path, e.msg);
	int rc = index ? safetensors_open_dir(&st, g_idx_dir, &e) : safetensors_open_file(&st, g_file, &e);
	if (rc) {
		FUZZ_CHECK(rc == -1, "status %d", rc);
		FUZZ_CHECK(e.msg[0] != 0, "a failed open must say why");
	} else {
		check_open(&st);
		if (!index) FUZZ_CHECK(st.n_files == 1 && st.files[0].size == size, "one file of %zu bytes expected", size);
	}
	safetensors_close(&st);
	return rc ? -1 : 0;
}
