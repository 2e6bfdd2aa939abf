/* model.c — checkpoint loading and weight binding shared by all architectures. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct model_arch glm4_moe_arch;

static const struct model_arch *const archs[] = {&glm4_moe_arch};

const struct model_arch *model_arch_find(const char *model_type)
{
	for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
		if (!strcmp(archs[i]->model_type, model_type)) return archs[i];
	return NULL;
}

float *scratch_f32(struct scratch *s, int slot, size_t n) { return scratch_get(s, slot, (n ? n : 1) * sizeof(float)); }

void *scratch_get(struct scratch *s, int slot, size_t bytes)
{
	if (slot >= s->n) {
		s->bufs = xrealloc(s->bufs, (slot + 1) * sizeof *s->bufs);
		s->sizes = xrealloc(s->sizes, (slot + 1) * sizeof *s->sizes);
		for (int i = s->n; i <= slot; i++) s->bufs[i] = NULL, s->sizes[i] = 0;
		s->n = slot + 1;
	}
	if (!bytes) bytes = 1;
	if (s->sizes[slot] < bytes) {
		free(s->bufs[slot]);
		s->bufs[slot] = xaligned_alloc(bytes);
		s->sizes[slot] = bytes;
	}
	return s->bufs[slot];
}

void scratch_free(struct scratch *s)
{
	for (int i = 0; i < s->n; i++) free(s->bufs[i]);
	free(s->bufs);
	free(s->sizes);
	memset(s, 0, sizeof *s);
}

static const char *tensor_file(const struct model *m, const struct st_tensor *t)
{
	return m->st.files[t->file].path;
}

static void shape_str(char *out, size_t n, const struct st_tensor *t)
{
	size_t o = snprintf(out, n, "[");
	for (int i = 0; i < t->ndim && o < n; i++) o += snprintf(out + o, n - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
	if (o < n) snprintf(out + o, n - o, "]");
}

bool model_has_tensor(const struct model *m, const char *name) { return safetensors_find(&m->st, name) != NULL; }

static void note_bound(struct model *m, const struct st_tensor *t)
{
	m->bound = xrealloc(m->bound, (m->n_bound + 1) * sizeof *m->bound);
	m->bound[m->n_bound++] = t;
	m->bound_bytes += t->nbytes;
}

void model_prefetch(const struct model *m)
{
	double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	if ((double)m->bound_bytes > 0.8 * ram) return; /* would only evict itself: page in on demand */
	bool show = isatty(2) && m->bound_bytes > (256u << 20);
	double t0 = time_now(), last = 0;
	size_t done = 0;
	volatile unsigned char sink = 0;
	for (int i = 0; i < m->n_bound; i++) {
		const unsigned char *p = m->bound[i]->data;
		for (size_t off = 0; off < m->bound[i]->nbytes; off += 4096) sink ^= p[off];
		done += m->bound[i]->nbytes;
		if (show && time_now() - last > 0.25) {
			last = time_now();
			fprintf(stderr, "\rloading weights: %5.1f%%  %.2f / %.2f GB", 100.0 * done / m->bound_bytes, done / 1e9,
			        m->bound_bytes / 1e9);
		}
	}
	if (show) fprintf(stderr, "\rloading weights: 100.0%%  %.2f GB in %.1f s          \n", m->bound_bytes / 1e9, time_now() - t0);
	(void)sink;
}

static int check_2d(struct model *m, const struct st_tensor *t, const char *name, int64_t rows, int64_t cols,
                    struct err *e)
{
	if (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols) return 0;
	char got[128];
	shape_str(got, sizeof got, t);
	return err_set(e, "%s: tensor '%s' has shape %s, expected [%lld, %lld]", tensor_file(m, t), name, got,
	               (long long)rows, (long long)cols);
}

int model_bind_table(struct model *m, struct weight *w, const char *name, int64_t rows, int64_t cols, struct err *e)
{
	const struct st_tensor *t = safetensors_find(&m->st, name);
	if (!t) return err_set(e, "%s: tensor '%s' is missing from the checkpoint", m->dir, name);
	if (check_2d(m, t, name, rows, cols, e)) return -1;
	if (t->dtype != DTYPE_BF16 && t->dtype != DTYPE_F16 && t->dtype != DTYPE_F32)
		return err_set(e, "%s: tensor '%s' has dtype %s, expected BF16, F16 or F32", tensor_file(m, t), name,
		               dtype_name(t->dtype));
	*w = (struct weight){.dtype = t->dtype, .rows = rows, .cols = cols, .data = t->data};
	note_bound(m, t);
	return 0;
}

