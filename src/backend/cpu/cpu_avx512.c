/* cpu_avx512.c — the AVX-512 kernel set (cpu_simd.inc with 16-lane vectors) plus the opt-in
 * bf16-activation matmul built on AVX512_BF16 vdpbf16ps. Compiled for any x86-64: only the
 * functions carry target attributes, and cpu.c calls them only after checking the CPU
 * (avx512f+bw+vl+dq for the set, avx512_bf16 for the dp kernels). Thread rules as cpu_scalar.c.
 * cpu_avx512_vbmi.c compiles this file a second time with CPU_AVX512_VBMI defined: the same
 * kernels plus AVX512_VBMI's byte permutes for decoding e4m3 (below).
 *
 * e4m3 decode: the byte s.eeee.mmm shifted into a 16-bit word as s.0eeee.mmm0000000 is the
 * f16 number whose value is exactly the e4m3 value * 2^-8 (normal and subnormal alike: both
 * formats are sign/exponent/mantissa with biases 7 and 15), and vcvtph2ps widens it exactly.
 * The 2^8 rides in the scale (cpu_internal.h). vcvtph2ps is the bottleneck of FP8 decode,
 * though; with VBMI two 128-entry byte lookups (vpermi2b) give the high and low bytes of the
 * bf16 number equal to value * 2^-8 (every e4m3 value, NaN included, is a bf16 value), and
 * bf16 widens to fp32 by a shift, as for BF16 weights: about 1.5x the speed. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backend/cpu/cpu_internal.h"

#ifdef CPU_AVX512_VBMI
#define SIMD_TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,fma,f16c"
#define SIMD_NAME "avx512vbmi"
#define SIMD_ISA cpu_isa_avx512_vbmi
#define SIMD(x) avx512_vbmi_##x
#else
#define SIMD_TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"
#define SIMD_NAME "avx512"
#define SIMD_ISA cpu_isa_avx512
#define SIMD(x) avx512_##x
#endif
#define VEC __m512
#define VL 16
#define SIMD_MAX_TT 4
#define ATT_HT 3 /* p·V tile: 3 heads x 8 vectors = 24 accumulators */
#define ATT_DVV 8
#define SIMD_FN static inline __attribute__((always_inline, unused, target(SIMD_TARGET)))
#define NANACC __m512i
#define SIMD_DP 1

SIMD_FN __m512 v_zero(void) { return _mm512_setzero_ps(); }
SIMD_FN __m512 v_set1(float f) { return _mm512_set1_ps(f); }
SIMD_FN __m512 v_load(const float *p) { return _mm512_loadu_ps(p); }
SIMD_FN void v_store(float *p, __m512 v) { _mm512_storeu_ps(p, v); }
SIMD_FN __m512 v_fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
SIMD_FN __m512 v_mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
SIMD_FN __m512 v_add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
SIMD_FN __m512 v_sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
SIMD_FN __m512 v_div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
/* max returns the second operand when either is NaN: callers put the data second. */
SIMD_FN __m512 v_max(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
SIMD_FN float v_hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
SIMD_FN float v_hmax(__m512 v) { return _mm512_reduce_max_ps(v); }

/* Sixteen horizontal sums in 45 instructions instead of ~150: each step adds halves of pairs
 * of vectors (512-bit halves, then 128-bit lanes, then pairs, then single floats), so after
 * four steps lane 4m+e holds the sum of v[4e+m]. */
SIMD_FN void v_reduce_tile(const __m512 *v, float *r)
{
	__m512 u[8], w[4], z[2];
#pragma GCC unroll 8
	for (int p = 0; p < 8; p++)
		u[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44),
		                     _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee));
#pragma GCC unroll 8
	for (int p = 0; p < 4; p++)
		w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * p], u[2 * p + 1], 0x88),
		                     _mm512_shuffle_f32x4(u[2 * p], u[2 * p + 1], 0xdd));
#pragma GCC unroll 8
	for (int p = 0; p < 2; p++)
		z[p] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * p], w[2 * p + 1], 0x44), _mm512_shuffle_ps(w[2 * p], w[2 * p + 1], 0xee));
	_mm512_storeu_ps(r, _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], 0x88), _mm512_shuffle_ps(z[0], z[1], 0xdd)));
}

SIMD_FN void v_bf16_eo(const uint16_t *p, __m512 *e, __m512 *o)
{
	__m512i v = _mm512_loadu_si512(p);
	*e = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
	*o = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
}

SIMD_FN __m512 v_bf16(const uint16_t *p)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

SIMD_FN __m512 v_f16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

