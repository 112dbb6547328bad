/* digest_kernel.cu: hash mode's digest of device memory, computed on the device (the digest
 * itself is defined in digest.h, shared with the host).
 *
 * Not compiled by the build: shim/hash/digest_ptx.sh turns it into shim/hash/digest_kernel.ptx, which is
 * committed and embedded into the library (the build needs no nvcc); tests/hash/t_ptx.sh fails
 * when the committed PTX is stale. hash_digest.c loads that PTX once per CUDA context and launches
 * one kernel per range, with blocks of 256 threads (a multiple of the warp size: every lane
 * of every warp takes part in the shuffles):
 *
 *     detshim_digest(p, n, slot):  *slot += the sum of digest.h's terms of [p, p + n)
 *
 * The caller zeroes the slot before and applies ds_digest_final(*slot, n) after. Integer
 * sums are exact, so the order in which warps add theirs does not matter. */
#include "digest.h"

extern "C" __global__ void __launch_bounds__(256)
detshim_digest(const unsigned char *p, unsigned long long n, unsigned long long *slot)
{
    const unsigned long long words = (n + 7) / 8;
    /* whole 8-byte loads need an aligned start; otherwise words are read byte by byte */
    const int whole_loads = ((unsigned long long)p & 7) == 0;
    uint64_t sum = 0;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         i < words; i += (unsigned long long)gridDim.x * blockDim.x)
        sum += ds_digest_term(ds_digest_word(p, n, i, whole_loads), i);
    /* the warp's partial sums into lane 0, then one atomic per warp */
    for (int d = 16; d > 0; d >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, d);
    if ((threadIdx.x & 31) == 0 && sum != 0) atomicAdd(slot, (unsigned long long)sum);
}
