/* dtype.c — see dtype.h. */
#include "base/dtype.h"

#include <math.h>

static const struct {
	const char *name;
	size_t size;
} dtype_info[DTYPE_COUNT] = {
	[DTYPE_F32] = {"F32", 4},      [DTYPE_F16] = {"F16", 2}, [DTYPE_BF16] = {"BF16", 2},
	[DTYPE_F8_E4M3] = {"F8_E4M3", 1}, [DTYPE_I64] = {"I64", 8}, [DTYPE_I32] = {"I32", 4},
	[DTYPE_I8] = {"I8", 1},        [DTYPE_U8] = {"U8", 1},   [DTYPE_BOOL] = {"BOOL", 1},
	[DTYPE_F64] = {"F64", 8},
};

int dtype_from_name(const char *name)
{
	for (int t = 0; t < DTYPE_COUNT; t++)
		if (!strcmp(dtype_info[t].name, name)) return t;
	return -1;
}

const char *dtype_name(enum dtype t) { return t < DTYPE_COUNT ? dtype_info[t].name : "?"; }
size_t dtype_size(enum dtype t) { return t < DTYPE_COUNT ? dtype_info[t].size : 0; }

float f16_to_f32(uint16_t h)
{
	uint32_t s = (h >> 15) & 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float v;
	if (e == 0) v = ldexpf((float)m, -24);
	else if (e == 31) v = m ? NAN : INFINITY;
	else v = ldexpf((float)(m | 0x400), (int)e - 25);
	return s ? -v : v;
}

uint16_t f32_to_f16(float f)
{
	/* Exhaustive nearest search is too slow; use the standard bit construction with RNE. */
	uint32_t u;
	memcpy(&u, &f, 4);
	uint32_t s = (u >> 16) & 0x8000;
	float a = fabsf(f);
	if (isnan(f)) return (uint16_t)(s | 0x7e00);
	if (a >= 65520.0f) return (uint16_t)(s | 0x7c00);
	if (a < 6.103515625e-05f) { /* subnormal: multiples of 2^-24 */
		float q = nearbyintf(a * 16777216.0f);
		return (uint16_t)(s | (uint32_t)q);
	}
	int e;
	float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5,1) */
	float q = nearbyintf(m * 2048.0f); /* 11 significant bits */
	if (q >= 2048.0f) q /= 2, e++;
	return (uint16_t)(s | ((uint32_t)(e + 14) << 10) | ((uint32_t)q & 0x3ff));
}

static float fp8_table_storage[256];
static volatile int fp8_table_ready;

const float *fp8_e4m3_table(void)
{
	if (!fp8_table_ready) {
		for (int b = 0; b < 256; b++) {
			int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
			float v;
			if (e == 15 && m == 7) v = NAN;
			else if (e == 0) v = ldexpf((float)m / 8.0f, -6);
			else v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
			fp8_table_storage[b] = s ? -v : v;
		}
		fp8_table_ready = 1;
	}
	return fp8_table_storage;
}

uint8_t f32_to_fp8_e4m3(float f)
{
	const float *t = fp8_e4m3_table();
	if (isnan(f)) return 0x7f;
	float a = fabsf(f);
	if (a > 448.0f) a = 448.0f;
	int best = 0;
	float bd = INFINITY;
	for (int b = 0; b < 127; b++) { /* non-negative finite codes 0x00..0x7e */
		float d = fabsf(t[b] - a);
		/* ties to even code (even mantissa) */
		if (d < bd || (d == bd && (b & 1) == 0)) bd = d, best = b;
	}
	return (uint8_t)(best | (f < 0 && best ? 0x80 : 0));
}

void dtype_to_f32(enum dtype t, const void *src, float *dst, size_t n)
{
	switch (t) {
	case DTYPE_F32: memcpy(dst, src, n * 4); break;
	case DTYPE_BF16:
		for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(((const uint16_t *)src)[i]);
		break;
	case DTYPE_F16:
		for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(((const uint16_t *)src)[i]);
		break;
	case DTYPE_F8_E4M3:
		for (size_t i = 0; i < n; i++) dst[i] = fp8_e4m3_to_f32(((const uint8_t *)src)[i]);
		break;
	case DTYPE_F64:
		for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
		break;
	default:
		for (size_t i = 0; i < n; i++) dst[i] = NAN;
	}
}
