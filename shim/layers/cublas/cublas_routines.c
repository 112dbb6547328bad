/* cublas_routines.c: the cuBLAS layer at each routine it hooks (generated from hooks.def):
 * the gemm family's check that no two streams of a handle share a workspace, with the
 * answer published for the fast check at the front (fast.h), hash mode's view of what a
 * gemm reads and writes, and the symv/hemv check that atomics are not allowed. */
#include "cublas_layer.h"

/* ---- the routine check -------------------------------------------------------------- */
/* Returns false when strict mode refuses the call (st then holds the status to return).
 * Every answer but a refusal holds until the handle's stream or workspace changes (the
 * default pool's first pair, buffer owners and "already logged" are set once): it is
 * published for the fast check, stamped with the version it was computed at. */
static bool check_workspace_at(enum ds_hook hook, struct hstate *h, cublasHandle_t handle,
                               cublasStatus_t *st);
static bool check_workspace(enum ds_hook hook, cublasHandle_t handle, cublasStatus_t *st)
{
    struct hstate *h = cb_hfind(handle);
    if (!h) return true;
    struct ds_cublas_fast *f = cb_fast(h);
    uint32_t v = atomic_load_explicit(&f->ver, memory_order_acquire);
    if (!check_workspace_at(hook, h, handle, st)) return false;
    atomic_store_explicit(&f->ok_ver, v, memory_order_relaxed);
    return true;
}

static bool check_workspace_at(enum ds_hook hook, struct hstate *h, cublasHandle_t handle,
                               cublasStatus_t *st)
{
    int pi = atomic_load_explicit(&h->cur, memory_order_relaxed);
    if (pi < 0) return true;
    struct pair *p = &h->pairs[pi];
    uintptr_t ws = atomic_load_explicit(&h->ws, memory_order_relaxed), other;
    if (ws == WS_NONE) return true;
    if (ws == WS_DEFAULT) {
        if (cb_install_on_demand(hook, h, handle, pi)) return true;
        /* the default pool is per handle; with CUBLAS_WORKSPACE_CONFIG safe at create,
         * NVIDIA documents it as deterministic on any number of streams */
        if (h->env_safe) return true;
        int first = atomic_load_explicit(&h->default_pair, memory_order_relaxed);
        if (first < 0) {
            int expected = -1;
            if (atomic_compare_exchange_strong(&h->default_pair, &expected, pi)) return true;
            first = expected;
        }
        if (first == pi) return true;
        other = (uintptr_t)h->pairs[first].stream;
    } else if (!cb_buf_owner((void *)ws, NULL, false, &other) || other == (uintptr_t)p->stream)
        return true;

    /* two streams, one workspace */
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    /* log/enforce: once per (handle, stream), so a hot gemm does not unwind its stack on
     * every call */
    if (!strict && atomic_exchange_explicit(&p->said_shared, true, memory_order_relaxed)) return true;
    struct ds_event ev;
    enum ds_action act = strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED;
    /* strict: every call is refused and counted, each new call site logged */
    bool log = ds_event_capture(&ev, hook, act, ws == WS_DEFAULT ? 0 : 1);
    if (log) {
        char detail[384];
        snprintf(detail, sizeof detail,
                 "cuBLAS handle %p runs on stream %p with %s workspace that stream %p also uses: "
                 "results may differ run to run%s", (void *)handle, (void *)p->stream,
                 ws == WS_DEFAULT ? "cuBLAS's default" : "a", (void *)other,
                 ds_enforcing() ? " (the shim could not give the stream a workspace of its own)" : "");
        struct ws_info info = {.handle = handle, .stream = p->stream, .other = (cudaStream_t)other,
                               .has_other = true, .ws = ws, .wsconfig = secure_getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, cb_ws_extra, &info);
    }
    if (!strict) return true;
    if (log)
        ds_refuse(&ev, "a cuBLAS routine on a workspace that another stream also uses",
                  "set CUBLAS_WORKSPACE_CONFIG=:4096:8 before the program creates cuBLAS handles, "
                  "or give each stream its own workspace (cublasSetWorkspace)");
    *st = CUBLAS_STATUS_NOT_SUPPORTED;
    return false;
}

static void check_atomics(enum ds_hook hook, cublasHandle_t handle)
{
    struct hstate *h = cb_hfind(handle);
    if (!h || atomic_load_explicit(&h->atomics, memory_order_relaxed) == CUBLAS_ATOMICS_NOT_ALLOWED) return;
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, DS_ACT_OBSERVED, 0)) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "%s on cuBLAS handle %p with atomics allowed: this routine may accumulate with "
                 "atomics, and its results may differ run to run", ds_hooks[hook].name, (void *)handle);
        struct ws_info info = {.handle = handle};
        ds_event_log(&ev, detail, cb_handle_extra, &info);
    }
}

