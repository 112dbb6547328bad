/* vendor.h: the vendor headers the hook table needs, included in one place.
 * cublas_api.h, not cublas_v2.h: the latter #defines plain names onto the _v2 ones
 * (cublasCreate -> cublasCreate_v2) and would rename our own definitions. */
#ifndef DETSHIM_VENDOR_H
#define DETSHIM_VENDOR_H
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <cublas_api.h>
#include <cublasLt.h>
#include <cudnn.h>
#include <nccl.h>

#include "cuda_compat.h"
#endif
