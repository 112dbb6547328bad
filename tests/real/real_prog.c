/* real_prog: the REAL CUDA libraries (no GPU needed), reached as TensorFlow and ctypes
 * reach them: dlopen(path, RTLD_LOCAL) and dlsym on the handle. $CUDA_LIB names their
 * folder.
 *
 *   real_prog errors   hooked functions called with what fails without a GPU or with bad
 *                      arguments: prints "<call> <status>" lines that must be the same with
 *                      and without the shim, in every mode; first "where <name> <object>"
 *   real_prog lt       cuBLASLt preferences (libcublasLt opened RTLD_GLOBAL): alignments
 *                      4/8/256/32 and a reduction mask set on a preference, a heuristic asked (it fails without a GPU), the
 *                      preference read back; prints "pref <attr> <value>" and the statuses
 * Exit 0 when it got to the end. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <cublas_api.h>
#include <cublasLt.h>
#include <cudnn.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* cudaGetDriverEntryPoint */

static int open_flags = RTLD_NOW | RTLD_LOCAL;

static void *open_lib(const char *name)
{
    const char *dir = getenv("CUDA_LIB");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/local/cuda/lib", name);
    void *h = dlopen(path, open_flags);
    if (!h) {
        fprintf(stderr, "real_prog: %s\n", dlerror());
        exit(2);
    }
    return h;
}

static const char *where(const void *p)
{
    Dl_info di;
    if (!p) return "(null)";
    if (!dladdr(p, &di) || !di.dli_fname) return "?";
    const char *b = strrchr(di.dli_fname, '/');
    return b ? b + 1 : di.dli_fname;
}

static void *look(void *h, const char *name, int show)
{
    void *p = dlsym(h, name);
    if (show) printf("where %s %s\n", name, where(p));
    if (!p) {
        fprintf(stderr, "real_prog: %s not found\n", name);
        exit(3);
    }
    return p;
}

#define GET(h, name) __typeof__(&name) p_##name = (__typeof__(&name))look(h, #name, 1)
#define OUT(label, expr) printf("%s %d\n", label, (int)(expr))

