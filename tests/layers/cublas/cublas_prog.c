/* cublas_prog: drives the (fake) cuBLAS the way the cuBLAS layer's tests need.
 *
 *   cublas_prog create          one handle, created and destroyed
 *   cublas_prog streams         one handle; gemms on streams s1, s2, s1 (default workspace)
 *   cublas_prog sharedws        one handle; one program buffer set on s1, then on s2
 *   cublas_prog ownws           one handle; a program buffer per stream, set after each
 *                               cublasSetStream (PyTorch's per-(handle, stream) workspaces)
 *   cublas_prog atomics         cublasSetAtomicsMode(ALLOWED), cublasGetAtomicsMode, symv, hemv
 *   cublas_prog math M [M...]   cublasSetMathMode(M) then cublasGetMathMode, for each M
 *   cublas_prog threads T       T threads, each with its own handle on two streams
 *   cublas_prog manystreams N   one handle on N streams in turn
 *   cublas_prog torchstreams N  one handle on N streams, each with the program's own buffer
 *                               set right after cublasSetStream (PyTorch's pattern)
 *   cublas_prog newgemms        one handle; the gemm variants hooked since issue 15 on s1, s2
 *   cublas_prog emulation S B   cublasSetEmulationStrategy(S),
 *                               cublasSetFixedPointEmulationMaxMantissaBitCount(B)
 *   cublas_prog pendingerror    the program has a runtime error pending (a failed
 *                               __cudaGetKernel) while gemms run on two streams, then reads it
 *   cublas_prog dropstream      one handle, gemms on s1 and s2, then s1 destroyed while the
 *                               handle lives
 *   cublas_prog handles N       N handles created and destroyed in turn (table reuse)
 *
 * With CUBLAS_PROG_SETENV=VALUE the program sets CUBLAS_WORKSPACE_CONFIG=VALUE itself
 * before creating handles (as a Python program can through os.environ). Prints
 * "key=value" lines. Built twice: with libcudart (streams from cudaStreamCreate, buffers
 * from cudaMalloc) and without (-DNO_CUDART: opaque stream values, host buffers). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_api.h>

/* declared by cublas_api.h for C++ only (__half); the arguments are pointers */
cublasStatus_t cublasHgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                           int n, int k, const void *alpha, const void *A, int lda, const void *B, int ldb,
                           const void *beta, void *C, int ldc);
cublasStatus_t cublasHgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                                            const void *alpha, const void *A, int64_t lda, long long int strideA,
                                            const void *B, int64_t ldb, long long int strideB, const void *beta,
                                            void *C, int64_t ldc, long long int strideC, int64_t batchCount);
#ifndef NO_CUDART
#include <cuda_runtime_api.h>
#endif

static cudaStream_t new_stream(int i)
{
#ifndef NO_CUDART
    (void)i;
    cudaStream_t s = NULL;
    if (cudaStreamCreate(&s) != cudaSuccess) exit(3);
    return s;
#else
    return (cudaStream_t)(uintptr_t)(0x1000 * (i + 1));
#endif
}

static void del_stream(cudaStream_t s)
{
#ifndef NO_CUDART
    cudaStreamDestroy(s);
#else
    (void)s;
#endif
}

static void del_buffer(void *p)
{
#ifndef NO_CUDART
    cudaFree(p);
#else
    free(p);
#endif
}

static void *new_buffer(size_t n)
{
#ifndef NO_CUDART
    void *p = NULL;
    if (cudaMalloc(&p, n) != cudaSuccess) exit(3);
    return p;
#else
    return aligned_alloc(256, n);
#endif
}

static int sgemm(cublasHandle_t h)
{
    float a = 1, b = 0;
    return (int)cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &a, NULL, 4, NULL, 4, &b, NULL, 4);
}

static int dgemm64(cublasHandle_t h)
{
    double a = 1, b = 0;
    return (int)cublasDgemm_v2_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &a, NULL, 4, NULL, 4, &b, NULL, 4);
}

