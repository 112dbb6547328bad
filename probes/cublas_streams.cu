// cublas_streams: one cuBLAS handle shared by several streams, no per-stream workspace.
//
// NVIDIA documents that cuBLAS is bitwise reproducible only while one stream is active, unless
// each stream has its own workspace (cublasSetWorkspace), each stream its own handle, or
// CUBLAS_WORKSPACE_CONFIG is set: with concurrent streams it may pick other internal
// implementations. This probe does exactly the unsafe thing: one handle, 4 streams,
// cublasSetStream between calls, many sgemm/dgemm of varied shapes (tall, wide, long-k,
// odd sizes) in flight at once. Prints the setup, and `digest <hex>` over all outputs.
// Run it twice (or with and without the shim) and compare the digest lines.
//
// Options: --streams N (default 4; 1 = the reproducible baseline), --rounds R (default 6).
// Build: nvcc --cudart shared -O2 -arch=sm_90 -o cublas_streams cublas_streams.cu -lcublas

#include "probe_common.h"

#include <cublas_v2.h>

#include <vector>

#define CUBLAS_CHECK(call)                                                                   \
    do {                                                                                     \
        cublasStatus_t st_ = (call);                                                         \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                  \
            fprintf(stderr, "%s: %s failed at %s:%d: %s\n", probe_name, #call, __FILE__,   \
                    __LINE__, cublasGetStatusString(st_));                                   \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

struct Shape { int m, n, k; };

// Varied shapes: square, tall-skinny, short-wide with long k (split-K candidates), odd sizes.
static const Shape kShapes[] = {
    {512, 512, 512}, {1024, 64, 4096}, {64, 64, 16384}, {333, 777, 1111},
    {2048, 256, 1024}, {96, 4096, 128}, {1, 1024, 8192}, {768, 768, 3072},
};
static const int kNumShapes = sizeof kShapes / sizeof kShapes[0];

struct Job {
    Shape s;
    bool dbl;
    void *a, *b, *c;
    size_t c_bytes;
};

static void fill(void *dev, size_t count, bool dbl, uint64_t seed)
{
    uint64_t rng = seed;
    if (dbl) {
        std::vector<double> h(count);
        for (size_t i = 0; i < count; i++)
            h[i] = probe_rand_unit(&rng);
        CUDA_CHECK(cudaMemcpy(dev, h.data(), count * sizeof(double), cudaMemcpyHostToDevice));
    } else {
        std::vector<float> h(count);
        for (size_t i = 0; i < count; i++)
            h[i] = (float)probe_rand_unit(&rng);
        CUDA_CHECK(cudaMemcpy(dev, h.data(), count * sizeof(float), cudaMemcpyHostToDevice));
    }
}

int main(int argc, char **argv)
{
    int nstreams = 4, rounds = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            nstreams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--streams N] [--rounds R]\n", argv[0]);
            return 2;
        }
    }
    if (nstreams < 1 || rounds < 1) {
        fprintf(stderr, "cublas_streams: --streams and --rounds must be at least 1\n");
        return 2;
    }
    probe_require_gpu("cublas_streams");

    cublasHandle_t handle;
    CUBLAS_CHECK(cublasCreate(&handle));
    int ver = 0;
    CUBLAS_CHECK(cublasGetVersion(handle, &ver));
    const char *ws = getenv("CUBLAS_WORKSPACE_CONFIG");
    printf("cublas_streams: cuBLAS %d, one handle, %d stream%s, no cublasSetWorkspace, "
           "CUBLAS_WORKSPACE_CONFIG=%s\n", ver, nstreams, nstreams == 1 ? "" : "s", ws ? ws : "(unset)");

    std::vector<cudaStream_t> streams(nstreams);
    for (auto &s : streams)
        CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    // One job per (round, shape, precision); each writes its own C.
    std::vector<Job> jobs;
    uint64_t seed = 1;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < kNumShapes; i++) {
            for (int dbl = 0; dbl < 2; dbl++) {
                Job j;
                j.s = kShapes[i];
                j.dbl = dbl;
                size_t el = dbl ? sizeof(double) : sizeof(float);
                CUDA_CHECK(cudaMalloc(&j.a, (size_t)j.s.m * j.s.k * el));
                CUDA_CHECK(cudaMalloc(&j.b, (size_t)j.s.k * j.s.n * el));
                j.c_bytes = (size_t)j.s.m * j.s.n * el;
                CUDA_CHECK(cudaMalloc(&j.c, j.c_bytes));
                fill(j.a, (size_t)j.s.m * j.s.k, dbl, seed++);
                fill(j.b, (size_t)j.s.k * j.s.n, dbl, seed++);
                jobs.push_back(j);
            }
        }
    }
    CUDA_CHECK(cudaDeviceSynchronize());

    // Issue everything round-robin over the streams, without waiting in between.
    for (size_t i = 0; i < jobs.size(); i++) {
        Job &j = jobs[i];
        CUBLAS_CHECK(cublasSetStream(handle, streams[i % nstreams]));
        if (j.dbl) {
            const double alpha = 1.0, beta = 0.0;
            CUBLAS_CHECK(cublasDgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, j.s.m, j.s.n, j.s.k, &alpha,
                                     (const double *)j.a, j.s.m, (const double *)j.b, j.s.k, &beta,
                                     (double *)j.c, j.s.m));
        } else {
            const float alpha = 1.0f, beta = 0.0f;
            CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, j.s.m, j.s.n, j.s.k, &alpha,
                                     (const float *)j.a, j.s.m, (const float *)j.b, j.s.k, &beta,
                                     (float *)j.c, j.s.m));
        }
    }
    CUDA_CHECK(cudaDeviceSynchronize());

    probe_digest all;
    digest_init(&all);
    std::vector<unsigned char> buf;
    for (size_t i = 0; i < jobs.size(); i++) {
        buf.resize(jobs[i].c_bytes);
        CUDA_CHECK(cudaMemcpy(buf.data(), jobs[i].c, jobs[i].c_bytes, cudaMemcpyDeviceToHost));
        digest_bytes(&all, buf.data(), buf.size());
        if (i < 2 * (size_t)kNumShapes)   // first round: one line per shape and precision
            printf("gemm %c %4dx%4dx%5d stream %zu: digest-part %016llx\n", jobs[i].dbl ? 'D' : 'S',
                   jobs[i].s.m, jobs[i].s.n, jobs[i].s.k, i % nstreams,
                   (unsigned long long)digest_of(buf.data(), buf.size()));
    }
    printf("%zu gemms (%d rounds x %d shapes x S/D)\n", jobs.size(), rounds, kNumShapes);
    printf("digest %016llx\n", (unsigned long long)all.h);

    for (auto &j : jobs) {
        cudaFree(j.a);
        cudaFree(j.b);
        cudaFree(j.c);
    }
    for (auto &s : streams)
        cudaStreamDestroy(s);
    cublasDestroy(handle);
    return 0;
}
