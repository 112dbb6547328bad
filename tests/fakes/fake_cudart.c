/* A fake libcudart.so.13 (runtime API), compiled from the real cuda_runtime_api.h. */
#include <cuda_runtime_api.h>

#include "fake_record.h"

cudaError_t cudaRuntimeGetVersion(int *v)
{
    if (!v) return cudaErrorInvalidValue;
    *v = 13000;
    return cudaSuccess;
}

/* Memory and streams: "device" memory is host memory here, so tests can look at what
 * a call wrote. */
#include <stdlib.h>
#include <string.h>

cudaError_t cudaMalloc(void **p, size_t n)
{
    if (!p) return cudaErrorInvalidValue;
    *p = calloc(1, n ? n : 1);
    fake_record("cudaMalloc ptr=%p size=%zu", *p, n);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void *p)
{
    fake_record("cudaFree ptr=%p", p);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    (void)kind;
    memmove(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    memset(p, v, n);
    return cudaSuccess;
}

struct CUstream_st { int id; };
static int next_stream = 1;

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    if (!s) return cudaErrorInvalidValue;
    *s = calloc(1, sizeof **s);
    (*s)->id = __atomic_fetch_add(&next_stream, 1, __ATOMIC_RELAXED);
    fake_record("cudaStreamCreate stream=%p id=%d", (void *)*s, (*s)->id);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    free(s);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

cudaError_t cudaGetDevice(int *d)
{
    if (!d) return cudaErrorInvalidValue;
    *d = 0;
    return cudaSuccess;
}
