/* lt_prog: drives the (fake) cuBLASLt the way PyTorch does (CUDABlas.cpp): a matmul
 * descriptor and four layouts per problem, a fresh preference per call whose
 * MIN_ALIGNMENT_{A,B,C,D}_BYTES are the buffers' real alignments, the heuristic asked
 * for one algorithm, and cublasLtMatmul with it.
 *
 *   lt_prog heur K OFFSET...   for each OFFSET (bytes added to 256-aligned buffers), the
 *                              heuristic for an M=N=64, K float problem, then the matmul
 *   lt_prog null K OFFSET...   the same problem, cublasLtMatmul with a NULL algo
 *   lt_prog badhandle K        cublasLtMatmul with a NULL handle and a NULL algo (no
 *                              cublasLtCreate: runs against the real library without a GPU)
 *   lt_prog internalmatmul K   cublasLtMatmul (a given algo) called from inside the fake
 *                              libcublas, as cuBLAS runs its routines
 *   lt_prog threads T          T threads, each 10 heuristic calls on its own problem
 *   lt_prog internal K OFFSET  the heuristic asked from inside the fake libcublas (as cuBLAS
 *                              does for its own routines)
 *
 * LT_MASK=m makes the program set its own REDUCTION_SCHEME_MASK. Prints "key=value"
 * lines, among them the program's preference as read back after the call (the shim
 * must not change it). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>

static uint32_t align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && a % al) al /= 2;
    return al;
}

struct problem {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t l[4];
};

static void problem_make(struct problem *p, uint64_t k)
{
    if (cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS) exit(3);
    int32_t t = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t);
    cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &t, sizeof t);
    uint64_t dims[4][2] = {{64, k}, {k, 64}, {64, 64}, {64, 64}};
    for (int i = 0; i < 4; i++)
        if (cublasLtMatrixLayoutCreate(&p->l[i], CUDA_R_32F, dims[i][0], dims[i][1], (int64_t)dims[i][0]) !=
            CUBLAS_STATUS_SUCCESS)
            exit(3);
}

static void problem_free(struct problem *p)
{
    for (int i = 0; i < 4; i++) cublasLtMatrixLayoutDestroy(p->l[i]);
    cublasLtMatmulDescDestroy(p->desc);
}

static char *base;

/* in the fake libcublas: calls cublasLtMatmul from inside it */
cublasStatus_t fake_cublas_internal_matmul(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc, const void *alpha,
                                           const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
                                           cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
                                           cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
                                           const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsSize,
                                           cudaStream_t stream);
/* in the fake libcublas: calls cublasLtMatmulAlgoGetHeuristic from inside it */
cublasStatus_t fake_cublas_internal_heuristic(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *count);
static int internal;

static __attribute__((noinline)) int heuristic_here(cublasLtHandle_t h, struct problem *p, const void *ptr[4],
                                                    cublasLtMatmulHeuristicResult_t *res, int quiet)
{
    cublasLtMatmulPreference_t pref;
    if (cublasLtMatmulPreferenceCreate(&pref) != CUBLAS_STATUS_SUCCESS) exit(3);
    uint64_t ws = 1 << 20;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    const char *m = getenv("LT_MASK");
    if (m) {
        uint32_t mask = (uint32_t)strtoul(m, NULL, 0);
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask, sizeof mask);
    }
    for (int i = 0; i < 4; i++) {
        uint32_t a = align_of(ptr[i]);
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i, &a, sizeof a);
    }
    int n = -1;
    cublasStatus_t st =
        internal ? fake_cublas_internal_heuristic(h, p->desc, p->l[0], p->l[1], p->l[2], p->l[3], pref, 1, res, &n)
                 : cublasLtMatmulAlgoGetHeuristic(h, p->desc, p->l[0], p->l[1], p->l[2], p->l[3], pref, 1, res, &n);
    if (!quiet) {
        uint32_t al[4], mask;
        for (int i = 0; i < 4; i++)
            cublasLtMatmulPreferenceGetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i, &al[i],
                                                 sizeof al[i], NULL);
        cublasLtMatmulPreferenceGetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask, sizeof mask,
                                             NULL);
        printf("pref align=%u,%u,%u,%u mask=%u\n", al[0], al[1], al[2], al[3], mask);
        int32_t id = -1, splitk = -1;
        uint32_t red = 99;
        if (st == CUBLAS_STATUS_SUCCESS && n > 0) {
            cublasLtMatmulAlgoConfigGetAttribute(&res->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, NULL);
            cublasLtMatmulAlgoConfigGetAttribute(&res->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk,
                                                 NULL);
            cublasLtMatmulAlgoConfigGetAttribute(&res->algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red,
                                                 NULL);
        }
        printf("heur status=%d count=%d id=%d splitk=%d reduction=%u\n", (int)st, n, (int)id, (int)splitk, red);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    return st == CUBLAS_STATUS_SUCCESS && n > 0;
}

