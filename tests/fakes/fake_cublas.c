/* A fake libcublas.so.13, compiled from the real cublas_api.h.
 *
 * What it imitates, and from which observation (CUDA 13.1's libcublas.so.13 in
 * /usr/local/cuda/lib, no GPU): the exported _v2/_64 names (nm -D --defined-only); a new
 * handle's state (stream NULL, default workspace, atomics NOT_ALLOWED, DEFAULT_MATH), and
 * cublasSetStream resetting the workspace, as NVIDIA's documentation says (cublasCreate
 * fails without a GPU, so these are not observed on the real one); libcublas reaching
 * cuBLASLt (cublasLtMatmul, cublasLtMatmulAlgoGetHeuristic) through the dynamic linker:
 * nm -D lists them undefined in libcublas.so.13, so a preloaded hook sees cuBLAS's own
 * calls (fake_cublas_internal_*). It computes nothing unless FAKE_BLAS_COMPUTE is set.
 *
 * In detail: handles are host
 * structs that remember what the caller (through the shim) set on them, and every call
 * the cuBLAS layer cares about is recorded (fake_record.h) with that state, so a test
 * can see which stream, workspace, atomics mode and math mode a routine really ran with.
 *
 * Like the real library: a new handle is on the legacy default stream (NULL) with the
 * default workspace, atomics NOT_ALLOWED and CUBLAS_DEFAULT_MATH; cublasSetStream_v2
 * resets the handle to the default workspace. */
#include <stdint.h>
#include <stdlib.h>

#include <cublas_api.h>
#include <cublasLt.h>

#include "../../shim/core/cuda_compat.h"
#include "fake_record.h"

/* cuBLAS runs many routines through cuBLASLt. A weak reference: bound at load time to the
 * first definition in the global scope (the shim's wrapper when it is preloaded, else the
 * fake libcublasLt when loaded), as the real library's PLT is. */
#pragma weak cublasLtMatmulAlgoGetHeuristic
#pragma weak cublasLtMatmul

struct cublasContext {
    cudaStream_t stream;
    void *workspace; /* NULL: the library's default workspace */
    size_t workspace_size;
    int workspace_set; /* cublasSetWorkspace_v2 called since the last stream change */
    cublasAtomicsMode_t atomics;
    cublasMath_t math;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = calloc(1, sizeof **handle);
    if (!*handle) return CUBLAS_STATUS_ALLOC_FAILED;
    /* the real library reads CUBLAS_WORKSPACE_CONFIG when it sets a handle up */
    const char *wc = getenv("CUBLAS_WORKSPACE_CONFIG");
    fake_record("cublasCreate_v2 handle=%p workspace_config=%s", (void *)*handle,
                wc ? wc : "(unset)");
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

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = streamId;
    handle->workspace = NULL; /* back to the default workspace, as documented */
    handle->workspace_size = 0;
    handle->workspace_set = 0;
    fake_record("cublasSetStream_v2 handle=%p stream=%p", (void *)handle, (void *)streamId);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!streamId) return CUBLAS_STATUS_INVALID_VALUE;
    *streamId = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (getenv("FAKE_CUBLAS_REFUSE_WORKSPACE")) { /* as the real one does a misaligned buffer */
        fake_record("cublasSetWorkspace_v2 handle=%p refused", (void *)handle);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->workspace = workspace;
    handle->workspace_size = workspaceSizeInBytes;
    handle->workspace_set = 1;
    fake_record("cublasSetWorkspace_v2 handle=%p stream=%p workspace=%p size=%zu", (void *)handle,
                (void *)handle->stream, workspace, workspaceSizeInBytes);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (getenv("FAKE_CUBLAS_FAIL_SETTERS")) return CUBLAS_STATUS_INVALID_VALUE;
    handle->atomics = mode;
    fake_record("cublasSetAtomicsMode handle=%p mode=%d", (void *)handle, (int)mode);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t *mode)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->atomics;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (getenv("FAKE_CUBLAS_FAIL_SETTERS")) return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    fake_record("cublasSetMathMode handle=%p mode=%d", (void *)handle, (int)mode);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->math;
    return CUBLAS_STATUS_SUCCESS;
}

