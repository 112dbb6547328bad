// Test kernels for `detshim scan` (tests/scan/test_scan.py).
//
// Each kernel isolates one kind of atomic (or none). The test compiles this file for two
// architectures into a shared library and asserts that the scanner flags exactly the kernels
// whose name starts with `fp_` (floating-point atomic reductions, run-to-run nondeterministic
// in the order of accumulation) and none of those starting with `ok_`.
//
// Keep every kernel's result observable (written to memory) so that nvcc cannot drop the
// atomic, and keep names distinct: the test matches them by name.

#include <cuda_fp16.h>
#include <cuda_bf16.h>

// ---- floating-point atomics: must be flagged ---------------------------------------------

// float atomicAdd to global memory, result unused -> a RED (reduction) instruction.
extern "C" __global__ void fp_add_f32_global(float *out, const float *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

// float atomicAdd to global memory, result used -> an ATOM (fetch-and-add) instruction.
extern "C" __global__ void fp_add_f32_global_ret(float *out, const float *in, float *old, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        old[i] = atomicAdd(out, in[i]);
}

// double atomicAdd to global memory (native since sm_60).
extern "C" __global__ void fp_add_f64_global(double *out, const double *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out + (i & 7), in[i]);
}

// half2 atomicAdd (packed, sm_60+).
extern "C" __global__ void fp_add_f16x2_global(__half2 *out, const __half2 *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

// scalar half atomicAdd (sm_70+).
extern "C" __global__ void fp_add_f16_global(__half *out, const __half *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

// bfloat162 atomicAdd (packed, sm_80+ natively).
extern "C" __global__ void fp_add_bf16x2_global(__nv_bfloat162 *out, const __nv_bfloat162 *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

// float atomicAdd on shared memory, then one plain store per block. Block-local accumulation
// order still varies with warp scheduling, so the block's partial sum is not reproducible.
extern "C" __global__ void fp_add_f32_shared(float *out, const float *in, int n)
{
    __shared__ float acc;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (threadIdx.x == 0)
        acc = 0.0f;
    __syncthreads();
    if (i < n)
        atomicAdd(&acc, in[i]);
    __syncthreads();
    if (threadIdx.x == 0)
        out[blockIdx.x] = acc;
}

// double atomicAdd on shared memory.
extern "C" __global__ void fp_add_f64_shared(double *out, const double *in, int n)
{
    __shared__ double acc;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (threadIdx.x == 0)
        acc = 0.0;
    __syncthreads();
    if (i < n)
        atomicAdd(&acc, in[i]);
    __syncthreads();
    if (threadIdx.x == 0)
        out[blockIdx.x] = acc;
}

// A C++ template in a namespace: the scanner must report it under its demangled name and
// write its mangled name, escaped, into the database.
namespace scantest {
template <typename T>
__global__ void fp_scatter_add(T *out, const int *idx, const T *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out + idx[i], in[i]);
}
template __global__ void fp_scatter_add<float>(float *, const int *, const float *, int);
template __global__ void fp_scatter_add<double>(double *, const int *, const double *, int);
} // namespace scantest

// ---- no floating-point atomics: must NOT be flagged ------------------------------------

extern "C" __global__ void ok_add_s32_global(int *out, const int *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

extern "C" __global__ void ok_add_s32_global_ret(int *out, const int *in, int *old, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        old[i] = atomicAdd(out, in[i]);
}

extern "C" __global__ void ok_add_u32_global(unsigned *out, const unsigned *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

extern "C" __global__ void ok_add_u64_global(unsigned long long *out, const unsigned long long *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(out, in[i]);
}

extern "C" __global__ void ok_cas_u32_global(unsigned *out, const unsigned *in, unsigned *old, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        old[i] = atomicCAS(out, 0u, in[i]);
}

extern "C" __global__ void ok_exch_u32_global(unsigned *out, const unsigned *in, unsigned *old, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        old[i] = atomicExch(out, in[i]);
}

// atomicExch on a float is a bit move, not an arithmetic reduction.
extern "C" __global__ void ok_exch_f32_global(float *out, const float *in, float *old, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        old[i] = atomicExch(out, in[i]);
}

extern "C" __global__ void ok_max_s32_global(int *out, const int *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicMax(out, in[i]);
}

// Integer atomics on shared memory (a histogram).
extern "C" __global__ void ok_add_u32_shared(unsigned *out, const unsigned char *in, int n)
{
    __shared__ unsigned hist[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    for (int b = threadIdx.x; b < 256; b += blockDim.x)
        hist[b] = 0;
    __syncthreads();
    if (i < n)
        atomicAdd(&hist[in[i]], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x)
        atomicAdd(&out[b], hist[b]);
}

// No atomics at all.
extern "C" __global__ void ok_plain_saxpy(float *y, const float *x, float a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}

// A fixed-order block reduction (shared-memory tree + warp shuffles), one plain store per
// block: deterministic, no atomics.
extern "C" __global__ void ok_block_reduce_f32(float *out, const float *in, int n)
{
    __shared__ float part[32];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    if ((threadIdx.x & 31) == 0)
        part[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        v = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0f;
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (threadIdx.x == 0)
            out[blockIdx.x] = v;
    }
}
