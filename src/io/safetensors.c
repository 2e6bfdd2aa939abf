/* safetensors.c — see safetensors.h. JSON here is only the file format's own header. */
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (256u << 20)

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static void index_rebuild(struct safetensors *st)
{
	free(st->index);
	st->index_cap = 16;
	while (st->index_cap < st->n_tensors * 2) st->index_cap *= 2;
	st->index = xcalloc(st->index_cap, sizeof *st->index);
	for (size_t i = 0; i < st->n_tensors; i++) {
		size_t h = hash_str(st->tensors[i].name) & (st->index_cap - 1);
		while (st->index[h]) h = (h + 1) & (st->index_cap - 1);
		st->index[h] = i + 1;
	}
}

const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
	if (!st->index_cap) return NULL;
	size_t h = hash_str(name) & (st->index_cap - 1);
	while (st->index[h]) {
		const struct st_tensor *t = &st->tensors[st->index[h] - 1];
		if (!strcmp(t->name, name)) return t;
		h = (h + 1) & (st->index_cap - 1);
	}
	return NULL;
}

int64_t st_tensor_numel(const struct st_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
	return n;
}

static int parse_header(struct safetensors *st, int file_idx, const char *hdr, size_t hlen, size_t data_size,
                        struct err *e)
{
	const char *path = st->files[file_idx].path;
	json_error_t je;
	json_t *root = json_loadb(hdr, hlen, 0, &je);
	if (!root) return err_set(e, "%s: safetensors header is not valid JSON (%s at byte %d)", path, je.text, je.position);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(e, "%s: safetensors header is not a JSON object", path);
	}
	const char *key;
	json_t *val;
	int rc = 0;
	json_object_foreach(root, key, val)
	{
		if (!strcmp(key, "__metadata__")) continue;
		json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
		       *jo = json_object_get(val, "data_offsets");
		if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2) {
			rc = err_set(e, "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path, key);
			break;
		}
		int dt = dtype_from_name(json_string_value(jd));
		if (dt < 0) {
			rc = err_set(e, "%s: tensor '%s': unknown dtype '%s'", path, key, json_string_value(jd));
			break;
		}
		struct st_tensor t = {0};
		t.dtype = dt;
		t.file = file_idx;
		t.ndim = (int)json_array_size(js);
		if (t.ndim > ST_MAX_DIMS) {
			rc = err_set(e, "%s: tensor '%s': %d dimensions (at most %d)", path, key, t.ndim, ST_MAX_DIMS);
			break;
		}
		int64_t numel = 1;
		bool bad = false;
		for (int i = 0; i < t.ndim; i++) {
			json_t *d = json_array_get(js, i);
			if (!json_is_integer(d) || json_integer_value(d) < 0) bad = true;
			else if (t.shape[i] = json_integer_value(d), __builtin_mul_overflow(numel, t.shape[i], &numel)) bad = true;
		}
		int64_t nbytes = 0;
		if (!bad && __builtin_mul_overflow(numel, (int64_t)dtype_size(dt), &nbytes)) bad = true;
		json_t *b = json_array_get(jo, 0), *en = json_array_get(jo, 1);
		if (bad || !json_is_integer(b) || !json_is_integer(en)) {
			rc = err_set(e, "%s: tensor '%s': malformed shape or data_offsets", path, key);
			break;
		}
		int64_t begin = json_integer_value(b), end = json_integer_value(en);
		if (begin < 0 || end < begin || (uint64_t)end > data_size) {
			rc = err_set(e, "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu data bytes (file truncated?)",
			             path, key, (long long)begin, (long long)end, data_size);
			break;
		}
		if (end - begin != nbytes) {
			rc = err_set(e, "%s: tensor '%s': %lld bytes for %lld elements of %s", path, key,
			             (long long)(end - begin), (long long)numel, dtype_name(dt));
			break;
		}
		if (safetensors_find(st, key)) {
			rc = err_set(e, "%s: tensor '%s' appears twice in the checkpoint", path, key);
			break;
		}
		t.name = xstrdup(key);
		t.nbytes = (size_t)(end - begin);
		t.data = (const char *)st->files[file_idx].map + 8 + hlen + begin;
		st->tensors = xrealloc(st->tensors, (st->n_tensors + 1) * sizeof *st->tensors);
		st->tensors[st->n_tensors++] = t;
		st->total_bytes += t.nbytes;
		if (st->n_tensors * 2 > st->index_cap) index_rebuild(st);
		else {
			size_t h = hash_str(t.name) & (st->index_cap - 1);
			while (st->index[h]) h = (h + 1) & (st->index_cap - 1);
			st->index[h] = st->n_tensors;
		}
	}
	json_decref(root);
	return rc;
}

