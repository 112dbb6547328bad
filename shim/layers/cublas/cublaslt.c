/* cublaslt.c: cuBLASLt algorithm choice that does not wander.
 *
 * cublasLtMatmulAlgoGetHeuristic picks an algorithm from the problem and from the
 * caller's preferences, and PyTorch passes the buffers' real alignments as the
 * MIN_ALIGNMENT_{A,B,C,D}_BYTES preferences: two runs whose buffers sit at differently
 * aligned addresses can get different algorithms, hence different bits. The shim:
 *
 *  - enforce/strict: asks the heuristic with a copy of the caller's preference (the
 *    caller's object is never changed) whose alignments are normalised (a value >=
 *    DETSHIM_CUBLASLT_ALIGNMENT, 16 by default, becomes that value; a smaller one
 *    becomes the element size of the matrix's type, which every buffer of that type
 *    satisfies) and whose REDUCTION_SCHEME_MASK is AND-ed with DETSHIM_CUBLASLT_REDUCTION
 *    (NONE|COMPUTE_TYPE|OUTPUT_TYPE by default: split-K in place is excluded, as
 *    community practice does); cublasLtMatmul with a NULL algo gets an algorithm chosen
 *    the same way from the pointers' alignments;
 *  - every mode: remembers the algorithm (its config attributes) chosen per problem
 *    signature (matmul descriptor + the four layouts + the caller's workspace limit and
 *    filters, not the alignments) and logs the first choice for each signature, and an
 *    event when the same signature later gets a different algorithm in this run.
 *
 * The preference copy is one cublasLtMatmulPreference_t per thread, made once with the
 * real cublasLtMatmulPreferenceCreate and rewritten on each call; the signature table is
 * fixed-size and lock-free: nothing allocates or locks on the matmul path after the
 * first call of a thread. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cublaslt_layer.h"
#include "hash.h"

#define OK CUBLAS_STATUS_SUCCESS

struct dslt_fns lt;

/* ---- settings ----------------------------------------------------------------------- */
#define RED_POLICY_DEFAULT (CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE | CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE)

static struct {
    uint32_t align; /* DETSHIM_CUBLASLT_ALIGNMENT */
    uint32_t mask;  /* DETSHIM_CUBLASLT_REDUCTION */
} cfg = {16, RED_POLICY_DEFAULT};