static void pointers(int off, const void *ptr[4])
{
    for (int i = 0; i < 4; i++) ptr[i] = base + (size_t)i * (1 << 20) + (size_t)off;
}

static void *thread_main(void *arg)
{
    cublasLtHandle_t h;
    cublasLtCreate(&h);
    struct problem p;
    problem_make(&p, 64 + (uint64_t)(uintptr_t)arg);
    for (int i = 0; i < 10; i++) {
        const void *ptr[4];
        pointers(i % 2 ? 16 : 0, ptr);
        cublasLtMatmulHeuristicResult_t res;
        heuristic_here(h, &p, ptr, &res, 1);
    }
    problem_free(&p);
    cublasLtDestroy(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    base = aligned_alloc(256, 4 << 20);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "badhandle")) {
        struct problem p;
        problem_make(&p, (uint64_t)atoi(argv[2]));
        float one = 1, zero = 0;
        printf("matmul=%d\n", (int)cublasLtMatmul(NULL, p.desc, &one, base, p.l[0], base + 65536, p.l[1], &zero,
                                                    base + 131072, p.l[2], base + 131072, p.l[3], NULL,
                                                    base + 262144, 1 << 20, NULL));
        problem_free(&p);
        return 0;
    }
    cublasLtHandle_t h;
    if (cublasLtCreate(&h) != CUBLAS_STATUS_SUCCESS) return 3;
    if (!strcmp(cmd, "internalmatmul")) {
        struct problem p;
        problem_make(&p, (uint64_t)atoi(argv[2]));
        float one = 1, zero = 0;
        cublasLtMatmulAlgo_t algo;
        memset(&algo, 0, sizeof algo);
        printf("matmul=%d\n", (int)fake_cublas_internal_matmul(h, p.desc, &one, base, p.l[0], base + 65536, p.l[1],
                                                                &zero, base + 131072, p.l[2], base + 131072, p.l[3],
                                                                &algo, base + 262144, 1 << 20, NULL));
        problem_free(&p);
        return 0;
    }
    if (!strcmp(cmd, "threads")) {
        int n = atoi(argv[2]);
        pthread_t t[32];
        if (n > 32) n = 32;
        for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)i);
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
        puts("threads done");
        return 0;
    }
    struct problem p;
    problem_make(&p, strtoull(argv[2], NULL, 10));
    for (int a = 3; a < argc; a++) {
        int off = atoi(argv[a]);
        const void *ptr[4];
        pointers(off, ptr);
        printf("offset=%d\n", off);
        float alpha = 1, beta = 0;
        internal = !strcmp(cmd, "internal");
        if (!strcmp(cmd, "heur") || internal) {
            cublasLtMatmulHeuristicResult_t res;
            if (heuristic_here(h, &p, ptr, &res, 0))
                printf("matmul=%d\n", (int)cublasLtMatmul(h, p.desc, &alpha, ptr[0], p.l[0], ptr[1], p.l[1], &beta,
                                                          ptr[2], p.l[2], (void *)ptr[3], p.l[3], &res.algo, NULL, 0,
                                                          NULL));
        } else if (!strcmp(cmd, "null")) {
            printf("matmul=%d\n", (int)cublasLtMatmul(h, p.desc, &alpha, ptr[0], p.l[0], ptr[1], p.l[1], &beta,
                                                      ptr[2], p.l[2], (void *)ptr[3], p.l[3], NULL, NULL, 1 << 20,
                                                      NULL));
        } else
            return 2;
    }
    problem_free(&p);
    cublasLtDestroy(h);
    free(base);
    return 0;
}
