/* A fake libcublasLt.so.13, compiled from the real cublasLt.h.
 *
 * What it imitates, and from which observation (CUDA 13.1's libcublasLt.so.13 in
 * /usr/local/cuda/lib, no GPU): descriptor, layout and preference calls work without a
 * device, with the attribute sizes checked; cublasLtMatmul and the heuristic with a NULL
 * handle return CUBLAS_STATUS_NOT_INITIALIZED (1) (observed: tests/layers/cublas
 * t_lt_matmul.sh runs the same program against both); cublasLtCreate fails without a GPU
 * on the real one and succeeds here. The address-dependent heuristic below is a model of
 * what PyTorch's alignment preferences expose, not an observation.
 *
 * Descriptors, layouts and preferences are small host objects holding attribute values
 * with the sizes cublasLt.h documents (a get or set with another size fails, as in the
 * real library). The heuristic is deliberately address-dependent, like the real one:
 *   algo id 1 when every MIN_ALIGNMENT_{A,B,C,D}_BYTES preference is >= 256, else id 2;
 *   for k >= 1024 it splits K (4 ways) with the first reduction scheme the preference's
 *   REDUCTION_SCHEME_MASK allows, in the order INPLACE, COMPUTE_TYPE, OUTPUT_TYPE; with
 *   none allowed (or k < 1024) it does not split (scheme NONE, SPLITK_NUM 1).
 * With FAKE_CUBLASLT_NEED_ALIGN=N set, the heuristic finds nothing (NOT_SUPPORTED) when
 * an alignment preference is below N. cublasLtMatmul with a NULL algo chooses the same
 * way from the real pointer alignments. Everything is recorded (fake_record.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>

#include "fake_record.h"

size_t cublasLtGetVersion(void) { return 130100; }

enum kind { K_DESC, K_LAYOUT, K_PREF };
#define NATTR 40

struct obj {
    enum kind kind;
    unsigned char v[NATTR][8];
};

/* attribute sizes by kind (0: no such attribute) */
static size_t attr_size(enum kind k, int a)
{
    if (a < 0 || a >= NATTR) return 0;
    switch (k) {
    case K_DESC:
        switch (a) {
        case CUBLASLT_MATMUL_DESC_FAST_ACCUM: return 1;
        case CUBLASLT_MATMUL_DESC_BIAS_POINTER: case CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE:
        case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER: case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD:
        case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE:
        case CUBLASLT_MATMUL_DESC_ALPHA_VECTOR_BATCH_STRIDE:
        case CUBLASLT_MATMUL_DESC_A_SCALE_POINTER: case CUBLASLT_MATMUL_DESC_B_SCALE_POINTER:
        case CUBLASLT_MATMUL_DESC_C_SCALE_POINTER: case CUBLASLT_MATMUL_DESC_D_SCALE_POINTER:
        case CUBLASLT_MATMUL_DESC_AMAX_D_POINTER: case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_SCALE_POINTER:
        case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_AMAX_POINTER:
        case CUBLASLT_MATMUL_DESC_D_OUT_SCALE_POINTER: case CUBLASLT_MATMUL_DESC_EMULATION_DESCRIPTOR:
            return 8;
        case 9: case 16: case 27: case 28: case 29: case 30: return 0;
        default: return a <= 38 ? 4 : 0;
        }
    case K_LAYOUT:
        switch (a) {
        case CUBLASLT_MATRIX_LAYOUT_ROWS: case CUBLASLT_MATRIX_LAYOUT_COLS: case CUBLASLT_MATRIX_LAYOUT_LD:
        case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: case CUBLASLT_MATRIX_LAYOUT_PLANE_OFFSET:
            return 8;
        default: return a <= 8 ? 4 : 0;
        }
    case K_PREF:
        switch (a) {
        case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: case CUBLASLT_MATMUL_PREF_IMPL_MASK: return 8;
        case CUBLASLT_MATMUL_PREF_SEARCH_MODE: case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK:
        case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
        case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
        case CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT:
            return 4;
        default: return 0;
        }
    }
    return 0;
}

static void put32(struct obj *o, int a, uint32_t v) { memcpy(o->v[a], &v, 4); }
static void put64(struct obj *o, int a, uint64_t v) { memcpy(o->v[a], &v, 8); }
static uint32_t get32(const struct obj *o, int a)
{
    uint32_t v;
    memcpy(&v, o->v[a], 4);
    return v;
}
static uint64_t get64(const struct obj *o, int a)
{
    uint64_t v;
    memcpy(&v, o->v[a], 8);
    return v;
}