/* ---- hash mode: what a gemm reads and writes ------------------------------------------ */
static CUstream handle_stream(cublasHandle_t handle)
{
    typedef cublasStatus_t (*get_t)(cublasHandle_t, cudaStream_t *);
    static _Atomic(get_t) get;
    get_t f = atomic_load(&get);
    if (!f) {
        f = (get_t)ds_lookup_soname("cublasGetStream_v2", DS_LIB_CUBLAS);
        atomic_store(&get, f);
    }
    cudaStream_t s = NULL;
    if (f && f(handle, &s) != CUBLAS_STATUS_SUCCESS) s = NULL;
    return (CUstream)s;
}

/* alpha and beta have the compute type (complex when C is) */
static size_t scalar_size(cublasComputeType_t ct, cudaDataType ctype)
{
    size_t n;
    switch (ct) {
    case CUBLAS_COMPUTE_16F: case CUBLAS_COMPUTE_16F_PEDANTIC: n = 2; break;
    case CUBLAS_COMPUTE_64F: case CUBLAS_COMPUTE_64F_PEDANTIC: n = 8; break;
    default: n = 4; break; /* 32F (all its variants) and 32I */
    }
    switch (ctype) {
    case CUDA_C_16F: case CUDA_C_16BF: case CUDA_C_32F: case CUDA_C_64F: return 2 * n;
    default: return n;
    }
}

/* cuBLAS's documented operands: column-major, op(A) m x k, op(B) k x n, C m x n; batch
 * matrices `stride` elements apart. Element sizes of 0 (a type the shim does not know)
 * leave the call undigested; so do pointer arrays (`arrays`: the matrices are wherever a
 * device array says). */
struct gemm_shape {
    bool arrays;
    int ta, tb;
    int64_t m, n, k, batch;
    const void *A, *B, *C, *alpha, *beta;
    int64_t lda, ldb, ldc, sa, sb, sc;
    size_t ea, eb, ec, es;
};
static void gemm_ranges(struct ds_hcall *c, const struct gemm_shape *g)
{
    int64_t v[] = {g->ta, g->tb, g->m, g->n, g->k, g->batch, g->lda, g->ldb, g->ldc, g->sa, g->sb,
                   g->sc, (int64_t)g->ea, (int64_t)g->eb, (int64_t)g->ec};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) ds_hcall_scalar(c, (uint64_t)v[i]);
    if (!g->ea || !g->eb || !g->ec || !g->es) {
        ds_hcall_skip(c, "a data type hash mode does not know the size of: no digest");
        return;
    }
    bool na = g->ta == CUBLAS_OP_N, nb = g->tb == CUBLAS_OP_N;
    ds_hcall_out(c, "C", g->C, ds_matrix_bytes(g->m, g->n, g->ldc, g->batch, g->sc, g->ec));
    ds_hcall_in(c, "A", g->A, ds_matrix_bytes(na ? g->m : g->k, na ? g->k : g->m, g->lda, g->batch,
                                             g->sa, g->ea));
    ds_hcall_in(c, "B", g->B, ds_matrix_bytes(nb ? g->k : g->n, nb ? g->n : g->k, g->ldb, g->batch,
                                             g->sb, g->eb));
    ds_hcall_scalar_ptr(c, "alpha", g->alpha, g->es);
    ds_hcall_scalar_ptr(c, "beta", g->beta, g->es);
}

/* Each family says where its operands are (the parameter names of hooks.def). */
#define SHAPE_TYPED                                                                            \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0, sizeof *A,      \
     sizeof *B, sizeof *C, sizeof *alpha}
#define SHAPE_SGEMMEX                                                                          \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0,                 \
     ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype), sizeof(float)}
#define SHAPE_GEMMEX                                                                           \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0,                 \
     ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype),                         \
     scalar_size(computeType, Ctype)}
#define SHAPE_STRIDED                                                                          \
    {false, transa, transb, m, n, k, batchCount, A, B, C, alpha, beta, lda, ldb, ldc, strideA,        \
     strideB, strideC, sizeof *A, sizeof *B, sizeof *C, sizeof *alpha}
