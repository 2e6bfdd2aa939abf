/* cpu_avx2.c — the AVX2+FMA+F16C kernel set (cpu_simd.inc with 8-lane vectors), for x86-64
 * CPUs without AVX-512. Compiled for any x86-64 (target attributes only); cpu.c selects it
 * after checking the CPU. e4m3 is decoded through f16 as in cpu_avx512.c. 16 vector registers
 * allow 4 rows x 2 tokens of accumulators. Thread rules as cpu_scalar.c. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backend/cpu/cpu_internal.h"

#define SIMD_TARGET "avx2,fma,f16c"
#define SIMD_NAME "avx2"
#define SIMD_ISA cpu_isa_avx2
#define SIMD(x) avx2_##x
#define VEC __m256
#define VL 8
#define SIMD_MAX_TT 2
#define ATT_HT 2 /* p·V tile: 2 heads x 4 vectors = 8 accumulators */
#define ATT_DVV 4
#define SIMD_FN static inline __attribute__((always_inline, unused, target(SIMD_TARGET)))
#define NANACC __m256i

SIMD_FN __m256 v_zero(void) { return _mm256_setzero_ps(); }
SIMD_FN __m256 v_set1(float f) { return _mm256_set1_ps(f); }
SIMD_FN __m256 v_load(const float *p) { return _mm256_loadu_ps(p); }
SIMD_FN void v_store(float *p, __m256 v) { _mm256_storeu_ps(p, v); }
SIMD_FN __m256 v_fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
SIMD_FN __m256 v_mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
SIMD_FN __m256 v_add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
SIMD_FN __m256 v_sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
SIMD_FN __m256 v_div(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
/* max returns the second operand when either is NaN: callers put the data second. */
SIMD_FN __m256 v_max(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }

SIMD_FN float v_hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

SIMD_FN float v_hmax(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* Eight horizontal sums in 21 instructions: halves of pairs are added (128-bit lanes, then
 * pairs, then single floats), so lane 4h+e ends up holding the sum of v[2e+h]. */
SIMD_FN void v_reduce_tile(const __m256 *v, float *r)
{
	__m256 u[4], w[2];
#pragma GCC unroll 8
	for (int p = 0; p < 4; p++)
		u[p] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x20),
		                     _mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x31));
#pragma GCC unroll 8
	for (int p = 0; p < 2; p++)
		w[p] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0x44), _mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0xee));
	_mm256_storeu_ps(r, _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], 0x88), _mm256_shuffle_ps(w[0], w[1], 0xdd)));
}

SIMD_FN void v_bf16_eo(const uint16_t *p, __m256 *e, __m256 *o)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)p);
	*e = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
	*o = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}

SIMD_FN __m256 v_bf16(const uint16_t *p)
{
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

SIMD_FN __m256 v_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

SIMD_FN __m256i nan_init(void) { return _mm256_setzero_si256(); }
/* A byte 0xff is the largest unsigned, 0x7f the largest signed: the two NaN codes. */
SIMD_FN bool nan_hit(__m256i u, __m256i s)
{
	__m256i hit = _mm256_or_si256(_mm256_cmpeq_epi8(u, _mm256_set1_epi8((char)0xff)), _mm256_cmpeq_epi8(s, _mm256_set1_epi8(0x7f)));
	return _mm256_movemask_epi8(hit) != 0;
}

SIMD_FN __m256 v_fp8(const uint8_t *p, __m256i *nan_u, __m256i *nan_s)
{
	__m128i b = _mm_loadl_epi64((const __m128i *)p);
	*nan_u = _mm256_max_epu8(*nan_u, _mm256_zextsi128_si256(b));
	*nan_s = _mm256_max_epi8(*nan_s, _mm256_zextsi128_si256(b));
	__m128i h = _mm_srai_epi16(_mm_slli_epi16(_mm_cvtepu8_epi16(b), 8), 1);
	h = _mm_and_si128(h, _mm_set1_epi16((short)0xbfff));
	return _mm256_cvtph_ps(h);
}

/* 32 bytes: unpacking with zero bytes below makes each word byte << 8 directly, within each
 * 128-bit lane (low 8 bytes -> lo, high 8 -> hi), hence fp8_perm's order. */
SIMD_FN void v_fp8x4(const uint8_t *p, __m256 *w, __m256i *nan_u, __m256i *nan_s)
{
	__m256i b = _mm256_loadu_si256((const __m256i *)p), z = _mm256_setzero_si256(), m = _mm256_set1_epi16((short)0xbfff);
	*nan_u = _mm256_max_epu8(*nan_u, b);
	*nan_s = _mm256_max_epi8(*nan_s, b);
	__m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(z, b), 1), m);
	__m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(z, b), 1), m);
	w[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(lo));
	w[1] = _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1));
	w[2] = _mm256_cvtph_ps(_mm256_castsi256_si128(hi));
	w[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1));
}

static inline int fp8_perm(int q, int e) { return (q & 1) * 16 + (q >> 1) * 8 + e; }

SIMD_FN void v_deinterleave(const float *src, float *dst)
{
	__m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
	/* shuffle picks within 128-bit lanes: [a0 a2 b0 b2 | a4 a6 b4 b6]; the 64-bit permute
	 * restores the order [a0 a2 a4 a6 b0 b2 b4 b6]. */
	__m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xdd);
	_mm256_storeu_ps(dst, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
	_mm256_storeu_ps(dst + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8)));
}

/* e^x as in cpu_avx512.c, but 2^n is built in the exponent field, so x is clamped to where
 * n stays in [-126, 127] (e^-87.3 ~ 1e-38 stands in for smaller results). */
SIMD_FN __m256 v_exp(__m256 x)
{
	x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
	x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 5040);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* The bandwidth probe's inner loop, built like the decode tiles' memory access: 8 streams
 * (eighths of the block) read side by side with L2 prefetches ahead. */
__attribute__((target(SIMD_TARGET))) static uint64_t avx2_read_sum(const void *p, size_t bytes)
{
	const char *c = p;
	size_t part = bytes / 8 / 64 * 64;
	__m256i a[8];
	for (int s = 0; s < 8; s++) a[s] = _mm256_setzero_si256();
	for (size_t i = 0; i < part; i += 64)
#pragma GCC unroll 8
		for (int s = 0; s < 8; s++) {
			__builtin_prefetch(c + s * part + i + CPU_PREFETCH, 0, 2);
			a[s] = _mm256_add_epi64(a[s], _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(c + s * part + i)),
			                                               _mm256_loadu_si256((const __m256i *)(c + s * part + i + 32))));
		}
	for (int s = 1; s < 8; s++) a[0] = _mm256_add_epi64(a[0], a[s]);
	uint64_t out[4];
	_mm256_storeu_si256((__m256i *)out, a[0]);
	return out[0] + out[1] + out[2] + out[3];
}

#include "backend/cpu/cpu_simd.inc"

#endif /* __x86_64__ */