static cublasStatus_t set_attr(struct obj *o, enum kind k, int a, const void *buf, size_t n)
{
    if (!o || o->kind != k) return CUBLAS_STATUS_NOT_INITIALIZED;
    size_t want = attr_size(k, a);
    if (!want || !buf || n != want) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(o->v[a], buf, n);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t get_attr(const struct obj *o, enum kind k, int a, void *buf, size_t n, size_t *written)
{
    if (!o || o->kind != k) return CUBLAS_STATUS_NOT_INITIALIZED;
    size_t want = attr_size(k, a);
    if (!want) return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0) {
        if (!written) return CUBLAS_STATUS_INVALID_VALUE;
        *written = want;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || n != want) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(buf, o->v[a], n);
    if (written) *written = want;
    return CUBLAS_STATUS_SUCCESS;
}

static struct obj *new_obj(enum kind k)
{
    struct obj *o = calloc(1, sizeof *o);
    if (o) o->kind = k;
    return o;
}

/* ---- handle ----------------------------------------------------------------------- */
struct cublasLtContext { int dummy; };

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    if (!h) return CUBLAS_STATUS_INVALID_VALUE;
    *h = calloc(1, sizeof **h);
    return *h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

/* ---- matmul descriptor ------------------------------------------------------------- */
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType)
{
    if (!d) return CUBLAS_STATUS_INVALID_VALUE;
    struct obj *o = new_obj(K_DESC);
    if (!o) return CUBLAS_STATUS_ALLOC_FAILED;
    put32(o, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, (uint32_t)computeType);
    put32(o, CUBLASLT_MATMUL_DESC_SCALE_TYPE, (uint32_t)scaleType);
    put32(o, CUBLASLT_MATMUL_DESC_FILL_MODE, CUBLAS_FILL_MODE_FULL);
    put32(o, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_DEFAULT);
    put32(o, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, (uint32_t)-1);
    put32(o, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, (uint32_t)-1);
    *d = (cublasLtMatmulDesc_t)o;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
    free(d);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              const void *buf, size_t n)
{
    return set_attr((struct obj *)d, K_DESC, (int)a, buf, n);
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              void *buf, size_t n, size_t *written)
{
    return get_attr((const struct obj *)d, K_DESC, (int)a, buf, n, written);
}

/* ---- matrix layout ----------------------------------------------------------------- */
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld)
{
    if (!l) return CUBLAS_STATUS_INVALID_VALUE;
    struct obj *o = new_obj(K_LAYOUT);
    if (!o) return CUBLAS_STATUS_ALLOC_FAILED;
    put32(o, CUBLASLT_MATRIX_LAYOUT_TYPE, (uint32_t)type);
    put64(o, CUBLASLT_MATRIX_LAYOUT_ROWS, rows);
    put64(o, CUBLASLT_MATRIX_LAYOUT_COLS, cols);
    put64(o, CUBLASLT_MATRIX_LAYOUT_LD, (uint64_t)ld);
    put32(o, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, 1);
    *l = (cublasLtMatrixLayout_t)o;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
    free(l);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a,
                                                const void *buf, size_t n)
{
    return set_attr((struct obj *)l, K_LAYOUT, (int)a, buf, n);
}

cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a,
                                                void *buf, size_t n, size_t *written)
{
    return get_attr((const struct obj *)l, K_LAYOUT, (int)a, buf, n, written);
}

/* ---- preference ------------------------------------------------------------------- */
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
    if (!p) return CUBLAS_STATUS_INVALID_VALUE;
    struct obj *o = new_obj(K_PREF);
    if (!o) return CUBLAS_STATUS_ALLOC_FAILED;
    put32(o, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, CUBLASLT_REDUCTION_SCHEME_MASK);
    for (int a = CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES; a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES; a++)
        put32(o, a, 256);
    put64(o, CUBLASLT_MATMUL_PREF_IMPL_MASK, UINT64_MAX);
    *p = (cublasLtMatmulPreference_t)o;
    fake_record("cublasLtMatmulPreferenceCreate pref=%p", (void *)o);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
    fake_record("cublasLtMatmulPreferenceDestroy pref=%p", (void *)p);
    free(p);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                    size_t n)
{
    return set_attr((struct obj *)p, K_PREF, (int)a, buf, n);
}

cublasStatus_t cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, void *buf,
                                                    size_t n, size_t *written)
{
    return get_attr((const struct obj *)p, K_PREF, (int)a, buf, n, written);
}