static void cfg_read(void)
{
    const char *v = secure_getenv("DETSHIM_CUBLASLT_ALIGNMENT");
    if (v && *v) {
        char *end;
        unsigned long a = strtoul(v, &end, 10);
        if (*v < '0' || *v > '9' || *end || a < 1 || a > 256 || (a & (a - 1)))
            ds_notice("cublaslt", true,
                      "DETSHIM_CUBLASLT_ALIGNMENT='%.200s' is not valid; accepted values: a power "
                      "of two from 1 to 256 (bytes); using 16", v);
        else
            cfg.align = (uint32_t)a;
    }
    v = secure_getenv("DETSHIM_CUBLASLT_REDUCTION");
    if (v && *v) {
        char *end;
        unsigned long m = strtoul(v, &end, 0);
        if (strcasecmp(v, "noinplace") == 0)
            cfg.mask = RED_POLICY_DEFAULT;
        else if (strcasecmp(v, "none") == 0)
            cfg.mask = CUBLASLT_REDUCTION_SCHEME_NONE;
        else if (strcasecmp(v, "all") == 0)
            cfg.mask = CUBLASLT_REDUCTION_SCHEME_MASK;
        else if (*v >= '0' && *v <= '9' && !*end && m <= CUBLASLT_REDUCTION_SCHEME_MASK)
            cfg.mask = (uint32_t)m;
        else
            ds_notice("cublaslt", true,
                      "DETSHIM_CUBLASLT_REDUCTION='%.200s' is not valid; accepted values: "
                      "noinplace, none, all, or a mask from 0 to 7 (1 INPLACE, 2 COMPUTE_TYPE, 4 "
                      "OUTPUT_TYPE); using noinplace", v);
    }
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void lt_init(void)
{
    cfg_read();
#define R(f, n) *(void **)&lt.f = ds_resolve_symbol(n, DS_LIB_CUBLASLT, NULL)
    R(pref_create, "cublasLtMatmulPreferenceCreate");
    R(pref_destroy, "cublasLtMatmulPreferenceDestroy");
    R(pref_set, "cublasLtMatmulPreferenceSetAttribute");
    R(pref_get, "cublasLtMatmulPreferenceGetAttribute");
    R(desc_get, "cublasLtMatmulDescGetAttribute");
    R(layout_get, "cublasLtMatrixLayoutGetAttribute");
    R(algo_get, "cublasLtMatmulAlgoConfigGetAttribute");
#undef R
    lt.can_normalise = lt.pref_create && lt.pref_set && lt.pref_get;
    lt.can_sign = lt.desc_get && lt.layout_get;
    if (!lt.can_normalise || !lt.can_sign)
        ds_notice("cublaslt", true,
                  "cuBLASLt lacks %s: heuristic calls pass through unchanged",
                  !lt.can_normalise ? "the preference functions" : "the descriptor getters");
}

static void prefs_read(cublasLtMatmulPreference_t p, struct prefs *o)
{
    *o = pref_defaults;
    if (!p) return;
#define G(attr, field) lt.pref_get(p, attr, &o->field, sizeof o->field, NULL)
    G(CUBLASLT_MATMUL_PREF_SEARCH_MODE, search);
    G(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_ws);
    G(CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, mask);
    G(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align[0]);
    G(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align[1]);
    G(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align[2]);
    G(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align[3]);
    G(CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT, waves);
    G(CUBLASLT_MATMUL_PREF_IMPL_MASK, impl);
#undef G
}

/* Every attribute, every time (the object is reused). False when the ones the policy
 * changes could not be set. */
static bool prefs_write(cublasLtMatmulPreference_t p, const struct prefs *o)
{
    bool ok = true;
#define S(attr, field) (lt.pref_set(p, attr, &o->field, sizeof o->field) == OK)
    (void)S(CUBLASLT_MATMUL_PREF_SEARCH_MODE, search);
    (void)S(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_ws);
    ok &= S(CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, mask);
    ok &= S(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align[0]);
    ok &= S(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align[1]);
    ok &= S(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align[2]);
    ok &= S(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align[3]);
    (void)S(CUBLASLT_MATMUL_PREF_MAX_WAVES_COUNT, waves);
    (void)S(CUBLASLT_MATMUL_PREF_IMPL_MASK, impl);
#undef S
    return ok;
}

/* One per thread, found with pthread_getspecific (no static TLS: the shim may be
 * dlopen'ed), destroyed with the thread. */
static pthread_key_t pref_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void pref_dtor(void *p)
{
    if (p && lt.pref_destroy) lt.pref_destroy(p);
}
static void key_make(void) { key_ok = pthread_key_create(&pref_key, pref_dtor) == 0; }

/* This thread's preference object (made once). */
static cublasLtMatmulPreference_t pref_mine(void)
{
    pthread_once(&key_once, key_make);
    if (!key_ok) return NULL;
    cublasLtMatmulPreference_t p = pthread_getspecific(pref_key);
    if (DS_LIKELY(p != NULL)) return p;
    if (lt.pref_create(&p) != OK || !p) return NULL;
    if (pthread_setspecific(pref_key, p) != 0) {
        if (lt.pref_destroy) lt.pref_destroy(p);
        return NULL;
    }
    return p;
}

static void layout_read(cublasLtMatrixLayout_t l, struct layout_sig *o)
{
    memset(o, 0, sizeof *o);
    o->type = o->order = o->batch = UNKNOWN;
    if (!l) return;
    uint32_t u32;
    int32_t i32;
    if (lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &u32, 4, NULL) == OK) o->type = (int32_t)u32;
    if (lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_ORDER, &i32, 4, NULL) == OK) o->order = i32;
    if (lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &i32, 4, NULL) == OK) o->batch = i32;
    lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &o->rows, 8, NULL);
    lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_COLS, &o->cols, 8, NULL);
    lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_LD, &o->ld, 8, NULL);
    lt.layout_get(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &o->stride, 8, NULL);
}