static int gemmex(cublasHandle_t h)
{
    float a = 1, b = 0;
    return (int)cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &a, NULL, CUDA_R_16F, 4, NULL, CUDA_R_16F, 4,
                             &b, NULL, CUDA_R_16F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

static cublasHandle_t create(void)
{
    cublasHandle_t h = NULL;
    cublasStatus_t st = cublasCreate_v2(&h);
    printf("create=%d\n", (int)st);
    if (st != CUBLAS_STATUS_SUCCESS) exit(4);
    return h;
}

/* static and noinline: the tests look for it in event stacks */
static __attribute__((noinline)) void run_on(cublasHandle_t h, cudaStream_t s, const char *tag)
{
    printf("setstream %s=%d\n", tag, (int)cublasSetStream_v2(h, s));
    printf("sgemm %s=%d\n", tag, sgemm(h));
    printf("dgemm64 %s=%d\n", tag, dgemm64(h));
    printf("gemmex %s=%d\n", tag, gemmex(h));
}

static pthread_barrier_t all_done; /* handles live together: their addresses stay distinct */

static void *thread_main(void *arg)
{
    (void)arg;
    cublasHandle_t h = create();
    cudaStream_t s1 = new_stream(1), s2 = new_stream(2);
    for (int i = 0; i < 20; i++) {
        run_on(h, s1, "t1");
        run_on(h, s2, "t2");
    }
    pthread_barrier_wait(&all_done);
    cublasDestroy_v2(h);
    del_stream(s1);
    del_stream(s2);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 1;
    const char *setenv_value = getenv("CUBLAS_PROG_SETENV");
    if (setenv_value) setenv("CUBLAS_WORKSPACE_CONFIG", setenv_value, 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!strcmp(cmd, "create")) {
        cublasDestroy_v2(create());
    } else if (!strcmp(cmd, "streams")) {
        cublasHandle_t h = create();
        cudaStream_t s1 = new_stream(1), s2 = new_stream(2);
        printf("s1=%p\ns2=%p\n", (void *)s1, (void *)s2);
        run_on(h, s1, "s1");
        run_on(h, s2, "s2");
        run_on(h, s1, "s1again");
        cublasDestroy_v2(h);
        del_stream(s1);
        del_stream(s2);
    } else if (!strcmp(cmd, "sharedws") || !strcmp(cmd, "ownws")) {
        bool shared = !strcmp(cmd, "sharedws");
        cublasHandle_t h = create();
        cudaStream_t s[2] = {new_stream(1), new_stream(2)};
        void *b[2];
        b[0] = new_buffer(1 << 20);
        b[1] = shared ? b[0] : new_buffer(1 << 20);
        printf("s1=%p\ns2=%p\nb1=%p\nb2=%p\n", (void *)s[0], (void *)s[1], b[0], b[1]);
        for (int round = 0; round < 2; round++)
            for (int i = 0; i < 2; i++) {
                printf("setstream=%d\n", (int)cublasSetStream_v2(h, s[i]));
                printf("setworkspace=%d\n", (int)cublasSetWorkspace_v2(h, b[i], 1 << 20));
                printf("sgemm=%d\n", sgemm(h));
            }
        cublasDestroy_v2(h);
        del_buffer(b[0]);
        if (!shared) del_buffer(b[1]);
        del_stream(s[0]);
        del_stream(s[1]);
    } else if (!strcmp(cmd, "atomics")) {
        cublasHandle_t h = create();
        printf("setatomics=%d\n", (int)cublasSetAtomicsMode(h, CUBLAS_ATOMICS_ALLOWED));
        cublasAtomicsMode_t m = (cublasAtomicsMode_t)-1;
        printf("getatomics=%d\n", (int)cublasGetAtomicsMode(h, &m));
        printf("atomics=%d\n", (int)m);
        float fa = 1, fb = 0;
        printf("ssymv=%d\n", (int)cublasSsymv_v2(h, CUBLAS_FILL_MODE_LOWER, 4, &fa, NULL, 4, NULL, 1, &fb, NULL, 1));
        cuDoubleComplex za = {1, 0}, zb = {0, 0};
        printf("zhemv64=%d\n",
               (int)cublasZhemv_v2_64(h, CUBLAS_FILL_MODE_LOWER, 4, &za, NULL, 4, NULL, 1, &zb, NULL, 1));
        printf("setatomics0=%d\n", (int)cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED));
        cublasDestroy_v2(h);
    } else if (!strcmp(cmd, "math")) {
        cublasHandle_t h = create();
        cublasMath_t m = (cublasMath_t)-1;
        cublasGetMathMode(h, &m);
        printf("math_at_create=%d\n", (int)m);
        for (int i = 2; i < argc; i++) {
            printf("setmath=%d\n", (int)cublasSetMathMode(h, (cublasMath_t)atoi(argv[i])));
            cublasGetMathMode(h, &m);
            printf("math=%d\n", (int)m);
        }
        cublasDestroy_v2(h);
    } else if (!strcmp(cmd, "threads")) {
        pthread_t t[32];
        if (n > 32) n = 32;
        pthread_barrier_init(&all_done, NULL, (unsigned)n);
        for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, thread_main, NULL);
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    } else if (!strcmp(cmd, "manystreams")) {
        cublasHandle_t h = create();
        int bad = 0;
        cudaStream_t s[64];
        if (n > 64) n = 64;
        for (int i = 0; i < n; i++) { /* all alive at once: distinct streams */
            s[i] = new_stream(i);
            cublasSetStream_v2(h, s[i]);
            bad += sgemm(h) != 0;
        }
        printf("failed=%d\n", bad);
        cublasDestroy_v2(h);
        for (int i = 0; i < n; i++) del_stream(s[i]);
    } else if (!strcmp(cmd, "torchstreams")) {
        cublasHandle_t h = create();
        int bad = 0;
        cudaStream_t s[64];
        void *b[64];
        if (n > 64) n = 64;
        for (int i = 0; i < n; i++) {
            s[i] = new_stream(i);
            b[i] = new_buffer(1 << 16);
            cublasSetStream_v2(h, s[i]);
            cublasSetWorkspace_v2(h, b[i], 1 << 16);
            bad += sgemm(h) != 0;
        }
        printf("failed=%d\n", bad);
        cublasDestroy_v2(h);
        for (int i = 0; i < n; i++) {
            del_stream(s[i]);
            del_buffer(b[i]);
        }
    } else if (!strcmp(cmd, "newgemms")) {
        cublasHandle_t h = create();
        cudaStream_t s[2] = {new_stream(1), new_stream(2)};
        printf("s1=%p\ns2=%p\n", (void *)s[0], (void *)s[1]);
        static char mem[8][64];
        for (int i = 0; i < 2; i++) {
            printf("setstream=%d\n", (int)cublasSetStream_v2(h, s[i]));
            printf("hgemm=%d\n", (int)cublasHgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 11, 12, 13, mem[0], mem[1], 14,
                                                    mem[2], 15, mem[3], mem[4], 16));
            printf("hgemmsb64=%d\n", (int)cublasHgemmStridedBatched_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, mem[0],
                                                                        mem[1], 4, 16, mem[2], 4, 16, mem[3],
                                                                        mem[4], 4, 16, 3));
            cuComplex ca = {1, 0}, cb = {0, 0};
            printf("cgemmex=%d\n", (int)cublasCgemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &ca, mem[1], CUDA_C_32F,
                                                        4, mem[2], CUDA_C_32F, 4, &cb, mem[4], CUDA_C_32F, 4));
            cuDoubleComplex za = {1, 0}, zb = {0, 0};
            printf("zgemm3m64=%d\n", (int)cublasZgemm3m_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &za, NULL, 4,
                                                             NULL, 4, &zb, NULL, 4));
            cublasOperation_t op = CUBLAS_OP_N;
            int four = 4, one = 1;
            float fa = 1, fb = 0;
            printf("sgrouped=%d\n", (int)cublasSgemmGroupedBatched(h, &op, &op, &four, &four, &four, &fa, NULL,
                                                                     &four, NULL, &four, &fb, NULL, &four, 1,
                                                                     &one));
        }
        cublasDestroy_v2(h);
        del_stream(s[0]);
        del_stream(s[1]);