/* A routine: records the state it ran with. Computes nothing. */
static cublasStatus_t routine(const char *name, cublasHandle_t h)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (h->workspace_set)
        fake_record("%s handle=%p stream=%p workspace=%p size=%zu atomics=%d math=%d", name,
                    (void *)h, (void *)h->stream, h->workspace, h->workspace_size, (int)h->atomics,
                    (int)h->math);
    else
        fake_record("%s handle=%p stream=%p workspace=default size=0 atomics=%d math=%d", name,
                    (void *)h, (void *)h->stream, (int)h->atomics, (int)h->math);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                              int m, int n, int k, const float *alpha, const float *A, int lda,
                              const float *B, int ldb, const float *beta, float *C, int ldc)
{
    (void)transa, (void)transb, (void)m, (void)n, (void)k, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    if (handle && fake_blas_computes()) fake_sgemm(m, n, k, A, lda, B, ldb, *beta, C, ldc, C, ldc);
    return routine("cublasSgemm_v2", handle);
}

cublasStatus_t cublasDgemm_v2_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                 int64_t m, int64_t n, int64_t k, const double *alpha, const double *A,
                                 int64_t lda, const double *B, int64_t ldb, const double *beta, double *C,
                                 int64_t ldc)
{
    (void)transa, (void)transb, (void)m, (void)n, (void)k, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return routine("cublasDgemm_v2_64", handle);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda,
                            const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo)
{
    /* every argument, so that a test can tell that the shim passed all 19 on unchanged */
    fake_record("cublasGemmEx args %d %d %d %d %d %p %p %d %d %p %d %d %p %p %d %d %d %d", (int)transa,
                (int)transb, m, n, k, alpha, A, (int)Atype, lda, B, (int)Btype, ldb, beta, C,
                (int)Ctype, ldc, (int)computeType, (int)algo);
    return routine("cublasGemmEx", handle);
}

cublasStatus_t cublasSsymv_v2(cublasHandle_t handle, cublasFillMode_t uplo, int n, const float *alpha,
                              const float *A, int lda, const float *x, int incx, const float *beta, float *y,
                              int incy)
{
    (void)uplo, (void)n, (void)alpha, (void)A, (void)lda, (void)x, (void)incx, (void)beta, (void)y;
    (void)incy;
    return routine("cublasSsymv_v2", handle);
}

cublasStatus_t cublasZhemv_v2_64(cublasHandle_t handle, cublasFillMode_t uplo, int64_t n,
                                 const cuDoubleComplex *alpha, const cuDoubleComplex *A, int64_t lda,
                                 const cuDoubleComplex *x, int64_t incx, const cuDoubleComplex *beta,
                                 cuDoubleComplex *y, int64_t incy)
{
    (void)uplo, (void)n, (void)alpha, (void)A, (void)lda, (void)x, (void)incx, (void)beta, (void)y;
    (void)incy;
    return routine("cublasZhemv_v2_64", handle);
}

/* More of the gemm family (the shim hooks them since issue 15). cublas_api.h declares the
 * Hgemm ones for C++ only (__half): their arguments are pointers, const void * here. */
cublasStatus_t cublasHgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                           int n, int k, const void *alpha, const void *A, int lda, const void *B, int ldb,
                           const void *beta, void *C, int ldc);
cublasStatus_t cublasHgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                           int n, int k, const void *alpha, const void *A, int lda, const void *B, int ldb,
                           const void *beta, void *C, int ldc)
{
    fake_record("cublasHgemm args %d %d %d %d %d %p %p %d %p %d %p %p %d", (int)transa, (int)transb, m, n, k,
                alpha, A, lda, B, ldb, beta, C, ldc);
    return routine("cublasHgemm", handle);
}

cublasStatus_t cublasHgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                                            const void *alpha, const void *A, int64_t lda, long long int strideA,
                                            const void *B, int64_t ldb, long long int strideB, const void *beta,
                                            void *C, int64_t ldc, long long int strideC, int64_t batchCount);
cublasStatus_t cublasHgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa,
                                            cublasOperation_t transb, int64_t m, int64_t n, int64_t k,
                                            const void *alpha, const void *A, int64_t lda, long long int strideA,
                                            const void *B, int64_t ldb, long long int strideB, const void *beta,
                                            void *C, int64_t ldc, long long int strideC, int64_t batchCount)
{
    (void)transa, (void)transb, (void)m, (void)n, (void)k, (void)alpha, (void)A, (void)lda, (void)strideA;
    (void)B, (void)ldb, (void)strideB, (void)beta, (void)C, (void)ldc, (void)strideC;
    fake_record("cublasHgemmStridedBatched_64 batch=%lld", (long long)batchCount);
    return routine("cublasHgemmStridedBatched_64", handle);
}