/* ---- algorithms -------------------------------------------------------------------- */
/* algo.data: [0] id, [1] tile, [2] split-K, [3] reduction scheme */
static void choose(const struct obj *desc, const struct obj *a, const uint32_t align[4], uint32_t mask,
                   cublasLtMatmulAlgo_t *algo)
{
    int all256 = 1;
    for (int i = 0; i < 4; i++) all256 &= align[i] >= 256;
    uint32_t transa = desc ? get32(desc, CUBLASLT_MATMUL_DESC_TRANSA) : 0;
    uint64_t k = a ? get64(a, transa == CUBLAS_OP_N ? CUBLASLT_MATRIX_LAYOUT_COLS : CUBLASLT_MATRIX_LAYOUT_ROWS) : 0;
    uint32_t red = CUBLASLT_REDUCTION_SCHEME_NONE, splitk = 1;
    if (k >= 1024) {
        static const uint32_t order[] = {CUBLASLT_REDUCTION_SCHEME_INPLACE, CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE,
                                         CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE};
        for (int i = 0; i < 3; i++)
            if (mask & order[i]) {
                red = order[i];
                splitk = 4;
                break;
            }
    }
    memset(algo, 0, sizeof *algo);
    algo->data[0] = all256 ? 1 : 2;
    algo->data[1] = all256 ? 10 : 20;
    algo->data[2] = splitk;
    algo->data[3] = red;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *count)
{
    const struct obj *p = (const struct obj *)pref;
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!desc || !A || !B || !C || !D || !p || p->kind != K_PREF || requested < 1 || !results || !count)
        return CUBLAS_STATUS_INVALID_VALUE;
    uint32_t align[4];
    for (int i = 0; i < 4; i++) align[i] = get32(p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i);
    uint32_t mask = get32(p, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK);
    const char *need = getenv("FAKE_CUBLASLT_NEED_ALIGN");
    uint32_t need_align = need ? (uint32_t)strtoul(need, NULL, 10) : 0;
    for (int i = 0; i < 4; i++)
        if (align[i] < need_align) {
            fake_record("cublasLtMatmulAlgoGetHeuristic pref=%p align=%u,%u,%u,%u mask=%u ws=%llu -> none",
                        (const void *)p, align[0], align[1], align[2], align[3], mask,
                        (unsigned long long)get64(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES));
            *count = 0;
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
    memset(results, 0, sizeof *results);
    choose((const struct obj *)desc, (const struct obj *)A, align, mask, &results[0].algo);
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *count = 1;
    fake_record("cublasLtMatmulAlgoGetHeuristic pref=%p align=%u,%u,%u,%u mask=%u ws=%llu -> id=%d splitk=%d "
                "reduction=%d",
                (const void *)p, align[0], align[1], align[2], align[3], mask,
                (unsigned long long)get64(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES),
                (int)results[0].algo.data[0], (int)results[0].algo.data[2], (int)results[0].algo.data[3]);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algo,
                                                    cublasLtMatmulAlgoConfigAttributes_t attr, void *buf,
                                                    size_t n, size_t *written)
{
    size_t want = attr == CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID || attr == CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID ? 2
                  : (int)attr >= 0 && attr <= CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID                            ? 4
                                                                                                               : 0;
    if (!algo || !want) return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0) {
        if (!written) return CUBLAS_STATUS_INVALID_VALUE;
        *written = want;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || n != want) return CUBLAS_STATUS_INVALID_VALUE;
    uint64_t v = (int)attr < 4 ? algo->data[attr] : 0;
    if (want == 2) {
        uint16_t s = (uint16_t)v;
        memcpy(buf, &s, 2);
    } else {
        uint32_t s = (uint32_t)v;
        memcpy(buf, &s, 4);
    }
    if (written) *written = want;
    return CUBLAS_STATUS_SUCCESS;
}

static uint32_t align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && a % al) al /= 2;
    return al;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t wsSize, cudaStream_t stream)
{
    (void)alpha, (void)workspace;
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!desc || !Adesc) return CUBLAS_STATUS_INVALID_VALUE;
    cublasLtMatmulAlgo_t chosen;
    const char *how = "given";
    if (!algo) {
        uint32_t align[4] = {align_of(A), align_of(B), align_of(C), align_of(D)};
        choose((const struct obj *)desc, (const struct obj *)Adesc, align, CUBLASLT_REDUCTION_SCHEME_MASK, &chosen);
        algo = &chosen;
        how = "internal";
    }
    if (fake_blas_computes()) {
        const struct obj *a = (const struct obj *)Adesc, *d = (const struct obj *)Ddesc;
        const struct obj *b = (const struct obj *)Bdesc, *c = (const struct obj *)Cdesc;
        fake_sgemm((long)get64(d, CUBLASLT_MATRIX_LAYOUT_ROWS), (long)get64(d, CUBLASLT_MATRIX_LAYOUT_COLS),
                   (long)get64(a, CUBLASLT_MATRIX_LAYOUT_COLS), A, (long)get64(a, CUBLASLT_MATRIX_LAYOUT_LD), B,
                   (long)get64(b, CUBLASLT_MATRIX_LAYOUT_LD), *(const float *)beta, C,
                   (long)get64(c, CUBLASLT_MATRIX_LAYOUT_LD), D, (long)get64(d, CUBLASLT_MATRIX_LAYOUT_LD));
    }
    fake_record("cublasLtMatmul algo=%s id=%d splitk=%d reduction=%d ws=%zu stream=%p", how, (int)algo->data[0],
                (int)algo->data[2], (int)algo->data[3], wsSize, (void *)stream);
    return CUBLAS_STATUS_SUCCESS;
}
