/* dtype.h — the element types a checkpoint can store, and exact conversions to fp32.
 * Pure functions, thread-safe. FP8 here is e4m3fn (bias 7, no Inf, S.1111.111 = NaN, max 448),
 * as in models.md §2. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum dtype {
	DTYPE_F32,
	DTYPE_F16,
	DTYPE_BF16,
	DTYPE_F8_E4M3,
	DTYPE_I64,
	DTYPE_I32,
	DTYPE_I8,
	DTYPE_U8,
	DTYPE_BOOL,
	DTYPE_F64,
	DTYPE_COUNT
};

/* safetensors spelling ("BF16", "F8_E4M3", ...) <-> enum; returns -1 for an unknown name. */
int dtype_from_name(const char *name);
const char *dtype_name(enum dtype t);
size_t dtype_size(enum dtype t);

static inline float bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* Round-to-nearest-even, NaN kept quiet (as torch does). */
static inline uint16_t f32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

/* The 256 values of e4m3fn, filled on first use of fp8_table() (thread-safe: idempotent writes
 * of the same values). */
const float *fp8_e4m3_table(void);
static inline float fp8_e4m3_to_f32(uint8_t b) { return fp8_e4m3_table()[b]; }
/* Nearest e4m3fn value (round-to-nearest-even, saturating to ±448); used by `glm synth`. */
uint8_t f32_to_fp8_e4m3(float f);

/* Converts n elements of type t at src to fp32 (for small vectors: norms, biases). */
void dtype_to_f32(enum dtype t, const void *src, float *dst, size_t n);