static uint64_t sig_make(int src, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t l[4], const struct prefs *p,
                         struct sig *s)
{
    memset(s, 0, sizeof *s);
    s->src = src;
    for (size_t i = 0; i < NDESC; i++) {
        s->desc[i] = UNKNOWN;
        if (!desc) continue;
        if (desc_attrs[i].size == 1) {
            int8_t v;
            if (lt.desc_get(desc, desc_attrs[i].attr, &v, 1, NULL) == OK) s->desc[i] = v;
        } else {
            int32_t v;
            if (lt.desc_get(desc, desc_attrs[i].attr, &v, 4, NULL) == OK) s->desc[i] = v;
        }
    }
    for (int i = 0; i < 4; i++) layout_read(l[i], &s->lay[i]);
    s->max_ws = p->max_ws;
    s->impl = p->impl;
    s->mask = p->mask;
    s->search = p->search;
    memcpy(&s->waves_bits, &p->waves, 4);
    return ds_hash64(s, sizeof *s, 0x6c74736967ull);
}

/* ---- calls made by cuBLAS itself ---------------------------------------------------------- */
/* True when the code calling the hooked function lies in libcublas or libcublasLt (cuBLAS
 * running a routine through cuBLASLt's exported API). Such calls pass through: cuBLAS's
 * internal choices are governed by the cublas layer (the gemm family it hooks already
 * holds the reentrancy guard, so this is about the other routines), and its preferences
 * may carry attributes this layer does not copy. Verdicts are cached per return address
 * (bit 63 marks cuBLAS; user-space addresses never have it). */
static bool called_by_cublas(void)
{
    void *ip[1];
    if (ds_bt_capture(ip, 1) < 1) return false;
    static _Atomic uint64_t cache[64];
    const uint64_t mark = 1ull << 63;
    uint64_t a = (uint64_t)(uintptr_t)ip[0];
    _Atomic uint64_t *slot = &cache[(a * 0x9e3779b97f4a7c15ull) >> 58];
    uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
    if ((v & ~mark) == a) return (v & mark) != 0;
    Dl_info di;
    bool mine = false;
    if (dladdr(ip[0], &di) && di.dli_fname) {
        const char *base = strrchr(di.dli_fname, '/');
        base = base ? base + 1 : di.dli_fname;
        mine = strncmp(base, "libcublas", 9) == 0;
    }
    atomic_store_explicit(slot, a | (mine ? mark : 0), memory_order_relaxed);
    static _Atomic bool said;
    if (mine && !atomic_exchange(&said, true))
        ds_notice("cublaslt", false,
                  "%s calls cuBLASLt itself: those calls pass through unchanged (the cublas "
                  "layer governs them)", di.dli_fname);
    return mine;
}

/* ---- the policy ------------------------------------------------------------------------ */
static uint32_t elem_size(int32_t type)
{
    switch (type) { /* cudaDataType values (library_types.h) */
    case 2: case 14: case 20: case 22: case 7: case 9: return 2;  /* R_16F R_16BF R_16I R_16U C_8I C_8U */
    case 0: case 10: case 12: case 6: case 15: case 21: case 23: return 4; /* R_32F/I/U C_16F/BF/I/U */
    case 1: case 24: case 26: case 4: case 11: case 13: return 8; /* R_64F/I/U C_32F/I/U */
    case 5: case 25: case 27: return 16;                          /* C_64F/I/U */
    default: return 1;                                            /* 8/6/4-bit types, unknown */
    }
}

/* The normalised preferences. Returns true when anything differs from the caller's. */
static bool normalise(const struct prefs *seen, const struct sig *s, struct prefs *used)
{
    *used = *seen;
    for (int i = 0; i < 4; i++) {
        uint32_t a = seen->align[i];
        if (a >= cfg.align)
            used->align[i] = cfg.align;
        else {
            uint32_t e = elem_size(s->lay[i].type);
            used->align[i] = a < e ? a : e;
        }
    }
    used->mask = seen->mask & cfg.mask;
    return memcmp(used->align, seen->align, sizeof used->align) != 0 || used->mask != seen->mask;
}