SIMD_FN __m512i nan_init(void) { return _mm512_setzero_si512(); }
/* A byte 0xff is the largest unsigned, 0x7f the largest signed: the two NaN codes. */
SIMD_FN bool nan_hit(__m512i u, __m512i s)
{
	return (_mm512_cmpeq_epi8_mask(u, _mm512_set1_epi8((char)0xff)) | _mm512_cmpeq_epi8_mask(s, _mm512_set1_epi8(0x7f))) != 0;
}

SIMD_FN __m512 v_fp8(const uint8_t *p, __m512i *nan_u, __m512i *nan_s)
{
	__m128i b = _mm_loadu_si128((const __m128i *)p);
	*nan_u = _mm512_max_epu8(*nan_u, _mm512_zextsi128_si512(b));
	*nan_s = _mm512_max_epi8(*nan_s, _mm512_zextsi128_si512(b));
	__m256i h = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_cvtepu8_epi16(b), 8), 1);
	h = _mm256_and_si256(h, _mm256_set1_epi16((short)0xbfff));
	return _mm512_cvtph_ps(h);
}

#ifdef CPU_AVX512_VBMI
/* bf16 bytes of (e4m3 value of code c) * 2^-8 for the 128 codes without sign; filled by
 * SIMD(init) before any kernel runs. */
static uint8_t fp8_bf16_hi[128] __attribute__((aligned(64))), fp8_bf16_lo[128] __attribute__((aligned(64)));

static void SIMD(init)(void)
{
	const float *t = fp8_e4m3_table();
	for (int c = 0; c < 128; c++) {
		uint16_t h = f32_to_bf16(t[c] * (1.0f / 256.0f)); /* exact: 3 mantissa bits, in range */
		fp8_bf16_hi[c] = (uint8_t)(h >> 8), fp8_bf16_lo[c] = (uint8_t)h;
	}
}

/* 64 bytes: look up both bytes, put the sign back, interleave bytes into bf16 words (within
 * 128-bit lanes, low 8 codes -> lo, high 8 -> hi), then split even/odd words into fp32 as for
 * BF16 weights: hence fp8_perm's order. NaN codes decode to NaN, so no NaN check is needed. */
SIMD_FN void v_fp8x4(const uint8_t *p, __m512 *w, __m512i *nan_u, __m512i *nan_s)
{
	__m512i b = _mm512_loadu_si512(p);
	__m512i hb = _mm512_permutex2var_epi8(_mm512_load_si512(fp8_bf16_hi), b, _mm512_load_si512(fp8_bf16_hi + 64));
	__m512i lb = _mm512_permutex2var_epi8(_mm512_load_si512(fp8_bf16_lo), b, _mm512_load_si512(fp8_bf16_lo + 64));
	hb = _mm512_ternarylogic_epi32(hb, b, _mm512_set1_epi8((char)0x80), 0xf8); /* hb | (b & 0x80) */
	__m512i lo = _mm512_unpacklo_epi8(lb, hb), hi = _mm512_unpackhi_epi8(lb, hb);
	__m512i m = _mm512_set1_epi32((int)0xffff0000u);
	w[0] = _mm512_castsi512_ps(_mm512_slli_epi32(lo, 16));
	w[1] = _mm512_castsi512_ps(_mm512_and_si512(lo, m));
	w[2] = _mm512_castsi512_ps(_mm512_slli_epi32(hi, 16));
	w[3] = _mm512_castsi512_ps(_mm512_and_si512(hi, m));
}

/* w[q] lane e of v_fp8x4: 128-bit lane e/4 of the load, low or high 8 codes, even or odd. */
static inline int fp8_perm(int q, int e) { return 16 * (e >> 2) + 8 * (q >> 1) + 2 * (e & 3) + (q & 1); }
#else
/* 64 bytes: unpacking with zero bytes below makes each word byte << 8 directly, within each
 * 128-bit lane (low 8 bytes -> lo, high 8 -> hi), hence fp8_perm's order. */
SIMD_FN void v_fp8x4(const uint8_t *p, __m512 *w, __m512i *nan_u, __m512i *nan_s)
{
	__m512i b = _mm512_loadu_si512(p), z = _mm512_setzero_si512(), m = _mm512_set1_epi16((short)0xbfff);
	*nan_u = _mm512_max_epu8(*nan_u, b);
	*nan_s = _mm512_max_epi8(*nan_s, b);
	__m512i lo = _mm512_and_si512(_mm512_srai_epi16(_mm512_unpacklo_epi8(z, b), 1), m);
	__m512i hi = _mm512_and_si512(_mm512_srai_epi16(_mm512_unpackhi_epi8(z, b), 1), m);
	w[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(lo));
	w[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(lo, 1));
	w[2] = _mm512_cvtph_ps(_mm512_castsi512_si256(hi));
	w[3] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(hi, 1));
}