#if CUBLAS_VER_MAJOR >= 13 /* cuBLAS 13's emulation controls */
    } else if (!strcmp(cmd, "emulation")) {
        cublasHandle_t h = create();
        printf("setemulation=%d\n", (int)cublasSetEmulationStrategy(h, (cublasEmulationStrategy_t)atoi(argv[2])));
        printf("setmantissa=%d\n",
               (int)cublasSetFixedPointEmulationMaxMantissaBitCount(h, argc > 3 ? atoi(argv[3]) : 0));
        cublasDestroy_v2(h);
#else
    } else if (!strcmp(cmd, "emulation")) {
        puts("emulation: built against headers without cuBLAS 13's emulation controls");
        return 77;
#endif
    } else if (!strcmp(cmd, "pendingerror")) {
#ifndef NO_CUDART
        extern cudaError_t __cudaGetKernel(cudaKernel_t *, const void *);
        cublasHandle_t h = create();
        cudaStream_t s1 = new_stream(1), s2 = new_stream(2);
        cudaKernel_t k;
        printf("getkernel=%d\n", (int)__cudaGetKernel(&k, (const void *)main) != 0);
        run_on(h, s1, "s1");
        run_on(h, s2, "s2");
        printf("lasterror=%d\n", (int)cudaGetLastError());
        cublasDestroy_v2(h);
        del_stream(s1);
        del_stream(s2);
#endif
    } else if (!strcmp(cmd, "dropstream")) {
        cublasHandle_t h = create();
        cudaStream_t s1 = new_stream(1), s2 = new_stream(2);
        printf("s1=%p\ns2=%p\n", (void *)s1, (void *)s2);
        run_on(h, s1, "s1");
        run_on(h, s2, "s2");
        del_stream(s1);
        run_on(h, s2, "s2again");
        cublasDestroy_v2(h);
        del_stream(s2);
    } else if (!strcmp(cmd, "args")) {
        /* cublasGemmEx (19 arguments, 13 on the stack) with a distinct value in each, n
         * times: the first call takes the layer's full check, later ones its fast way */
        cublasHandle_t h = create();
        cudaStream_t s = new_stream(1);
        cublasSetStream_v2(h, s);
        static char mem[8][64];
        for (int i = 0; i < n; i++)
            printf("gemmex=%d\n",
                   (int)cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_C, 11, 12, 13, mem[0], mem[1], CUDA_R_16F,
                                     14, mem[2], CUDA_R_16BF, 15, mem[3], mem[4], CUDA_R_32F, 16,
                                     CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_ALGO5));
        printf("args %d %d %d %d %d %p %p %d %d %p %d %d %p %p %d %d %d %d\n", (int)CUBLAS_OP_T,
               (int)CUBLAS_OP_C, 11, 12, 13, (void *)mem[0], (void *)mem[1], (int)CUDA_R_16F, 14,
               (void *)mem[2], (int)CUDA_R_16BF, 15, (void *)mem[3], (void *)mem[4], (int)CUDA_R_32F,
               16, (int)CUBLAS_COMPUTE_32F_FAST_TF32, (int)CUBLAS_GEMM_ALGO5);
        cublasDestroy_v2(h);
        del_stream(s);
    } else if (!strcmp(cmd, "handles")) {
        int bad = 0;
        for (int i = 0; i < n; i++) {
            cublasHandle_t h = NULL;
            if (cublasCreate_v2(&h) != CUBLAS_STATUS_SUCCESS) {
                bad++;
                continue;
            }
            cudaStream_t s = new_stream(i % 4);
            cublasSetStream_v2(h, s);
            bad += sgemm(h) != 0;
            cublasDestroy_v2(h);
            del_stream(s);
        }
        printf("failed=%d\n", bad);
    } else {
        return 2;
    }
    return 0;
}
