/* safetensors.h — memory-mapped safetensors checkpoints: a single file, or the shards named by
 * model.safetensors.index.json. Owns the mappings and the tensor table; tensors point straight
 * into the mapped files (weights are never copied). Not thread-safe to open/close; lookups on an
 * opened set are read-only and safe from any thread.
 * Format: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [b, e]}, "__metadata__": {...}},
 * then the data; offsets are relative to the end of the header. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "base/dtype.h"

#define ST_MAX_DIMS 8

struct st_tensor {
	char *name;
	enum dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const void *data; /* into the mapping */
	size_t nbytes;
	int file; /* index into safetensors.files */
};

struct st_file {
	char *path;
	void *map;
	size_t size;
};

struct safetensors {
	struct st_file *files;
	int n_files;
	struct st_tensor *tensors;
	size_t n_tensors;
	size_t *index; /* open-addressing hash of tensor indices (+1; 0 = empty) */
	size_t index_cap;
	size_t total_bytes; /* sum of tensor bytes */
};

/* Opens the checkpoint in dir: model.safetensors.index.json if present (every tensor in its
 * weight_map must be found in the named shard), else model.safetensors, else every *.safetensors
 * file in the directory. Errors name the file and tensor. */
int safetensors_open_dir(struct safetensors *st, const char *dir, struct err *e);
/* Opens one file (adds to st; st must be zeroed before the first call). */
int safetensors_open_file(struct safetensors *st, const char *path, struct err *e);
void safetensors_close(struct safetensors *st);
const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name);
int64_t st_tensor_numel(const struct st_tensor *t);

/* Writing (for `glm synth` and tests). Tensors are added with their bytes, or without (data NULL)
 * to be produced by `fill` while writing, so a checkpoint larger than memory can be written. */
struct st_writer {
	void (*fill)(void *ctx, size_t i, const char *name, void *dst, size_t nbytes);
	void *fill_ctx;
	struct buf header_json; /* built as tensors are added */
	char **names;
	int *dtypes;
	int64_t (*shapes)[ST_MAX_DIMS];
	int *ndims;
	void **datas;
	size_t *sizes;
	size_t n, cap;
};
void st_writer_init(struct st_writer *w);
/* Takes ownership of data (malloc'd); NULL means "ask fill() at write time". */
void st_writer_add(struct st_writer *w, const char *name, enum dtype dtype, int ndim, const int64_t *shape,
                   void *data, size_t nbytes);
size_t st_writer_bytes(const struct st_writer *w);
int st_writer_write(struct st_writer *w, const char *path, struct err *e);
void st_writer_free(struct st_writer *w);
