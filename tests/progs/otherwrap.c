/* libotherwrap: another LD_PRELOAD library that also wraps cuBLAS (as profilers and
 * GPU-sharing shims do): it counts and forwards with dlsym(RTLD_NEXT). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_api.h>

static int seen;

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    static cublasStatus_t (*next)(cublasHandle_t *);
    if (!next) next = (cublasStatus_t(*)(cublasHandle_t *))dlsym(RTLD_NEXT, "cublasCreate_v2");
    seen++;
    return next ? next(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

__attribute__((destructor)) static void report(void)
{
    if (getenv("OTHERWRAP_REPORT")) fprintf(stderr, "otherwrap saw %d creates\n", seen);
}
