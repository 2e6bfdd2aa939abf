/* cpu.h — what the cpu backend offers beyond struct backend_ops: its numerics switch, its
 * instruction-set name, its thread pool, and the memory-bandwidth probe `glm bench` reports
 * decode speed against. backend_cpu_create itself is declared in backend/backend.h.
 * Thread rules: as for the backend (one caller thread at a time). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct backend;
struct threadpool;

/* Opt-in faster numerics for BF16 weights: activations are rounded to bf16 (round to nearest
 * even) and multiplied with AVX-512 BF16 dot-product instructions (pairs of products summed in
 * fp32). Not bit-compatible with the reference (relative error ~1e-3); never the default.
 * Returns 0, or -1 (and leaves the default fp32 numerics) when on && the CPU or the backend's
 * ISA lacks avx512_bf16. */
int backend_cpu_set_bf16_activations(struct backend *be, bool on);
bool backend_cpu_bf16_activations(const struct backend *be);

/* The kernel set chosen at creation: "scalar", "avx2", "avx512" or "avx512vbmi" (AVX-512 with
 * VBMI's byte permutes), followed by "+bf16" where the bf16-activation mode is available. */
const char *backend_cpu_isa(const struct backend *be);

/* The backend's worker pool (threadpool_size() == be->n_threads), for callers that want to
 * parallelise their own loops between backend calls (never during one). */
struct threadpool *backend_cpu_threadpool(struct backend *be);

/* Streaming-read bandwidth of this machine in GB/s (1e9 bytes/s) with the backend's threads:
 * the threads sum contiguous slices of a `bytes`-sized buffer (bytes == 0: 1 GiB; choose well
 * above the last-level cache), a quarter of it per pass, best of >= 16 passes (and >= 0.5 s)
 * after a warm-up. Allocates, touches and frees the buffer: about a second for 1 GiB. Returns 0
 * if the buffer cannot be had. */
double cpu_measure_read_bandwidth(struct backend *be, size_t bytes);
