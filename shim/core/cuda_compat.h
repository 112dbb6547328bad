/* cuda_compat.h: the types CUDA 13's headers added that hooked functions take, for builds
 * against CUDA 12.4+ headers. Each is the same ABI as the type CUDA 13 declares (an enum, a
 * pointer), so the library built with either serves both. */
#ifndef DETSHIM_CUDA_COMPAT_H
#define DETSHIM_CUDA_COMPAT_H
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#if CUBLAS_VER_MAJOR < 13
typedef int cublasEmulationStrategy_t;
typedef int cudaEmulationSpecialValuesSupport;
typedef int cudaEmulationMantissaControl;
#define CUBLAS_EMULATION_STRATEGY_DEFAULT 0
#endif
#if CUDART_VERSION < 12050
typedef struct CUlib_st *cudaLibrary_t;
#endif
#endif