static int errors(void)
{
    void *rt = open_lib("libcudart.so.13");
    void *bl = open_lib("libcublas.so.13");
    void *lt = open_lib("libcublasLt.so.13");
    void *dn = open_lib("libcudnn.so.9");
    GET(rt, cudaGetDeviceCount); /* not hooked */
    GET(rt, cudaGetLastError);
    GET(rt, cudaPeekAtLastError);
    GET(rt, cudaLaunchKernel);
    GET(rt, cudaMemcpy);
    GET(rt, cudaMemsetAsync);
    GET(rt, cudaGetDriverEntryPoint);
    GET(bl, cublasCreate_v2);
    GET(bl, cublasDestroy_v2);
    GET(bl, cublasSetStream_v2);
    GET(bl, cublasSetWorkspace_v2);
    GET(bl, cublasSetAtomicsMode);
    GET(bl, cublasSetMathMode);
    GET(bl, cublasSgemm_v2);
    GET(bl, cublasGemmEx);
    GET(bl, cublasGetVersion_v2); /* not hooked */
    GET(lt, cublasLtCreate);      /* not hooked */
    GET(lt, cublasLtMatmulAlgoGetHeuristic);
    GET(lt, cublasLtMatmul);
    GET(lt, cublasLtMatmulPreferenceCreate);
    GET(lt, cublasLtMatmulDescCreate);
    GET(dn, cudnnCreate); /* not hooked */
    GET(dn, cudnnConvolutionBackwardData);
    GET(dn, cudnnConvolutionBackwardFilter);
    GET(dn, cudnnPoolingBackward);
    GET(dn, cudnnSpatialTfSamplerBackward);
    GET(dn, cudnnGetConvolutionBackwardDataWorkspaceSize);
    GET(dn, cudnnFindConvolutionForwardAlgorithm);
    GET(dn, cudnnBackendCreateDescriptor);
    GET(dn, cudnnBackendFinalize);
    GET(dn, cudnnBackendExecute);
    GET(dn, cudnnBackendDestroyDescriptor);

    int n = -1;
    OUT("cudaGetDeviceCount", p_cudaGetDeviceCount(&n));
    OUT("cudaPeekAtLastError", p_cudaPeekAtLastError());
    OUT("cudaGetLastError", p_cudaGetLastError());
    OUT("cudaGetLastError.again", p_cudaGetLastError());
    dim3 g = {1, 1, 1}, b = {1, 1, 1};
    OUT("cudaLaunchKernel", p_cudaLaunchKernel((const void *)&errors, g, b, NULL, 0, NULL));
    OUT("cudaGetLastError.after_launch", p_cudaGetLastError());
    char buf[16];
    OUT("cudaMemcpy", p_cudaMemcpy(buf, buf + 8, 8, cudaMemcpyHostToHost));
    OUT("cudaMemsetAsync", p_cudaMemsetAsync(NULL, 0, 0, NULL));
    void *fp = NULL;
    enum cudaDriverEntryPointQueryResult qr;
    OUT("cudaGetDriverEntryPoint", p_cudaGetDriverEntryPoint("cuLaunchKernel", &fp, cudaEnableDefault, &qr));
    OUT("cudaGetLastError.end", p_cudaGetLastError());

    cublasHandle_t h = NULL;
    OUT("cublasCreate_v2", p_cublasCreate_v2(&h));
    OUT("cublasSetStream_v2", p_cublasSetStream_v2(NULL, NULL));
    OUT("cublasSetWorkspace_v2", p_cublasSetWorkspace_v2(NULL, NULL, 0));
    OUT("cublasSetAtomicsMode", p_cublasSetAtomicsMode(NULL, CUBLAS_ATOMICS_ALLOWED));
    OUT("cublasSetMathMode", p_cublasSetMathMode(NULL, CUBLAS_TF32_TENSOR_OP_MATH));
    float one = 1, x[4] = {0};
    OUT("cublasSgemm_v2", p_cublasSgemm_v2(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, x, 2, x, 2, &one, x, 2));
    OUT("cublasGemmEx", p_cublasGemmEx(NULL, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, x, CUDA_R_32F, 2, x,
                                       CUDA_R_32F, 2, &one, x, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT));
    OUT("cublasDestroy_v2", p_cublasDestroy_v2(NULL));
    int v = 0;
    OUT("cublasGetVersion_v2", p_cublasGetVersion_v2(NULL, &v));

    cublasLtHandle_t lh = NULL;
    OUT("cublasLtCreate", p_cublasLtCreate(&lh));
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulDesc_t desc = NULL;
    OUT("cublasLtMatmulPreferenceCreate", p_cublasLtMatmulPreferenceCreate(&pref));
    OUT("cublasLtMatmulDescCreate", p_cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasLtMatmulHeuristicResult_t res[2];
    int cnt = -1;
    OUT("cublasLtMatmulAlgoGetHeuristic", p_cublasLtMatmulAlgoGetHeuristic(NULL, desc, NULL, NULL, NULL, NULL, pref, 2, res, &cnt));

    OUT("cublasLtMatmul.null_algo", p_cublasLtMatmul(NULL, desc, &one, x, NULL, x, NULL, &one, x, NULL, x, NULL, NULL, NULL, 0, NULL));

    cudnnHandle_t dh = NULL;
    OUT("cudnnCreate", p_cudnnCreate(&dh));
    OUT("cudnnConvolutionBackwardData", p_cudnnConvolutionBackwardData(NULL, NULL, NULL, NULL, NULL, NULL, NULL, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, NULL, 0, NULL, NULL, NULL));
    OUT("cudnnConvolutionBackwardFilter", p_cudnnConvolutionBackwardFilter(NULL, NULL, NULL, NULL, NULL, NULL, NULL, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, NULL, 0, NULL, NULL, NULL));
    OUT("cudnnConvolutionBackwardData.algo0", p_cudnnConvolutionBackwardData(NULL, NULL, NULL, NULL, NULL, NULL, NULL, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, NULL, 0, NULL, NULL, NULL));
    OUT("cudnnConvolutionBackwardFilter.algo0", p_cudnnConvolutionBackwardFilter(NULL, NULL, NULL, NULL, NULL, NULL, NULL, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, NULL, 0, NULL, NULL, NULL));
    OUT("cudnnPoolingBackward", p_cudnnPoolingBackward(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    OUT("cudnnSpatialTfSamplerBackward", p_cudnnSpatialTfSamplerBackward(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    size_t ws = 0;
    OUT("cudnnGetConvolutionBackwardDataWorkspaceSize", p_cudnnGetConvolutionBackwardDataWorkspaceSize(NULL, NULL, NULL, NULL, NULL, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &ws));
    int got = -1;
    cudnnConvolutionFwdAlgoPerf_t perf[4];
    OUT("cudnnFindConvolutionForwardAlgorithm", p_cudnnFindConvolutionForwardAlgorithm(NULL, NULL, NULL, NULL, NULL, 4, &got, perf));
    cudnnBackendDescriptor_t bd = NULL;
    OUT("cudnnBackendCreateDescriptor", p_cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &bd));
    OUT("cudnnBackendFinalize", p_cudnnBackendFinalize(bd));
    OUT("cudnnBackendExecute", p_cudnnBackendExecute(NULL, bd, NULL));
    OUT("cudnnBackendDestroyDescriptor", p_cudnnBackendDestroyDescriptor(bd));
    printf("end\n");
    return 0;
}

static int lt_prefs(void)
{
    open_flags = RTLD_NOW | RTLD_GLOBAL; /* the spy library finds it with RTLD_NEXT */
    void *lt = open_lib("libcublasLt.so.13");
    GET(lt, cublasLtMatmulAlgoGetHeuristic);
    GET(lt, cublasLtMatmulPreferenceCreate);
    GET(lt, cublasLtMatmulPreferenceSetAttribute);
    GET(lt, cublasLtMatmulPreferenceGetAttribute);
    GET(lt, cublasLtMatmulDescCreate);
    GET(lt, cublasLtMatrixLayoutCreate);
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL, ld = NULL;
    OUT("create", p_cublasLtMatmulPreferenceCreate(&pref));
    OUT("desc", p_cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    OUT("layouts", p_cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, 64, 64, 64) |
                       p_cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, 64, 64, 64) |
                       p_cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, 64, 64, 64) |
                       p_cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, 64, 64, 64));
    static const struct { cublasLtMatmulPreferenceAttributes_t a; const char *name; uint32_t v; } set[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, "align_a", 4},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, "align_b", 8},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, "align_c", 256},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, "align_d", 32},
        {CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, "reduction", CUBLASLT_REDUCTION_SCHEME_MASK},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        OUT(set[i].name, p_cublasLtMatmulPreferenceSetAttribute(pref, set[i].a, &set[i].v, sizeof set[i].v));
    cublasLtMatmulHeuristicResult_t res[2];
    int cnt = -1;
    /* no GPU: no handle (cublasLtCreate fails), so the heuristic fails; the shim asks it with
     * its normalised copy of the preference all the same (the spy library reads that copy) */
    OUT("heuristic", p_cublasLtMatmulAlgoGetHeuristic(NULL, desc, la, lb, lc, ld, pref, 2, res, &cnt));
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        uint32_t v = 0;
        size_t w = 0;
        int st = p_cublasLtMatmulPreferenceGetAttribute(pref, set[i].a, &v, sizeof v, &w);
        printf("pref %s %u status=%d\n", set[i].name, v, st);
    }
    printf("end\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "errors")) return errors();
    if (!strcmp(argv[1], "lt")) return lt_prefs();
    return 2;
}