cublasStatus_t ds_policy_cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle,
                                                       cublasLtMatmulDesc_t operationDesc,
                                                       cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                                       cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                                       cublasLtMatmulPreference_t preference, int requestedAlgoCount,
                                                       cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                                       int *returnAlgoCount)
{
    pthread_once(&init_once, lt_init);
#define REAL_WITH(pref)                                                                                 \
    DS_REAL(cublasLtMatmulAlgoGetHeuristic)(lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, pref, \
                                            requestedAlgoCount, heuristicResultsArray, returnAlgoCount)
    if (!lt.can_normalise || !lt.can_sign || called_by_cublas()) return REAL_WITH(preference);
    struct prefs seen, used;
    struct sig s;
    cublasLtMatrixLayout_t l[4] = {Adesc, Bdesc, Cdesc, Ddesc};
    prefs_read(preference, &seen);
    uint64_t key = sig_make(SRC_HEURISTIC, operationDesc, l, &seen, &s);

    if (!ds_enforcing()) {
        cublasStatus_t st = REAL_WITH(preference);
        if (st == OK && returnAlgoCount && *returnAlgoCount > 0 && heuristicResultsArray)
            dslt_note_choice(DS_HOOK_cublasLtMatmulAlgoGetHeuristic, key, &s, &heuristicResultsArray[0].algo, &seen,
                        NULL, false);
        return st;
    }

    bool changed = normalise(&seen, &s, &used);
    cublasStatus_t st;
    if (!changed) {
        st = REAL_WITH(preference);
        if (st == OK && returnAlgoCount && *returnAlgoCount > 0 && heuristicResultsArray &&
            !dslt_note_choice(DS_HOOK_cublasLtMatmulAlgoGetHeuristic, key, &s, &heuristicResultsArray[0].algo, &seen,
                         &used, false)) {
            *returnAlgoCount = 0;
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
        return st;
    }
    cublasLtMatmulPreference_t mine = pref_mine();
    if (mine && prefs_write(mine, &used) && (st = REAL_WITH(mine)) == OK && returnAlgoCount &&
        *returnAlgoCount > 0 && heuristicResultsArray) {
        if (!dslt_note_choice(DS_HOOK_cublasLtMatmulAlgoGetHeuristic, key, &s, &heuristicResultsArray[0].algo, &seen,
                         &used, true)) {
            *returnAlgoCount = 0;
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
        return st;
    }

    /* the policy found nothing (or could not be applied): the caller's own preferences */
    st = REAL_WITH(preference);
    if (st != OK || !returnAlgoCount || *returnAlgoCount <= 0) return st; /* not ours to explain */
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasLtMatmulAlgoGetHeuristic, strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED,
                         key ^ 0x6661696cu)) {
        char detail[320];
        snprintf(detail, sizeof detail,
                 "the cuBLASLt heuristic found no algorithm with normalised preferences (alignment "
                 "%u/%u/%u/%u, reduction schemes 0x%x)%s", used.align[0], used.align[1], used.align[2],
                 used.align[3], used.mask,
                 strict ? ": refused" : ": the caller's preferences were used, so the choice may depend on "
                                        "the buffers' addresses");
        struct acfg c;
        algo_read(&heuristicResultsArray[0].algo, &c);
        struct lt_info info = {&s, key, &c, NULL, &seen, &used};
        ds_event_log(&ev, detail, lt_extra, &info);
        if (strict)
            ds_refuse(&ev, "a cuBLASLt heuristic call that finds nothing with address-independent preferences",
                      "DETSHIM_CUBLASLT_ALIGNMENT=256 or DETSHIM_CUBLASLT_REDUCTION=all");
    }
    if (strict) {
        *returnAlgoCount = 0;
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return st;
#undef REAL_WITH
}

static uint32_t ptr_align(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (!a) return 256;
    uint32_t al = 256;
    while (al > 1 && a % al) al >>= 1;
    return al;
}

static cublasStatus_t matmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
                             const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                             const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                             const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                             cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                             void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream);

