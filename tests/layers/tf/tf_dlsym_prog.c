/* tf_dlsym_prog: reaches the CUDA libraries the way TensorFlow's StreamExecutor does
 * (tsl/platform/default/dlopen_checker, stream_executor/cuda/cuda_*_stub.cc): dlopen of each
 * library by soname with RTLD_LAZY | RTLD_LOCAL, then dlsym(handle, name) for every function,
 * never a link-time reference. Calls a kernels-layer, a cuBLAS-layer and a cuDNN-layer hook
 * through those pointers; the shim sees them only when it interposes dlsym. */
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <dlfcn.h>
#include <stdio.h>

static void *open_lib(const char *soname)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!h) fprintf(stderr, "tf_dlsym_prog: %s\n", dlerror());
    return h;
}

int main(void)
{
    void *rt = open_lib("libcudart.so.13");
    void *bl = open_lib("libcublas.so.13");
    void *dn = open_lib("libcudnn.so.9");
    if (!rt || !bl || !dn) return 2;
    cudaError_t (*last)(void) = (cudaError_t (*)(void))dlsym(rt, "cudaGetLastError");
    cublasStatus_t (*create)(cublasHandle_t *) =
        (cublasStatus_t (*)(cublasHandle_t *))dlsym(bl, "cublasCreate_v2");
    cublasStatus_t (*atomics)(cublasHandle_t, cublasAtomicsMode_t) =
        (cublasStatus_t (*)(cublasHandle_t, cublasAtomicsMode_t))dlsym(bl, "cublasSetAtomicsMode");
    typedef cudnnStatus_t (*fwd_v7_fn)(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                       const cudnnFilterDescriptor_t,
                                       const cudnnConvolutionDescriptor_t,
                                       const cudnnTensorDescriptor_t, const int, int *,
                                       cudnnConvolutionFwdAlgoPerf_t *);
    fwd_v7_fn fwd = (fwd_v7_fn)dlsym(dn, "cudnnGetConvolutionForwardAlgorithm_v7");
    if (!last || !create || !atomics || !fwd) {
        fprintf(stderr, "tf_dlsym_prog: a symbol is missing\n");
        return 2;
    }
    cublasHandle_t h = NULL;
    printf("cudaGetLastError=%d\n", (int)last());
    printf("cublasCreate_v2=%d\n", (int)create(&h));
    printf("cublasSetAtomicsMode=%d\n", (int)atomics(h, CUBLAS_ATOMICS_ALLOWED));
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int n = 0;
    printf("cudnnGetConvolutionForwardAlgorithm_v7=%d n=%d\n",
           (int)fwd(NULL, NULL, NULL, NULL, NULL, 8, &n, perf), n);
    return 0;
}
