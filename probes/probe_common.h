/* probe_common.h: shared helpers of the nondeterminism probes (probes/*.cu).
 *
 * Every probe isolates one source of run-to-run nondeterminism, prints a few human lines
 * and exactly one line `digest <16 hex digits>`: a hash of the bits of everything it
 * computed, so two runs (or two runs under different DETSHIM_MODE) compare with `grep ^digest`.
 * A probe that repeats one computation inside the run also prints, before it,
 * `result repeats=N differing=K`: K of the N repeats gave bits other than the first
 * (`detshim doctor` reads both lines).
 * Exit status: 0 ran, 1 a CUDA/library call failed, 77 no usable GPU (the test-suite
 * convention for "skipped").
 */
#ifndef PROBE_COMMON_H
#define PROBE_COMMON_H

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_EXIT_NO_GPU 77

static const char *probe_name = "probe";

#define CUDA_CHECK(call)                                                                   \
    do {                                                                                   \
        cudaError_t err_ = (call);                                                         \
        if (err_ != cudaSuccess) {                                                         \
            fprintf(stderr, "%s: %s failed at %s:%d: %s (%s)\n", probe_name, #call,        \
                    __FILE__, __LINE__, cudaGetErrorName(err_), cudaGetErrorString(err_)); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* FNV-1a, 64 bit, over raw bytes: cheap, stable, and order-sensitive. */
typedef struct { uint64_t h; } probe_digest;

static inline void digest_init(probe_digest *d) { d->h = 0xcbf29ce484222325ULL; }

static inline void digest_bytes(probe_digest *d, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = d->h;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    d->h = h;
}

static inline uint64_t digest_of(const void *p, size_t n)
{
    probe_digest d;
    digest_init(&d);
    digest_bytes(&d, p, n);
    return d.h;
}

/* Exit 77 with a clear message unless a CUDA GPU is usable; print which one. */
static inline int probe_require_gpu(const char *name)
{
    probe_name = name;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        fprintf(stderr, "%s: no usable CUDA GPU: %s\n", name,
                err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount found 0 devices");
        exit(PROBE_EXIT_NO_GPU);
    }
    int dev = 0;
    CUDA_CHECK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    printf("%s: device 0: %s, sm_%d%d, %d SMs, driver %d, runtime %d\n", name, prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, drv, rt);
    return dev;
}

/* Deterministic pseudo-random values (splitmix64), the same on every run and host. */
static inline uint64_t probe_rand64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static inline double probe_rand_unit(uint64_t *state)
{
    return (double)(probe_rand64(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

#endif
