// hash_digest: device memory for hash mode's digest kernel to agree with the host on.
//
// Not a source of nondeterminism: a fixed sequence of copies, memsets and one integer kernel
// over buffers of awkward sizes (1 byte to 9 MiB + 3: more than one of the host fallback's
// 4 MiB chunks) at unaligned offsets with odd lengths, every byte of every allocation written
// before any launch reads it. tests/gpu/device_check.sh runs it under hash mode twice, with
// the digest kernel (DETSHIM_HASH=1) and with the host (DETSHIM_HASH=host), and compares the
// two traces digest by digest; within each, a copy's output digest must equal its input's.
// Prints `digest <hex>` of the final contents as every probe does.
//
// Build: nvcc --cudart shared -O2 -arch=sm_90 -o hash_digest hash_digest.cu

#include "probe_common.h"

#include <vector>

static const size_t kSizes[] = {1, 7, 8, 13, 4096 + 5, (9u << 20) + 3};
static const int kBufs = sizeof kSizes / sizeof *kSizes;

// y[i] = rotl(x[i], 7) * 2654435761 + i, on 32-bit words (integer: exact, order-free)
__global__ void scramble(unsigned *y, const unsigned *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = ((x[i] << 7) | (x[i] >> 25)) * 2654435761u + (unsigned)i;
}

int main(void)
{
    probe_require_gpu("hash_digest");
    unsigned char *d[kBufs];
    size_t total = 0;
    uint64_t rng = 0xd16e57;
    for (int b = 0; b < kBufs; b++) {
        size_t n = kSizes[b];
        std::vector<unsigned char> h(n);
        for (size_t i = 0; i < n; i++) h[i] = (unsigned char)probe_rand64(&rng);
        CUDA_CHECK(cudaMalloc(&d[b], n));
        CUDA_CHECK(cudaMemset(d[b], 0x5a, n));                                  // the whole allocation
        CUDA_CHECK(cudaMemcpy(d[b], h.data(), n, cudaMemcpyHostToDevice));        // aligned, whole
        if (n > 3) {
            CUDA_CHECK(cudaMemcpy(d[b] + 1, h.data(), n - 3, cudaMemcpyHostToDevice)); // unaligned, odd
            CUDA_CHECK(cudaMemset(d[b] + 3, 0xc3, (n - 3) / 2));
        }
        total += n;
    }
    // device to device between unaligned offsets of the two largest buffers
    size_t big = kSizes[kBufs - 1], mid = kSizes[kBufs - 2];
    CUDA_CHECK(cudaMemcpy(d[kBufs - 1] + 5, d[kBufs - 2] + 3, mid - 7, cudaMemcpyDeviceToDevice));
    // one launch reaching two allocations (digested before and after, each whole)
    scramble<<<256, 256>>>((unsigned *)d[kBufs - 1], (const unsigned *)d[kBufs - 2], mid / 4);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());

    probe_digest dg;
    digest_init(&dg);
    for (int b = 0; b < kBufs; b++) {
        std::vector<unsigned char> h(kSizes[b]);
        CUDA_CHECK(cudaMemcpy(h.data(), d[b], kSizes[b], cudaMemcpyDeviceToHost));
        digest_bytes(&dg, h.data(), h.size());
        CUDA_CHECK(cudaFree(d[b]));
    }
    printf("hash_digest: %d buffers, %zu bytes (largest %zu), %zu words scrambled\n", kBufs, total, big,
           mid / 4);
    printf("digest %016llx\n", (unsigned long long)dg.h);
    return 0;
}