/* Hash mode: a matrix as its layout describes it (column- or row-major, strided batches). */
static void lt_range(struct ds_hcall *c, const char *name, const void *p, cublasLtMatrixLayout_t l,
                     bool out)
{
    struct layout_sig s;
    layout_read(l, &s);
    size_t elem = ds_dtype_size((cudaDataType)s.type);
    int64_t batch = s.batch == UNKNOWN ? 1 : s.batch;
    size_t bytes;
    if (s.order == UNKNOWN || s.order == CUBLASLT_ORDER_COL)
        bytes = ds_matrix_bytes((int64_t)s.rows, (int64_t)s.cols, s.ld, batch, s.stride, elem);
    else if (s.order == CUBLASLT_ORDER_ROW)
        bytes = ds_matrix_bytes((int64_t)s.cols, (int64_t)s.rows, s.ld, batch, s.stride, elem);
    else {
        ds_hcall_skip(c, "a matrix in a tiled order (COL32 and the like): no digest");
        return;
    }
    if (!elem) ds_hcall_skip(c, "a data type hash mode does not know the size of: no digest");
    if (out)
        ds_hcall_out(c, name, p, bytes);
    else
        ds_hcall_in(c, name, p, bytes);
}

cublasStatus_t ds_policy_cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
                                        const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                                        const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                                        const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                                        cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                                        void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream)
{
#define MATMUL()                                                                                      \
    matmul(lightHandle, computeDesc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace, \
           workspaceSizeInBytes, stream)
    if (DS_LIKELY(!ds_hash_on())) return MATMUL();
    pthread_once(&init_once, lt_init);
    /* cuBLAS running a routine through cuBLASLt: the routine is cuBLAS's to digest (its gemm
     * hooks do), not this call's; asked first, so that no record or stream sync is made */
    if (called_by_cublas()) return MATMUL();
    struct ds_hcall hc;
    ds_hcall_begin(&hc, DS_HOOK_cublasLtMatmul, (CUstream)stream, "matmul");
    if (!lt.can_sign) {
        ds_hcall_skip(&hc, "cuBLASLt's descriptor getters are missing: no digest");
    } else {
        uint32_t scale = CUDA_R_32F;
        struct sig sg; /* the descriptor's attributes and the four layouts */
        cublasLtMatrixLayout_t l[4] = {Adesc, Bdesc, Cdesc, Ddesc};
        ds_hcall_scalar(&hc, sig_make(SRC_MATMUL, computeDesc, l, &pref_defaults, &sg));
        if (lt.desc_get(computeDesc, CUBLASLT_MATMUL_DESC_SCALE_TYPE, &scale, 4, NULL) != OK)
            scale = CUDA_R_32F;
        lt_range(&hc, "D", D, Ddesc, true);
        lt_range(&hc, "A", A, Adesc, false);
        lt_range(&hc, "B", B, Bdesc, false);
        if (C != D) lt_range(&hc, "C", C, Cdesc, false);
        ds_hcall_scalar_ptr(&hc, "alpha", alpha, ds_dtype_size((cudaDataType)scale));
        ds_hcall_scalar_ptr(&hc, "beta", beta, ds_dtype_size((cudaDataType)scale));
    }
    ds_hcall_pre(&hc);
    cublasStatus_t st = MATMUL();
    ds_hcall_post(&hc, (int)st);
    return st;
#undef MATMUL
}

