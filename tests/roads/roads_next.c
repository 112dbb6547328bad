/* roads_next: a program that wraps a vendor function itself and forwards with
 * dlsym(RTLD_NEXT), linked against the (fake) libcublas. RTLD_NEXT is relative to the
 * caller: from here the next definition is the preloaded shim's, which must then see the
 * call. Were the shim's dlsym to make it relative to the shim, the call would skip it.
 *   roads_next N   N creates and destroys through the wrapper; prints "status=N" */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_api.h>

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    static cublasStatus_t (*next)(cublasHandle_t *);
    if (!next) next = (cublasStatus_t(*)(cublasHandle_t *))dlsym(RTLD_NEXT, "cublasCreate_v2");
    if (!next) return CUBLAS_STATUS_NOT_INITIALIZED;
    return next(handle);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1, st = 0;
    for (int i = 0; i < n && !st; i++) {
        cublasHandle_t h;
        st = cublasCreate_v2(&h);
        if (!st) st = cublasDestroy_v2(h);
    }
    printf("status=%d\n", st);
    return 0;
}
