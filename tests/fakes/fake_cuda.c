/* A fake libcuda.so.1 (driver API), compiled from the real cuda.h. Device queries
 * answer as a pretend GPU once fake_cuInit-style context creation has happened. */
#include <string.h>

#include <cuda.h>

#include "fake_record.h"

static int ctx_current;

CUresult cuInit(unsigned int flags)
{
    fake_record("cuInit flags=%u", flags);
    ctx_current = 1;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *v)
{
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *dev)
{
    if (!ctx_current) return CUDA_ERROR_INVALID_CONTEXT;
    *dev = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    (void)dev;
    if (!name || len < 1) return CUDA_ERROR_INVALID_VALUE;
    strncpy(name, "Fake GPU H100-like", (size_t)len - 1);
    name[len - 1] = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute attr, CUdevice dev)
{
    (void)dev;
    switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
    default: *v = 0;
    }
    return CUDA_SUCCESS;
}
