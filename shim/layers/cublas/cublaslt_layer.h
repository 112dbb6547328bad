/* cublaslt_layer.h: what the cuBLASLt layer's two files share: the cuBLASLt functions it
 * calls itself, the preference, signature and algorithm shapes. cublaslt.c is the policy
 * (heuristic normalisation, NULL-algo matmuls); cublaslt_choice.c remembers the algorithm
 * chosen per problem signature and writes the events about it. */
#ifndef DETSHIM_CUBLASLT_LAYER_H
#define DETSHIM_CUBLASLT_LAYER_H
#include <cublasLt.h>
#include <stdbool.h>
#include <stdint.h>

#include "hooks.h"

/* ---- the cuBLASLt functions the policy needs (not hooked) ----------------------------- */
struct dslt_fns {
    cublasStatus_t (*pref_create)(cublasLtMatmulPreference_t *);
    cublasStatus_t (*pref_destroy)(cublasLtMatmulPreference_t);
    cublasStatus_t (*pref_set)(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t, const void *,
                               size_t);
    cublasStatus_t (*pref_get)(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t, void *, size_t,
                               size_t *);
    cublasStatus_t (*desc_get)(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, void *, size_t, size_t *);
    cublasStatus_t (*layout_get)(cublasLtMatrixLayout_t, cublasLtMatrixLayoutAttribute_t, void *, size_t,
                                 size_t *);
    cublasStatus_t (*algo_get)(const cublasLtMatmulAlgo_t *, cublasLtMatmulAlgoConfigAttributes_t, void *,
                               size_t, size_t *);
    bool can_normalise; /* preference functions present */
    bool can_sign;      /* descriptor and layout getters present */
};
extern struct dslt_fns lt;

/* ---- preferences -------------------------------------------------------------------- */
struct prefs {
    uint32_t search;
    uint64_t max_ws;
    uint32_t mask;
    uint32_t align[4];
    float waves;
    uint64_t impl;
};
/* cublasLt.h's defaults: what a fresh preference holds */
static const struct prefs pref_defaults __attribute__((unused)) = {CUBLASLT_SEARCH_BEST_FIT, 0, CUBLASLT_REDUCTION_SCHEME_MASK,
                                           {256, 256, 256, 256}, 0.0f, UINT64_MAX};


/* ---- the problem signature ------------------------------------------------------------ */
static const struct {
    cublasLtMatmulDescAttributes_t attr;
    unsigned char size;
    const char *name;
} desc_attrs[] = {
    {CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, 4, "compute_type"},
    {CUBLASLT_MATMUL_DESC_SCALE_TYPE, 4, "scale_type"},
    {CUBLASLT_MATMUL_DESC_POINTER_MODE, 4, "pointer_mode"},
    {CUBLASLT_MATMUL_DESC_TRANSA, 4, "transa"},
    {CUBLASLT_MATMUL_DESC_TRANSB, 4, "transb"},
    {CUBLASLT_MATMUL_DESC_TRANSC, 4, "transc"},
    {CUBLASLT_MATMUL_DESC_FILL_MODE, 4, "fill_mode"},
    {CUBLASLT_MATMUL_DESC_EPILOGUE, 4, "epilogue"},
    {CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, 4, "sm_count_target"},
    {CUBLASLT_MATMUL_DESC_FAST_ACCUM, 1, "fast_accum"},
    {CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, 4, "bias_data_type"},
    {CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, 4, "epilogue_aux_data_type"},
    {CUBLASLT_MATMUL_DESC_A_SCALE_MODE, 4, "a_scale_mode"},
    {CUBLASLT_MATMUL_DESC_B_SCALE_MODE, 4, "b_scale_mode"},
};
#define NDESC (sizeof desc_attrs / sizeof *desc_attrs)
#define UNKNOWN INT32_MIN

struct layout_sig {
    int32_t type, order, batch, pad;
    uint64_t rows, cols;
    int64_t ld, stride;
};

enum { SRC_HEURISTIC = 1, SRC_MATMUL = 2 };

struct sig {
    int32_t src;
    int32_t desc[NDESC];
    struct layout_sig lay[4];
    uint64_t max_ws, impl;
    uint32_t mask, search, waves_bits, pad;
};


/* ---- algorithms ------------------------------------------------------------------------ */
struct acfg {
    int32_t id, splitk;
    uint32_t tile, red, swizzle, custom, stages;
    uint16_t inner, cluster;
    bool known; /* read through cublasLtMatmulAlgoConfigGetAttribute */
};


/* The event fields of a cuBLASLt problem (lt_extra's argument). */
struct lt_info {
    const struct sig *sig;
    uint64_t key;
    const struct acfg *algo, *prev;
    const struct prefs *seen, *used; /* used NULL: nothing was changed */
};

/* An algorithm's configuration (its hash; c->known when it could be read). */
uint64_t algo_read(const cublasLtMatmulAlgo_t *a, struct acfg *c);
/* The problem, the algorithm and the preferences into an event (ds_extra_fn). */
void lt_extra(struct jbuf *jb, void *arg);

/* Has this signature had another algorithm before in this run? Records the first choice
 * (an event in log mode and up), and a change (an event; strict refuses it: false). */
bool dslt_note_choice(enum ds_hook hook, uint64_t key, const struct sig *s, const cublasLtMatmulAlgo_t *a,
                      const struct prefs *seen, const struct prefs *used, bool changed);
#endif