int safetensors_open_file(struct safetensors *st, const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) return err_set(e, "%s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return err_set(e, "%s: %s", path, strerror(errno));
	}
	size_t size = (size_t)sb.st_size;
	if (size < 8) {
		close(fd);
		return err_set(e, "%s: %zu bytes is too short for a safetensors file (truncated?)", path, size);
	}
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) return err_set(e, "%s: mmap: %s", path, strerror(errno));
	uint64_t hlen;
	memcpy(&hlen, map, 8); /* little-endian host assumed (x86-64, aarch64) */
	if (hlen > ST_MAX_HEADER || 8 + hlen > size) {
		munmap(map, size);
		return err_set(e, "%s: header length %llu does not fit the %zu-byte file (corrupt or truncated)", path,
		               (unsigned long long)hlen, size);
	}
	st->files = xrealloc(st->files, (st->n_files + 1) * sizeof *st->files);
	st->files[st->n_files] = (struct st_file){xstrdup(path), map, size};
	int idx = st->n_files++;
	return parse_header(st, idx, (const char *)map + 8, (size_t)hlen, size - 8 - (size_t)hlen, e);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int safetensors_open_dir(struct safetensors *st, const char *dir, struct err *e)
{
	memset(st, 0, sizeof *st);
	char *index_path = path_join(dir, "model.safetensors.index.json");
	int rc = 0;
	if (file_exists(index_path)) {
		struct buf b;
		buf_init(&b);
		json_error_t je;
		json_t *root = NULL;
		if (file_read_all(index_path, &b, e) != 0) rc = -1;
		else if (!(root = json_loadb(b.data, b.len, 0, &je)))
			rc = err_set(e, "%s: not valid JSON (%s, line %d)", index_path, je.text, je.line);
		json_t *wm = root ? json_object_get(root, "weight_map") : NULL;
		if (!rc && !json_is_object(wm)) rc = err_set(e, "%s: no \"weight_map\" object", index_path);
		/* open each distinct shard once, in sorted order */
		char **shards = NULL;
		size_t n_shards = 0;
		const char *key;
		json_t *val;
		if (!rc) json_object_foreach(wm, key, val)
			{
				if (!json_is_string(val)) {
					rc = err_set(e, "%s: weight_map[\"%s\"] is not a file name", index_path, key);
					break;
				}
				const char *f = json_string_value(val);
				if (strchr(f, '/')) {
					rc = err_set(e, "%s: weight_map[\"%s\"] = \"%s\" is not a file in the directory", index_path, key, f);
					break;
				}
				bool seen = false;
				for (size_t i = 0; i < n_shards && !seen; i++) seen = !strcmp(shards[i], f);
				if (!seen) shards = xrealloc(shards, (n_shards + 1) * sizeof *shards), shards[n_shards++] = xstrdup(f);
			}
		if (!rc && !n_shards) rc = err_set(e, "%s: weight_map lists no tensors", index_path);
		if (!rc) qsort(shards, n_shards, sizeof *shards, cmp_str);
		for (size_t i = 0; i < n_shards && !rc; i++) {
			char *p = path_join(dir, shards[i]);
			rc = safetensors_open_file(st, p, e);
			free(p);
		}
		if (!rc) json_object_foreach(wm, key, val)
			{
				const struct st_tensor *t = safetensors_find(st, key);
				const char *f = json_string_value(val);
				if (!t) {
					rc = err_set(e, "%s: tensor '%s' is listed for %s but that shard does not contain it", index_path,
					             key, f);
					break;
				}
				const char *tf = strrchr(st->files[t->file].path, '/');
				if (strcmp(tf ? tf + 1 : st->files[t->file].path, f) != 0) {
					rc = err_set(e, "%s: tensor '%s' is listed for %s but found in %s", index_path, key, f,
					             st->files[t->file].path);
					break;
				}
			}
		for (size_t i = 0; i < n_shards; i++) free(shards[i]);
		free(shards);
		json_decref(root);
		buf_free(&b);
	} else {
		char *single = path_join(dir, "model.safetensors");
		if (file_exists(single)) rc = safetensors_open_file(st, single, e);
		else {
			DIR *d = opendir(dir);
			if (!d) rc = err_set(e, "%s: %s", dir, strerror(errno));
			else {
				char **names = NULL;
				size_t n = 0;
				struct dirent *de;
				while ((de = readdir(d))) {
					size_t l = strlen(de->d_name);
					if (l > 12 && !strcmp(de->d_name + l - 12, ".safetensors"))
						names = xrealloc(names, (n + 1) * sizeof *names), names[n++] = xstrdup(de->d_name);
				}
				closedir(d);
				if (!n) rc = err_set(e, "%s: no model.safetensors, model.safetensors.index.json or *.safetensors file", dir);
				qsort(names, n, sizeof *names, cmp_str);
				for (size_t i = 0; i < n; i++) {
					char *p = path_join(dir, names[i]);
					if (!rc) rc = safetensors_open_file(st, p, e);
					free(p);
					free(names[i]);
				}
				free(names);
			}
		}
		free(single);
	}
	free(index_path);
	if (rc) safetensors_close(st);
	return rc;
}

