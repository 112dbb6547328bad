/* kernels_common.h: the fake kernels the kernels-layer tests launch. A fake kernel is a
 * host function (its "stub") registered under a device name, as nvcc's generated
 * registration code does; the fake runtime and driver record each launch by name. */
#ifndef KERNELS_COMMON_H
#define KERNELS_COMMON_H
#include <cuda.h>
#include <cuda_runtime_api.h>

#undef cuGetProcAddress /* the old 4-argument entry point, by its real name */

/* Declared by the CUDA headers for C++ only. */
void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                            const char *deviceName, int thread_limit, uint3 *tid, uint3 *bid,
                            dim3 *bDim, dim3 *gDim, int *wSize);
cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun);
cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 g, dim3 b, void **args, size_t smem,
                               cudaStream_t s);
cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 g, dim3 b, void **args,
                                    size_t smem, cudaStream_t s);
/* Declared only when compiling for the per-thread default stream. */
cudaError_t cudaLaunchKernel_ptsz(const void *func, dim3 g, dim3 b, void **args, size_t smem,
                                  cudaStream_t s);
cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t *c, const void *func, void **args);
cudaError_t cudaLaunchCooperativeKernel_ptsz(const void *func, dim3 g, dim3 b, void **args,
                                             size_t smem, cudaStream_t s);
cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t e, cudaStream_t s);
cudaError_t cudaGetDriverEntryPoint_ptsz(const char *symbol, void **fp, unsigned long long flags,
                                         enum cudaDriverEntryPointQueryResult *qr);
/* Declared by CUDA 12.5 and later only (CUDA 12.4 builds too). */
cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **fp, unsigned int ver,
                                             unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult *qr);
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char *symbol, void **fp, unsigned int ver,
                                                  unsigned long long flags,
                                                  enum cudaDriverEntryPointQueryResult *qr);
CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned smem, CUstream s, void **p,
                             void **e);
CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *c, CUfunction f, void **p, void **e);
CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                                        CUstream s, void **p);
CUresult cuGraphLaunch_ptsz(CUgraphExec g, CUstream s);
CUresult cuGetProcAddress(const char *symbol, void **pfn, int ver, cuuint64_t flags);

/* Names: two in the built-in database (ATen's index_add kernel, DeePMD's force kernel),
 * two clean ones, and one a scanner file lists in the tests. */
#define K_INDEX                                                                            \
    "_ZN2at6native19indexFuncLargeIndexIdljLi2ELi2ELin2ELb1ENS0_43_GLOBAL__N__26b3f186_7_"  \
    "Indexing_cu_8d0f5a2d9ReduceAddEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_" \
    "IKT0_S8_EEiiS8_S8_llT6_S7_"
#define K_FORCE "_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii"
#define K_AXPY "_Z10clean_axpyIdEvPT_PKS0_S0_i"
#define K_FILL "fill_zero"
#define K_REDUCE "_Z12clean_reducePd"

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void **, void **);
typedef CUresult (*launch_ex_fn)(const CUlaunchConfig *, CUfunction, void **, void **);
typedef CUresult (*launch_coop_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                   unsigned, unsigned, CUstream, void **);
typedef CUresult (*graph_fn)(CUgraphExec, CUstream);
typedef CUresult (*gpa2_fn)(const char *, void **, int, cuuint64_t,
                            CUdriverProcAddressQueryResult *);
#endif