cublasStatus_t cublasCgemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                             int n, int k, const cuComplex *alpha, const void *A, cudaDataType Atype, int lda,
                             const void *B, cudaDataType Btype, int ldb, const cuComplex *beta, void *C,
                             cudaDataType Ctype, int ldc)
{
    (void)transa, (void)transb, (void)m, (void)n, (void)k, (void)alpha, (void)A, (void)Atype, (void)lda;
    (void)B, (void)Btype, (void)ldb, (void)beta, (void)C, (void)Ctype, (void)ldc;
    return routine("cublasCgemmEx", handle);
}

cublasStatus_t cublasZgemm3m_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                int64_t m, int64_t n, int64_t k, const cuDoubleComplex *alpha,
                                const cuDoubleComplex *A, int64_t lda, const cuDoubleComplex *B, int64_t ldb,
                                const cuDoubleComplex *beta, cuDoubleComplex *C, int64_t ldc)
{
    (void)transa, (void)transb, (void)m, (void)n, (void)k, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return routine("cublasZgemm3m_64", handle);
}

cublasStatus_t cublasSgemmGroupedBatched(cublasHandle_t handle, const cublasOperation_t transa_array[],
                                         const cublasOperation_t transb_array[], const int m_array[],
                                         const int n_array[], const int k_array[], const float alpha_array[],
                                         const float *const Aarray[], const int lda_array[],
                                         const float *const Barray[], const int ldb_array[],
                                         const float beta_array[], float *const Carray[], const int ldc_array[],
                                         int group_count, const int group_size[])
{
    (void)transa_array, (void)transb_array, (void)m_array, (void)n_array, (void)k_array, (void)alpha_array;
    (void)Aarray, (void)lda_array, (void)Barray, (void)ldb_array, (void)beta_array, (void)Carray;
    (void)ldc_array, (void)group_size;
    fake_record("cublasSgemmGroupedBatched groups=%d", group_count);
    return routine("cublasSgemmGroupedBatched", handle);
}

/* cuBLAS 13's emulation controls: remembered, recorded */
cublasStatus_t cublasSetEmulationStrategy(cublasHandle_t handle, cublasEmulationStrategy_t s)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    fake_record("cublasSetEmulationStrategy handle=%p strategy=%d", (void *)handle, (int)s);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetFixedPointEmulationMaxMantissaBitCount(cublasHandle_t handle, int n)
{
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    fake_record("cublasSetFixedPointEmulationMaxMantissaBitCount handle=%p bits=%d", (void *)handle, n);
    return CUBLAS_STATUS_SUCCESS;
}

/* Not a cuBLAS function: stands for a cuBLAS routine that asks cuBLASLt's heuristic through
 * the exported API, from inside libcublas (tests of the cublaslt layer). */
cublasStatus_t fake_cublas_internal_heuristic(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *count);
cublasStatus_t fake_cublas_internal_heuristic(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *count)
{
    if (!cublasLtMatmulAlgoGetHeuristic) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt, desc, A, B, C, D, pref, requested, results, count);
    fake_record("fake_cublas_internal_heuristic status=%d", (int)st); /* (and no tail call) */
    return st;
}

/* Not a cuBLAS function: stands for a cuBLAS routine the shim does not hook that runs its
 * work through cuBLASLt's exported cublasLtMatmul, as the real libcublas.so.13 does (it
 * imports cublasLtMatmul from libcublasLt through its PLT: `nm -D` lists it undefined), so
 * the call reaches a preloaded hook. */
cublasStatus_t fake_cublas_internal_matmul(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc, const void *alpha,
                                           const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
                                           cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
                                           cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
                                           const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsSize,
                                           cudaStream_t stream);
cublasStatus_t fake_cublas_internal_matmul(cublasLtHandle_t lt, cublasLtMatmulDesc_t desc, const void *alpha,
                                           const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
                                           cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
                                           cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
                                           const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsSize,
                                           cudaStream_t stream)
{
    if (!cublasLtMatmul) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasStatus_t st = cublasLtMatmul(lt, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, ws,
                                       wsSize, stream);
    fake_record("fake_cublas_internal_matmul status=%d", (int)st); /* (and no tail call) */
    return st;
}