/* w[q] lane e of v_fp8x4: lanes 0-7 and 8-15 come from two 128-bit lanes of the load. */
static inline int fp8_perm(int q, int e)
{
	int lane = (q & 1) * 2 + (e >> 3); /* 128-bit lane of the 64-byte load */
	return lane * 16 + (q >> 1) * 8 + (e & 7);
}
#endif

SIMD_FN void v_deinterleave(const float *src, float *dst)
{
	const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
	__m512 a = _mm512_loadu_ps(src), b = _mm512_loadu_ps(src + 16);
	_mm512_storeu_ps(dst, _mm512_permutex2var_ps(a, ie, b));
	_mm512_storeu_ps(dst + 16, _mm512_permutex2var_ps(a, io, b));
}

/* e^x: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact n ln2), Taylor series to
 * r^7 (truncation < 6e-9 relative, under half an ulp), then vscalefps applies 2^n with correct
 * overflow to inf and gradual underflow. */
SIMD_FN __m512 v_exp(__m512 x)
{
	x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
	x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
	                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.0f / 5040);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, n);
}

/* The bandwidth probe's inner loop, built like the decode tiles' memory access: 8 streams
 * (eighths of the block) read side by side with L2 prefetches ahead, which measured at least
 * as fast as any simpler read loop. */
__attribute__((target(SIMD_TARGET))) static uint64_t SIMD(read_sum)(const void *p, size_t bytes)
{
	const char *c = p;
	size_t part = bytes / 8 / 64 * 64;
	__m512i a[8];
	for (int s = 0; s < 8; s++) a[s] = _mm512_setzero_si512();
	for (size_t i = 0; i < part; i += 64)
#pragma GCC unroll 8
		for (int s = 0; s < 8; s++) {
			__builtin_prefetch(c + s * part + i + CPU_PREFETCH, 0, 2);
			a[s] = _mm512_add_epi64(a[s], _mm512_loadu_si512(c + s * part + i));
		}
	for (int s = 1; s < 8; s++) a[0] = _mm512_add_epi64(a[0], a[s]);
	return (uint64_t)_mm512_reduce_add_epi64(a[0]);
}

static void SIMD(dp_prep)(const struct cpu_matmul *mm, const float *x, void *buf, int t0, int t1);
static void SIMD(dp_rows)(const struct cpu_matmul *mm, int64_t r0, int64_t r1, int t0, int t1, float *scratch);

#include "backend/cpu/cpu_simd.inc"

/* ---- bf16-activation mode: y = bf16(x) · W with vdpbf16ps (pairs of bf16 products summed
 * into fp32 lanes). BF16 weights without scales only (cpu.c checks). x is rounded once per
 * call (matmul_prep), so each weight load feeds TT dot-product instructions directly. ---- */

#define DP_TARGET SIMD_TARGET ",avx512bf16"
#define DP_FN static inline __attribute__((always_inline, target(DP_TARGET)))
#define DP_API static __attribute__((target(DP_TARGET)))
#define DP_MAX_TT 4
#define DP_KC 2048