int model_bind_linear(struct model *m, struct weight *w, const char *name, int64_t rows, int64_t cols, struct err *e)
{
	const struct st_tensor *t = safetensors_find(&m->st, name);
	if (!t) return err_set(e, "%s: tensor '%s' is missing from the checkpoint", m->dir, name);
	if (check_2d(m, t, name, rows, cols, e)) return -1;
	*w = (struct weight){.dtype = t->dtype, .rows = rows, .cols = cols, .data = t->data};
	note_bound(m, t);
	if (t->dtype == DTYPE_BF16 || t->dtype == DTYPE_F16 || t->dtype == DTYPE_F32) return 0;
	if (t->dtype != DTYPE_F8_E4M3)
		return err_set(e, "%s: tensor '%s' has dtype %s, expected BF16, F16, F32 or F8_E4M3", tensor_file(m, t), name,
		               dtype_name(t->dtype));
	/* FP8: the scale sits beside the weight: "<prefix>.weight_scale" (per output channel) or
	 * "<prefix>.weight_scale_inv" (128x128 blocks), models.md §7. */
	char sname[512];
	size_t nl = strlen(name);
	const char *suffix = ".weight";
	size_t sl = strlen(suffix);
	size_t base = (nl > sl && !strcmp(name + nl - sl, suffix)) ? nl - sl : nl;
	snprintf(sname, sizeof sname, "%.*s.weight_scale", (int)base, name);
	const struct st_tensor *s = safetensors_find(&m->st, sname);
	if (s) {
		bool ok = (s->ndim == 2 && s->shape[0] == rows && s->shape[1] == 1) || (s->ndim == 1 && s->shape[0] == rows);
		if (!ok) {
			char got[128];
			shape_str(got, sizeof got, s);
			return err_set(e, "%s: tensor '%s' has shape %s, expected [%lld, 1]", tensor_file(m, s), sname, got,
			               (long long)rows);
		}
		w->scale_kind = WEIGHT_SCALE_ROW;
	} else {
		snprintf(sname, sizeof sname, "%.*s.weight_scale_inv", (int)base, name);
		s = safetensors_find(&m->st, sname);
		if (!s)
			return err_set(e, "%s: FP8 tensor '%s' has neither '%.*s.weight_scale' nor '%s'", m->dir, name, (int)base,
			               name, sname);
		int b0 = m->cfg.quant_block[0] > 0 ? m->cfg.quant_block[0] : 128;
		int b1 = m->cfg.quant_block[1] > 0 ? m->cfg.quant_block[1] : 128;
		if (check_2d(m, s, sname, (rows + b0 - 1) / b0, (cols + b1 - 1) / b1, e)) return -1;
		w->scale_kind = WEIGHT_SCALE_BLOCK;
		w->block[0] = b0, w->block[1] = b1;
	}
	if (s->dtype != DTYPE_F32 && s->dtype != DTYPE_BF16)
		return err_set(e, "%s: scale tensor '%s' has dtype %s, expected F32 or BF16", tensor_file(m, s), sname,
		               dtype_name(s->dtype));
	w->scale = s->data;
	w->scale_dtype = s->dtype;
	note_bound(m, s);
	return 0;
}

int model_bind_vector(struct model *m, float **out, const char *name, int64_t n, bool optional, struct err *e)
{
	const struct st_tensor *t = safetensors_find(&m->st, name);
	*out = NULL;
	if (!t) return optional ? 0 : err_set(e, "%s: tensor '%s' is missing from the checkpoint", m->dir, name);
	if (!(t->ndim == 1 && t->shape[0] == n)) {
		char got[128];
		shape_str(got, sizeof got, t);
		return err_set(e, "%s: tensor '%s' has shape %s, expected [%lld]", tensor_file(m, t), name, got, (long long)n);
	}
	if (t->dtype != DTYPE_BF16 && t->dtype != DTYPE_F16 && t->dtype != DTYPE_F32)
		return err_set(e, "%s: tensor '%s' has dtype %s, expected BF16, F16 or F32", tensor_file(m, t), name,
		               dtype_name(t->dtype));
	float *v = xmalloc(n * sizeof(float));
	dtype_to_f32(t->dtype, t->data, v, n);
	m->owned = xrealloc(m->owned, (m->n_owned + 1) * sizeof *m->owned);
	m->owned[m->n_owned++] = v;
	*out = v;
	return 0;
}

int model_load(struct model *m, const char *dir, struct err *e)
{
	memset(m, 0, sizeof *m);
	m->dir = xstrdup(dir);
	if (model_config_load(&m->cfg, dir, e)) goto fail;
	m->arch = model_arch_find(m->cfg.model_type);
	if (!m->arch) {
		err_set(e, "%s/config.json: model_type \"%s\" is not supported (supported: glm4_moe)", dir, m->cfg.model_type);
		goto fail;
	}
	if (safetensors_open_dir(&m->st, dir, e)) goto fail;
	if (m->arch->bind(m, e)) goto fail;
	return 0;
fail:
	model_close(m);
	return -1;
}

void model_close(struct model *m)
{
	if (m->arch && m->w) m->arch->unbind(m);
	for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
	free(m->owned);
	free(m->bound);
	safetensors_close(&m->st);
	free(m->dir);
	memset(m, 0, sizeof *m);
}