#define SHAPE_STRIDED_EX                                                                       \
    {false, transa, transb, m, n, k, batchCount, A, B, C, alpha, beta, lda, ldb, ldc, strideA,        \
     strideB, strideC, ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype),       \
     scalar_size(computeType, Ctype)}
#define SHAPE_ARRAYS {.arrays = true}
#define SHAPE_HALF                                                                             \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0, 2, 2, 2, 2}
#define SHAPE_STRIDED_HALF                                                                     \
    {false, transa, transb, m, n, k, batchCount, A, B, C, alpha, beta, lda, ldb, ldc, strideA,        \
     strideB, strideC, 2, 2, 2, 2}
#define SHAPE_CGEMMEX                                                                          \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0,                 \
     ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype), sizeof *alpha}

/* The routine policies, generated: every cuBLAS hook whose name is listed below gets
 * check -> real call (with digests around it in hash mode). A name listed here but missing
 * from hooks.def, or a routine in hooks.def missing here, does not compile. */
#define GEMM_WITH(shape, ret, name, params, args)                                            \
    ret ds_policy_##name params                                                              \
    {                                                                                        \
        cublasStatus_t st_;                                                                  \
        if (!check_workspace(DS_HOOK_##name, handle, &st_)) return st_;                      \
        if (DS_LIKELY(!ds_hash_on())) return DS_REAL(name) args;                             \
        struct ds_hcall hc_;                                                                 \
        struct gemm_shape g_ = shape;                                                        \
        ds_hcall_begin(&hc_, DS_HOOK_##name, handle_stream(handle), "gemm");                 \
        if (g_.arrays)                                                                       \
            ds_hcall_skip(&hc_, "batched gemm through pointer arrays: outputs not digested"); \
        else                                                                                 \
            gemm_ranges(&hc_, &g_);                                                          \
        ds_hcall_pre(&hc_);                                                                  \
        st_ = DS_REAL(name) args;                                                            \
        ds_hcall_post(&hc_, (int)st_);                                                       \
        return st_;                                                                          \
    }
#define GEMM_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_TYPED, ret, name, params, args)
#define SGEMMEX_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_SGEMMEX, ret, name, params, args)
#define GEMMEX_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_GEMMEX, ret, name, params, args)
#define STRIDED_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_STRIDED, ret, name, params, args)
#define STRIDED_EX_POLICY(ret, name, params, args) \
    GEMM_WITH(SHAPE_STRIDED_EX, ret, name, params, args)
#define ARRAYS_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_ARRAYS, ret, name, params, args)
#define HALF_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_HALF, ret, name, params, args)
#define STRIDED_HALF_POLICY(ret, name, params, args) \
    GEMM_WITH(SHAPE_STRIDED_HALF, ret, name, params, args)
#define CGEMMEX_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_CGEMMEX, ret, name, params, args)
#define ATOMICS_POLICY(ret, name, params, args)                               \
    ret ds_policy_##name params                                               \
    {                                                                         \
        check_atomics(DS_HOOK_##name, handle);                                \
        return DS_REAL(name) args;                                            \
    }
#define NO_POLICY(ret, name, params, args) /* written by hand above or below */

#define DS_R_cublasCreate_v2 NO_POLICY
#define DS_R_cublasDestroy_v2 NO_POLICY
#define DS_R_cublasSetStream_v2 NO_POLICY
#define DS_R_cublasSetWorkspace_v2 NO_POLICY
#define DS_R_cublasSetAtomicsMode NO_POLICY
#define DS_R_cublasSetMathMode NO_POLICY
#define DS_R_cublasSetEmulationStrategy NO_POLICY
#define DS_R_cublasSetEmulationSpecialValuesSupport NO_POLICY
#define DS_R_cublasSetFixedPointEmulationMantissaControl NO_POLICY
#define DS_R_cublasSetFixedPointEmulationMaxMantissaBitCount NO_POLICY
#define DS_R_cublasSetFixedPointEmulationMantissaBitOffset NO_POLICY
#define DS_R_cublasSetFixedPointEmulationMantissaBitCountPointer NO_POLICY
#define DS_R_cudaStreamDestroy NO_POLICY
#define DS_R_cuStreamDestroy_v2 NO_POLICY
#define DS_R_cublasSgemm_v2 GEMM_POLICY
#define DS_R_cublasSgemm_v2_64 GEMM_POLICY
#define DS_R_cublasDgemm_v2 GEMM_POLICY
#define DS_R_cublasDgemm_v2_64 GEMM_POLICY
#define DS_R_cublasCgemm_v2 GEMM_POLICY
#define DS_R_cublasCgemm_v2_64 GEMM_POLICY
#define DS_R_cublasZgemm_v2 GEMM_POLICY
#define DS_R_cublasZgemm_v2_64 GEMM_POLICY
#define DS_R_cublasSgemmEx SGEMMEX_POLICY
#define DS_R_cublasSgemmEx_64 SGEMMEX_POLICY
#define DS_R_cublasGemmEx GEMMEX_POLICY
#define DS_R_cublasGemmEx_64 GEMMEX_POLICY
#define DS_R_cublasSgemmBatched ARRAYS_POLICY
#define DS_R_cublasSgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasDgemmBatched ARRAYS_POLICY
#define DS_R_cublasDgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasCgemmBatched ARRAYS_POLICY
#define DS_R_cublasCgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasZgemmBatched ARRAYS_POLICY
#define DS_R_cublasZgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasGemmBatchedEx ARRAYS_POLICY
#define DS_R_cublasGemmBatchedEx_64 ARRAYS_POLICY
#define DS_R_cublasSgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasSgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasDgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasDgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasCgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasCgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasZgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasZgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasGemmStridedBatchedEx STRIDED_EX_POLICY
#define DS_R_cublasGemmStridedBatchedEx_64 STRIDED_EX_POLICY
#define DS_R_cublasHgemm HALF_POLICY
#define DS_R_cublasHgemm_64 HALF_POLICY
#define DS_R_cublasHgemmBatched ARRAYS_POLICY
#define DS_R_cublasHgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasHgemmStridedBatched STRIDED_HALF_POLICY
#define DS_R_cublasHgemmStridedBatched_64 STRIDED_HALF_POLICY
#define DS_R_cublasCgemmEx CGEMMEX_POLICY
#define DS_R_cublasCgemmEx_64 CGEMMEX_POLICY
#define DS_R_cublasCgemm3m GEMM_POLICY
#define DS_R_cublasCgemm3m_64 GEMM_POLICY
#define DS_R_cublasCgemm3mEx CGEMMEX_POLICY
#define DS_R_cublasCgemm3mEx_64 CGEMMEX_POLICY
#define DS_R_cublasCgemm3mBatched ARRAYS_POLICY
#define DS_R_cublasCgemm3mBatched_64 ARRAYS_POLICY
#define DS_R_cublasCgemm3mStridedBatched STRIDED_POLICY
#define DS_R_cublasCgemm3mStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasZgemm3m GEMM_POLICY
#define DS_R_cublasZgemm3m_64 GEMM_POLICY
/* grouped batches: pointer arrays too (hash mode does not digest them) */
#define DS_R_cublasSgemmGroupedBatched ARRAYS_POLICY
#define DS_R_cublasSgemmGroupedBatched_64 ARRAYS_POLICY
#define DS_R_cublasDgemmGroupedBatched ARRAYS_POLICY
#define DS_R_cublasDgemmGroupedBatched_64 ARRAYS_POLICY
#define DS_R_cublasGemmGroupedBatchedEx ARRAYS_POLICY
#define DS_R_cublasGemmGroupedBatchedEx_64 ARRAYS_POLICY
#define DS_R_cublasSsymv_v2 ATOMICS_POLICY
#define DS_R_cublasSsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasDsymv_v2 ATOMICS_POLICY
#define DS_R_cublasDsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasCsymv_v2 ATOMICS_POLICY
#define DS_R_cublasCsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasZsymv_v2 ATOMICS_POLICY
#define DS_R_cublasZsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasChemv_v2 ATOMICS_POLICY
#define DS_R_cublasChemv_v2_64 ATOMICS_POLICY
#define DS_R_cublasZhemv_v2 ATOMICS_POLICY
#define DS_R_cublasZhemv_v2_64 ATOMICS_POLICY

#define DS_LAYER_GEN_CUBLAS(ret, name, params, args) DS_R_##name(ret, name, params, args)
#define DS_LAYER_GEN_KERNELS(ret, name, params, args)
#define DS_LAYER_GEN_CUBLASLT(ret, name, params, args)
#define DS_LAYER_GEN_CUDNN(ret, name, params, args)
#define DS_LAYER_GEN_TORCH(ret, name, params, args)
#define DS_LAYER_GEN_TF(ret, name, params, args)
#define DS_LAYER_GEN_ENV(ret, name, params, args)
#define HOOK(layer, lib, ret, name, params, args) DS_LAYER_GEN_##layer(ret, name, params, args)
#define HOOK_VOID(layer, lib, name, params, args)
#include "hooks.def"
