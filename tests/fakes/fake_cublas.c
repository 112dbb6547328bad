/* A fake libcublas.so.13, compiled from the real cublas_api.h: handles are host
 * structs that remember what the caller (through the shim) set on them. */
#include <stdlib.h>

#include <cublas_api.h>

#include "fake_record.h"

struct cublasContext {
    cudaStream_t stream;
    void *workspace;
    size_t workspace_size;
    cublasAtomicsMode_t atomics;
    cublasMath_t math;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = calloc(1, sizeof **handle);
    if (!*handle) return CUBLAS_STATUS_ALLOC_FAILED;
    fake_record("cublasCreate_v2 handle=%p", (void *)*handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    fake_record("cublasDestroy_v2 handle=%p", (void *)handle);
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version)
{
    (void)handle;
    if (version) *version = 130100;
    return CUBLAS_STATUS_SUCCESS;
}