void safetensors_close(struct safetensors *st)
{
	for (int i = 0; i < st->n_files; i++) {
		munmap(st->files[i].map, st->files[i].size);
		free(st->files[i].path);
	}
	for (size_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
	free(st->files);
	free(st->tensors);
	free(st->index);
	memset(st, 0, sizeof *st);
}

void st_writer_init(struct st_writer *w) { memset(w, 0, sizeof *w); }

void st_writer_add(struct st_writer *w, const char *name, enum dtype dtype, int ndim, const int64_t *shape,
                   void *data, size_t nbytes)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->names = xrealloc(w->names, w->cap * sizeof *w->names);
		w->dtypes = xrealloc(w->dtypes, w->cap * sizeof *w->dtypes);
		w->shapes = xrealloc(w->shapes, w->cap * sizeof *w->shapes);
		w->ndims = xrealloc(w->ndims, w->cap * sizeof *w->ndims);
		w->datas = xrealloc(w->datas, w->cap * sizeof *w->datas);
		w->sizes = xrealloc(w->sizes, w->cap * sizeof *w->sizes);
	}
	size_t i = w->n++;
	w->names[i] = xstrdup(name);
	w->dtypes[i] = dtype;
	w->ndims[i] = ndim;
	for (int d = 0; d < ndim; d++) w->shapes[i][d] = shape[d];
	w->datas[i] = data;
	w->sizes[i] = nbytes;
}

size_t st_writer_bytes(const struct st_writer *w)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++) n += w->sizes[i];
	return n;
}

int st_writer_write(struct st_writer *w, const char *path, struct err *e)
{
	struct buf h;
	buf_init(&h);
	buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
	size_t off = 0;
	for (size_t i = 0; i < w->n; i++) {
		buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", w->names[i], dtype_name(w->dtypes[i]));
		for (int d = 0; d < w->ndims[i]; d++) buf_printf(&h, "%s%lld", d ? "," : "", (long long)w->shapes[i][d]);
		buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + w->sizes[i]);
		off += w->sizes[i];
	}
	buf_putc(&h, '}');
	while (h.len % 8) buf_putc(&h, ' '); /* keep data 8-byte aligned, as the reference writer does */
	FILE *f = fopen(path, "wb");
	if (!f) {
		buf_free(&h);
		return err_set(e, "%s: %s", path, strerror(errno));
	}
	uint64_t hl = h.len;
	bool ok = fwrite(&hl, 8, 1, f) == 1 && fwrite(h.data, 1, h.len, f) == h.len;
	for (size_t i = 0; i < w->n && ok; i++) {
		if (w->datas[i]) {
			ok = fwrite(w->datas[i], 1, w->sizes[i], f) == w->sizes[i];
			continue;
		}
		void *tmp = xmalloc(w->sizes[i]);
		w->fill(w->fill_ctx, i, w->names[i], tmp, w->sizes[i]);
		ok = fwrite(tmp, 1, w->sizes[i], f) == w->sizes[i];
		free(tmp);
	}
	ok = (fclose(f) == 0) && ok;
	buf_free(&h);
	return ok ? 0 : err_set(e, "%s: write error (disk full?)", path);
}

void st_writer_free(struct st_writer *w)
{
	for (size_t i = 0; i < w->n; i++) free(w->names[i]), free(w->datas[i]);
	free(w->names), free(w->dtypes), free(w->shapes), free(w->ndims), free(w->datas), free(w->sizes);
	buf_free(&w->header_json);
	memset(w, 0, sizeof *w);
}
