/* cpu_avx512_vbmi.c — the AVX-512 kernel set once more, for CPUs that also have AVX512_VBMI
 * (Ice Lake, Zen 4 and later): cpu_avx512.c compiled with CPU_AVX512_VBMI, which decodes e4m3
 * with byte permutes instead of vcvtph2ps (see there). Thread rules as cpu_scalar.c. */
#define CPU_AVX512_VBMI 1
#include "backend/cpu/cpu_avx512.c"
