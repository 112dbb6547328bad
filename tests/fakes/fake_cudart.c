/* A fake libcudart.so.13 (runtime API), compiled from the real cuda_runtime_api.h. */
#include <cuda_runtime_api.h>

#include "fake_record.h"

cudaError_t cudaRuntimeGetVersion(int *v)
{
    if (!v) return cudaErrorInvalidValue;
    *v = 13000;
    return cudaSuccess;
}
