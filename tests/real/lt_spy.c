/* liblt_spy: preloaded after the shim, it stands between the shim and the real libcublasLt
 * for cublasLtMatmulAlgoGetHeuristic (the shim finds it first with dlsym(RTLD_NEXT)): it
 * reads the preference it was handed with the REAL cublasLtMatmulPreferenceGetAttribute
 * and prints "spy <attr> <value>" on stderr, then calls the real heuristic. So a test sees
 * what the shim's policy made of the caller's preference, on the real library. */
#include <dlfcn.h>
#include <stdio.h>

#include <cublasLt.h>

typedef __typeof__(&cublasLtMatmulAlgoGetHeuristic) heur_t;
typedef __typeof__(&cublasLtMatmulPreferenceGetAttribute) getattr_t;

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t pref, int req,
                                              cublasLtMatmulHeuristicResult_t *res, int *n)
{
    heur_t next = (heur_t)dlsym(RTLD_NEXT, "cublasLtMatmulAlgoGetHeuristic");
    getattr_t get = (getattr_t)dlsym(RTLD_NEXT, "cublasLtMatmulPreferenceGetAttribute");
    static const struct { cublasLtMatmulPreferenceAttributes_t a; const char *name; } attrs[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, "align_a"},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, "align_b"},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, "align_c"},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, "align_d"},
        {CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, "reduction"},
    };
    for (size_t i = 0; get && i < sizeof attrs / sizeof attrs[0]; i++) {
        uint32_t v = 0;
        size_t w = 0;
        int st = get(pref, attrs[i].a, &v, sizeof v, &w);
        fprintf(stderr, "spy %s %u status=%d\n", attrs[i].name, v, st);
    }
    return next ? next(h, op, a, b, c, d, pref, req, res, n) : CUBLAS_STATUS_NOT_INITIALIZED;
}