static cublasStatus_t matmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc,
                             const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                             const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                             const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                             cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                             void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream)
{
#define REAL_WITH(a)                                                                                         \
    DS_REAL(cublasLtMatmul)(lightHandle, computeDesc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, a, \
                            workspace, workspaceSizeInBytes, stream)
    if (DS_LIKELY(algo != NULL)) return REAL_WITH(algo); /* the caller's own choice */
    pthread_once(&init_once, lt_init);
    if (!lt.can_normalise || !lt.can_sign || called_by_cublas()) return REAL_WITH(NULL);

    /* what the library would see: the pointers' alignments, the whole workspace */
    struct prefs seen = pref_defaults, used;
    const void *ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++) seen.align[i] = ptr_align(ptrs[i]);
    seen.max_ws = workspaceSizeInBytes;
    struct sig s;
    cublasLtMatrixLayout_t l[4] = {Adesc, Bdesc, Cdesc, Ddesc};
    uint64_t key = sig_make(SRC_MATMUL, computeDesc, l, &seen, &s);
    struct ds_event ev;

    if (!ds_enforcing()) {
        /* the library chooses inside; what it chose cannot be seen */
        if (ds_event_capture(&ev, DS_HOOK_cublasLtMatmul, DS_ACT_OBSERVED, key)) {
            char detail[320];
            snprintf(detail, sizeof detail,
                     "cublasLtMatmul with a NULL algo: cuBLASLt chooses the algorithm itself, from the "
                     "buffers' alignments %u/%u/%u/%u bytes; another run may choose differently",
                     seen.align[0], seen.align[1], seen.align[2], seen.align[3]);
            struct acfg none = {0};
            struct lt_info info = {&s, key, &none, NULL, &seen, NULL};
            ds_event_log(&ev, detail, lt_extra, &info);
        }
        return REAL_WITH(NULL);
    }

    normalise(&seen, &s, &used);
    cublasLtMatmulPreference_t mine = pref_mine();
    cublasLtMatmulHeuristicResult_t res;
    int n = 0;
    memset(&res, 0, sizeof res);
    cublasStatus_t hst = CUBLAS_STATUS_NOT_SUPPORTED;
    if (mine && prefs_write(mine, &used)) {
        hst = DS_REAL(cublasLtMatmulAlgoGetHeuristic)(lightHandle, computeDesc, Adesc, Bdesc, Cdesc, Ddesc, mine,
                                                      1, &res, &n);
        if (hst == OK && n > 0) {
            if (!dslt_note_choice(DS_HOOK_cublasLtMatmul, key, &s, &res.algo, &seen, &used, true))
                return CUBLAS_STATUS_NOT_SUPPORTED;
            return REAL_WITH(&res.algo);
        }
    }
    if (hst != OK && hst != CUBLAS_STATUS_NOT_SUPPORTED) {
        /* the heuristic failed for another reason (a bad handle or descriptor): not a matter
         * of determinism; cuBLASLt answers the call itself, with its own status */
        cublasStatus_t st = REAL_WITH(NULL);
        static _Atomic bool said;
        if (!atomic_exchange(&said, true))
            ds_notice("cublaslt", false,
                      "cublasLtMatmul with a NULL algo: the cuBLASLt heuristic failed with status %d "
                      "(not a determinism matter): the call was passed on unchanged, cuBLASLt returned "
                      "status %d", (int)hst, (int)st);
        return st;
    }
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    if (ds_event_capture(&ev, DS_HOOK_cublasLtMatmul, strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED,
                         key ^ 0x6661696cu)) {
        char detail[320];
        snprintf(detail, sizeof detail,
                 "cublasLtMatmul with a NULL algo: the heuristic found no algorithm with normalised "
                 "preferences (alignment %u/%u/%u/%u, reduction schemes 0x%x)%s", used.align[0],
                 used.align[1], used.align[2], used.align[3], used.mask,
                 strict ? ": refused" : ": cuBLASLt chooses itself, possibly differently in another run");
        struct acfg none = {0};
        struct lt_info info = {&s, key, &none, NULL, &seen, &used};
        ds_event_log(&ev, detail, lt_extra, &info);
        if (strict)
            ds_refuse(&ev, "cublasLtMatmul with a NULL algo whose choice cannot be made address-independent",
                      "pass an algorithm from cublasLtMatmulAlgoGetHeuristic, or DETSHIM_DISABLE=cublaslt");
    }
    if (strict) return CUBLAS_STATUS_NOT_SUPPORTED;
    return REAL_WITH(NULL);
#undef REAL_WITH
}