DP_API void SIMD(dp_prep)(const struct cpu_matmul *mm, const float *x, void *buf, int t0, int t1)
{
	int64_t cols = mm->cols;
	for (int t = t0; t < t1; t++) {
		const float *src = x + (int64_t)t * cols;
		uint16_t *dst = (uint16_t *)buf + (int64_t)t * mm->xp_stride;
		int64_t k = 0;
		for (; k + 16 <= cols; k += 16)
			_mm256_storeu_si256((__m256i *)(dst + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
		for (; k < cols; k++) dst[k] = f32_to_bf16(src[k]);
	}
}

DP_FN void SIMD(dp_tile)(const int RT, const int TT, const bool PF, struct cpu_tile *tl)
{
	const uint16_t *wr[CPU_TILE_MAX_ROWS], *xt[DP_MAX_TT];
#pragma GCC unroll 8
	for (int i = 0; i < RT; i++) wr[i] = tl->w[i];
#pragma GCC unroll 8
	for (int j = 0; j < TT; j++) xt[j] = tl->x[j];
	__m512 acc[CPU_TILE_MAX_ROWS][4];
#pragma GCC unroll 8
	for (int i = 0; i < RT; i++)
#pragma GCC unroll 8
		for (int j = 0; j < TT; j++) acc[i][j] = _mm512_setzero_ps();
	int64_t k0 = tl->k0, k1 = tl->k1, kend = k0 + (k1 - k0) / 32 * 32;
	for (int64_t k = k0; k < kend; k += 32) {
		if (PF)
#pragma GCC unroll 8
			for (int i = 0; i < RT; i++) __builtin_prefetch((const char *)(wr[i] + k) + CPU_PREFETCH, 0, 2);
		__m512i xv[DP_MAX_TT];
#pragma GCC unroll 8
		for (int j = 0; j < TT; j++) xv[j] = _mm512_loadu_si512(xt[j] + k);
#pragma GCC unroll 8
		for (int i = 0; i < RT; i++) {
			__m512i wv = _mm512_loadu_si512(wr[i] + k);
#pragma GCC unroll 8
			for (int j = 0; j < TT; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)wv, (__m512bh)xv[j]);
		}
	}
	SIMD(tile_sums)(RT, TT, acc, tl);
	for (int64_t k = kend; k < k1; k++)
		for (int i = 0; i < RT; i++)
			for (int j = 0; j < TT; j++) tl->out[j][i] += bf16_to_f32(xt[j][k]) * bf16_to_f32(wr[i][k]);
}

/* decode tiles as SIMD_TILE_SET ([tt - 1] 4 rows, [4 + tt - 1] 8 rows), with prefetching;
 * prefill tiles [tt - 1] without */
DP_API void SIMD(dp_tile_1)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 1, true, tl); }
DP_API void SIMD(dp_tile_2)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 2, true, tl); }
DP_API void SIMD(dp_tile_3)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 3, true, tl); }
DP_API void SIMD(dp_tile_4)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 4, true, tl); }
DP_API void SIMD(dp_tile_8x1)(struct cpu_tile *tl) { SIMD(dp_tile)(8, 1, true, tl); }
DP_API void SIMD(dp_tile_8x2)(struct cpu_tile *tl) { SIMD(dp_tile)(8, 2, true, tl); }
static const SIMD(tile_fn) SIMD(dp_tiles)[6] = {SIMD(dp_tile_1), SIMD(dp_tile_2),   SIMD(dp_tile_3),
                                                SIMD(dp_tile_4), SIMD(dp_tile_8x1), SIMD(dp_tile_8x2)};
DP_API void SIMD(dp_tile_p1)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 1, false, tl); }
DP_API void SIMD(dp_tile_p2)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 2, false, tl); }
DP_API void SIMD(dp_tile_p3)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 3, false, tl); }
DP_API void SIMD(dp_tile_p4)(struct cpu_tile *tl) { SIMD(dp_tile)(4, 4, false, tl); }
static const SIMD(tile_fn) SIMD(dp_tiles_prefill)[4] = {SIMD(dp_tile_p1), SIMD(dp_tile_p2), SIMD(dp_tile_p3),
                                                        SIMD(dp_tile_p4)};

DP_API void SIMD(dp_rows)(const struct cpu_matmul *mm, int64_t r0, int64_t r1, int t0, int t1, float *scratch)
{
	if (mm->small) {
		SIMD(rows_small)(mm, SIMD(dp_tiles), DP_MAX_TT, 2, r0, r1, t0, t1);
		return;
	}
	/* Weights need no decoding: tiles read W directly, column block by column block (copying
	 * blocks to padded scratch rows, as rows_large does, measured no faster). */
	struct cpu_tile tl;
	tl.bw = 0;
	for (int64_t k0 = 0; k0 < mm->cols; k0 += DP_KC) {
		int64_t k1 = mm->cols - k0 < DP_KC ? mm->cols : k0 + DP_KC;
		tl.k0 = k0, tl.k1 = k1;
		for (int t = t0; t < t1; t += DP_MAX_TT) {
			int tt = t1 - t < DP_MAX_TT ? t1 - t : DP_MAX_TT;
			SIMD(tile_tokens)(&tl, mm->xp, mm->xp_stride * 2, t, tt);
			for (int64_t r = r0; r < r1; r += CPU_TILE_ROWS) {
				int rr = r1 - r < CPU_TILE_ROWS ? (int)(r1 - r) : CPU_TILE_ROWS;
				SIMD(tile_rows)(&tl, CPU_TILE_ROWS, mm->w->data, mm->cols * 2, NULL, mm, r, rr);
				SIMD(dp_tiles_prefill)[tt - 1](&tl);
				SIMD(store)(mm, &tl, r, rr, t, tt, k0 == 0, k1 == mm->cols);
			}
		}
	}
}

#endif /* __x86_64__ */
