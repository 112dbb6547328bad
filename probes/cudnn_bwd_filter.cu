// cudnn_bwd_filter: legacy cuDNN backward-filter convolution with a nondeterministic algorithm.
//
// cuDNN documents CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 (and _3) as non-deterministic: the
// weight gradient is accumulated across the batch with atomics. This probe runs
// cudnnConvolutionBackwardFilter with ALGO_0 five times on the same x and dy (beta = 0) and
// prints a digest per run, how many distinct results there were, and `digest <hex>` over all
// runs. (A shim that forces a deterministic algorithm makes all five equal.)
//
// Options: --algo N (default 0; 1 is deterministic).
// Build: nvcc --cudart shared -O2 -arch=sm_90 -o cudnn_bwd_filter cudnn_bwd_filter.cu -lcudnn

#include "probe_common.h"

#include <cudnn.h>

#include <vector>

#define CUDNN_CHECK(call)                                                                    \
    do {                                                                                     \
        cudnnStatus_t st_ = (call);                                                          \
        if (st_ != CUDNN_STATUS_SUCCESS) {                                                   \
            fprintf(stderr, "%s: %s failed at %s:%d: %s\n", probe_name, #call, __FILE__,   \
                    __LINE__, cudnnGetErrorString(st_));                                     \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static const int kRuns = 5;

int main(int argc, char **argv)
{
    int algo_arg = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--algo") && i + 1 < argc)
            algo_arg = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--algo N]\n", argv[0]);
            return 2;
        }
    }
    probe_require_gpu("cudnn_bwd_filter");
    const cudnnConvolutionBwdFilterAlgo_t algo = (cudnnConvolutionBwdFilterAlgo_t)algo_arg;

    // x: N x C x H x W, dy: N x K x H x W, dw: K x C x 3 x 3 (pad 1, stride 1)
    const int N = 64, C = 32, H = 32, W = 32, K = 32, R = 3, S = 3;

    cudnnHandle_t h;
    CUDNN_CHECK(cudnnCreate(&h));
    printf("cudnn_bwd_filter: cuDNN %zu, BWD_FILTER_ALGO_%d, x %dx%dx%dx%d, dw %dx%dx%dx%d, %d runs\n",
           cudnnGetVersion(), algo_arg, N, C, H, W, K, C, R, S, kRuns);

    cudnnTensorDescriptor_t xd, dyd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&dyd));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&wd));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(dyd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, K, H, W));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, R, S));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));

    size_t nx = (size_t)N * C * H * W, ndy = (size_t)N * K * H * W, nw = (size_t)K * C * R * S;
    std::vector<float> hx(nx), hdy(ndy);
    uint64_t rng = 7;
    for (auto &v : hx)
        v = (float)probe_rand_unit(&rng);
    for (auto &v : hdy)
        v = (float)probe_rand_unit(&rng);
    float *x, *dy, *dw;
    CUDA_CHECK(cudaMalloc(&x, nx * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&dy, ndy * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&dw, nw * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(x, hx.data(), nx * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dy, hdy.data(), ndy * sizeof(float), cudaMemcpyHostToDevice));

    size_t ws_bytes = 0;
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, xd, dyd, cd, wd, algo, &ws_bytes));
    void *ws = nullptr;
    if (ws_bytes)
        CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
    printf("workspace %zu bytes\n", ws_bytes);

    std::vector<float> out(nw);
    uint64_t digests[kRuns];
    probe_digest all;
    digest_init(&all);
    const float alpha = 1.0f, beta = 0.0f;
    for (int r = 0; r < kRuns; r++) {
        CUDA_CHECK(cudaMemset(dw, 0xff, nw * sizeof(float)));      // NaNs: beta=0 must overwrite
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &alpha, xd, x, dyd, dy, cd, algo, ws, ws_bytes,
                                                   &beta, wd, dw));
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaMemcpy(out.data(), dw, nw * sizeof(float), cudaMemcpyDeviceToHost));
        digests[r] = digest_of(out.data(), nw * sizeof(float));
        digest_bytes(&all, out.data(), nw * sizeof(float));
        printf("run %d: dw[0] %.9g run-digest %016llx\n", r, out[0], (unsigned long long)digests[r]);
    }
    int distinct = 0;
    for (int i = 0; i < kRuns; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= digests[i] == digests[j];
        distinct += !seen;
    }
    printf("distinct results: %d of %d runs (%s)\n", distinct, kRuns,
           distinct == 1 ? "reproducible this time" : "nondeterministic");
    int differing = 0;   // machine-readable: runs whose bits differ from run 0
    for (int i = 1; i < kRuns; i++)
        differing += digests[i] != digests[0];
    printf("result repeats=%d differing=%d\n", kRuns - 1, differing);
    printf("digest %016llx\n", (unsigned long long)all.h);

    cudaFree(ws);
    cudaFree(x);
    cudaFree(dy);
    cudaFree(dw);
    cudnnDestroyConvolutionDescriptor(cd);
    cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(dyd);
    cudnnDestroy(h);
    return 0;
}
