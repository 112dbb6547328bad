// atomic_sum: float atomicAdd into one cell is nondeterministic.
//
// Sums 2^22 floats of mixed sign and magnitude into a single float with atomicAdd, 8 times on
// the same input. The order in which threads win the atomic differs from launch to launch, and
// float addition is not associative, so the 8 results usually differ in their low bits.
// Prints one line per launch (value, bits, per-launch digest), how many distinct results there
// were, and `digest <hex>` over all 8 results. No library but the CUDA runtime.
//
// Build: nvcc --cudart shared -O2 -arch=sm_90 -o atomic_sum atomic_sum.cu

#include "probe_common.h"

#include <vector>

static const int kLog2N = 22;
static const int kLaunches = 8;

__global__ void atomic_sum_kernel(float *cell, const float *x, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        atomicAdd(cell, x[i]);
}

int main(void)
{
    probe_require_gpu("atomic_sum");
    const int n = 1 << kLog2N;

    std::vector<float> host(n);
    uint64_t rng = 0x5eed;
    double exact = 0.0;
    for (int i = 0; i < n; i++) {
        // mixed magnitudes make the rounding depend on the order
        double u = probe_rand_unit(&rng);
        double scale = (i % 7 == 0) ? 1000.0 : (i % 3 == 0) ? 0.001 : 1.0;
        host[i] = (float)(u * scale);
        exact += (double)host[i];
    }

    float *d_x = nullptr, *d_cell = nullptr;
    CUDA_CHECK(cudaMalloc(&d_x, (size_t)n * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d_cell, sizeof(float)));
    CUDA_CHECK(cudaMemcpy(d_x, host.data(), (size_t)n * sizeof(float), cudaMemcpyHostToDevice));

    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const int threads = 256;
    const int blocks = sms * 8;

    printf("atomic_sum: %d floats into one cell, %d launches of %dx%d threads (exact sum %.6f)\n",
           n, kLaunches, blocks, threads, exact);

    float results[kLaunches];
    for (int l = 0; l < kLaunches; l++) {
        CUDA_CHECK(cudaMemset(d_cell, 0, sizeof(float)));
        atomic_sum_kernel<<<blocks, threads>>>(d_cell, d_x, n);
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaMemcpy(&results[l], d_cell, sizeof(float), cudaMemcpyDeviceToHost));
        uint32_t bits;
        memcpy(&bits, &results[l], sizeof bits);
        printf("launch %d: sum %.9g bits 0x%08x launch-digest %016llx\n", l, results[l], bits,
               (unsigned long long)digest_of(&results[l], sizeof(float)));
    }

    int distinct = 0;
    for (int i = 0; i < kLaunches; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= memcmp(&results[i], &results[j], sizeof(float)) == 0;
        distinct += !seen;
    }
    printf("distinct results: %d of %d launches (%s)\n", distinct, kLaunches,
           distinct == 1 ? "reproducible this time" : "nondeterministic");
    int differing = 0;   // machine-readable: launches whose bits differ from launch 0
    for (int i = 1; i < kLaunches; i++)
        differing += memcmp(&results[i], &results[0], sizeof(float)) != 0;
    printf("result repeats=%d differing=%d\n", kLaunches - 1, differing);
    printf("digest %016llx\n", (unsigned long long)digest_of(results, sizeof results));

    CUDA_CHECK(cudaFree(d_x));
    CUDA_CHECK(cudaFree(d_cell));
    return 0;
}
