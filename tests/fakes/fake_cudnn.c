/* A fake libcudnn.so.9, compiled from the real cudnn.h: host structs stand in for the
 * handle, the legacy descriptors and a miniature backend descriptor store, so the
 * cuDNN layer can be tested without a GPU. Every call that does work records what it
 * was finally asked (fake_record), e.g. "cudnnConvolutionBackwardFilter algo=1 ...".
 *
 * What it imitates, and from which observation (the real cuDNN 9.19.0 of CUDA 13 in
 * /usr/local/cuda/lib, on a machine without a GPU; tests/real checks the shim against it):
 *   - one library, libcudnn.so.9, exporting the legacy and backend API. The real
 *     libcudnn.so.9 is a thin front (NEEDED: libdl, libstdc++, libc ... only) that loads
 *     its sub-libraries (libcudnn_graph/_ops/_cnn/_adv/_heuristic/_engines_*) itself.
 *   - cuDNN's own use of the backend does not go through the dynamic linker: no
 *     sub-library has an undefined cudnnBackend* symbol (nm -D --undefined-only, readelf
 *     --dyn-syms: libcudnn_cnn imports only cudnnGetStream, cudnnSetTensor4dDescriptor and
 *     a few more, bound by version to libcudnn_ops.so.9/libcudnn_graph.so.9; libcudnn_graph
 *     defines the cudnnBackend* functions and libcudnn_cnn is linked DT_SYMBOLIC). So
 *     cudnnConvolutionForward here builds its plan with direct, local calls an interposer
 *     never sees; FAKE_CUDNN_INTERNAL_VIA_LINKER=1 makes it look the functions up with
 *     dlsym(RTLD_DEFAULT) instead, to test the layer's "called from cuDNN" check.
 *   - a NULL handle: CUDNN_STATUS_BAD_PARAM (2000) from the backward convolutions, CTC,
 *     pooling backward and their workspace queries (the real library answers so).
 *   - pooling descriptors hold at most 6 dimensions: cudnnSetPoolingNdDescriptor with 7
 *     and cudnnGetPoolingNdDescriptor asked for more than 6 return
 *     CUDNN_STATUS_NOT_SUPPORTED (3000), even though CUDNN_DIM_MAX is 8.
 * What it makes up (the tests' fixtures, not claims about the real library):
 *
 * Legacy API
 *   finders    mixed lists, nondeterministic entries first (see the tables below);
 *              every variant (Find, FindEx, Get_v7) returns the same list; with
 *              FAKE_CUDNN_NONDET_ONLY set, only the nondeterministic head of it
 *   workspace  per-algorithm sizes; a convolution with dilation > 1 supports neither
 *              backward-filter ALGO_1/FFT/WINOGRAD_NONFUSED... (see *_need below);
 *              pad_w == 9 makes ALGO_1 refuse at execution though its size query works
 *   execution  NOT_SUPPORTED for an unsupported algorithm, BAD_PARAM for too small a
 *              workspace, else SUCCESS and a record of the algorithm that ran;
 *              FAKE_CUDNN_ABORT=<function> aborts in that function once it has recorded
 *   CTC        the deterministic algorithm needs 2048 bytes, the other 1024; a label
 *              longer than 256 is not supported by the deterministic one
 *   pooling    CUDNN_POOLING_MAX_DETERMINISTIC is refused for more than 2 spatial dims
 *   Built with -DFAKE_CUDNN_MINIMAL, the workspace-size queries and
 *   cudnnGetPoolingNdDescriptor are left out (what the shim calls on its own behalf).
 * Backend API (engines by global index, notes per engine)
 *   0 {TENSOR_CORE, NONDETERMINISTIC}  1 {NONDETERMINISTIC}  2 {}  3 {TENSOR_CORE}
 *   4 {NONDETERMINISTIC, REDUCED_PRECISION_REDUCTION}  5 {}  6 {TENSOR_CORE}
 *   heuristics INSTANT/A: 1 3 0 2 4 5   B: 4 1 (all nondeterministic)   FALLBACK: 6 2
 *   An engine config can be filled from heuristics results only once (BAD_PARAM after),
 *   and a plan's attributes can be read only once it is finalised (NOT_INITIALIZED),
 *   as the strictest reading of the vendor's rules.
 *   cudnnConvolutionForward (not hooked) builds and runs a plan on engine 1 internally
 *   (see above for how it reaches the backend). */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#include "fake_record.h"

/* The vendor signatures are kept whole; most parameters are of no interest here. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

size_t cudnnGetVersion(void) { return 91900; }

/* ---- handle --------------------------------------------------------------------------- */

struct cudnnContext {
    cudaStream_t stream;
};

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle)
{
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    *handle = calloc(1, sizeof **handle);
    return *handle ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
{
    free(handle);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    handle->stream = streamId;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t *streamId)
{
    if (!handle || !streamId) return CUDNN_STATUS_BAD_PARAM;
    *streamId = handle->stream;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- legacy descriptors ---------------------------------------------------------------- */

struct cudnnTensorStruct {
    int dims[4];
    cudnnDataType_t type;
};
struct cudnnFilterStruct {
    int dims[4];
    cudnnDataType_t type;
};
struct cudnnConvolutionStruct {
    int pad_h, pad_w, u, v, dil_h, dil_w;
};
/* cuDNN 9.19 answers at most 6 pooling dimensions: cudnnSetPoolingNdDescriptor with 7 and
 * cudnnGetPoolingNdDescriptor asked for more than 6 both return CUDNN_STATUS_NOT_SUPPORTED
 * (3000), outputs untouched. */
#define FAKE_POOL_DIMS 6

struct cudnnPoolingStruct {
    cudnnPoolingMode_t mode;
    cudnnNanPropagation_t nan;
    int nb;
    int win[CUDNN_DIM_MAX], pad[CUDNN_DIM_MAX], stride[CUDNN_DIM_MAX];
};
struct cudnnCTCLossStruct {
    cudnnDataType_t type;
};
struct cudnnSpatialTransformerStruct {
    int nb;
};

#define CREATE_DESTROY(T, create, destroy)                     \
    cudnnStatus_t create(T *d)                                 \
    {                                                          \
        if (!d) return CUDNN_STATUS_BAD_PARAM;                 \
        *d = calloc(1, sizeof **d);                            \
        return CUDNN_STATUS_SUCCESS;                           \
    }                                                          \
    cudnnStatus_t destroy(T d)                                 \
    {                                                          \
        free(d);                                               \
        return CUDNN_STATUS_SUCCESS;                           \
    }
CREATE_DESTROY(cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor)
CREATE_DESTROY(cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor)
CREATE_DESTROY(cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor)
CREATE_DESTROY(cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor)
CREATE_DESTROY(cudnnCTCLossDescriptor_t, cudnnCreateCTCLossDescriptor, cudnnDestroyCTCLossDescriptor)
CREATE_DESTROY(cudnnSpatialTransformerDescriptor_t, cudnnCreateSpatialTransformerDescriptor,
               cudnnDestroySpatialTransformerDescriptor)

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w)
{
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    d->dims[0] = n, d->dims[1] = c, d->dims[2] = h, d->dims[3] = w;
    d->type = dataType;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    d->dims[0] = k, d->dims[1] = c, d->dims[2] = h, d->dims[3] = w;
    d->type = dataType;
    return CUDNN_STATUS_SUCCESS;
}

/* sizes: float and double only (what the tests use) */
static size_t fake_bytes(const int *dims, cudnnDataType_t t)
{
    size_t n = (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2] * (size_t)dims[3];
    return n * (t == CUDNN_DATA_DOUBLE ? 8 : 4);
}
cudnnStatus_t cudnnGetTensorSizeInBytes(const cudnnTensorDescriptor_t d, size_t *size)
{
    if (!d || !size) return CUDNN_STATUS_BAD_PARAM;
    *size = fake_bytes(d->dims, d->type);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetFilterSizeInBytes(const cudnnFilterDescriptor_t d, size_t *size)
{
    if (!d || !size) return CUDNN_STATUS_BAD_PARAM;
    *size = fake_bytes(d->dims, d->type);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u,
                                              int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType)
{
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    *d = (struct cudnnConvolutionStruct){pad_h, pad_w, u, v, dilation_h, dilation_w};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetPoolingNdDescriptor(cudnnPoolingDescriptor_t d, const cudnnPoolingMode_t mode,
                                          const cudnnNanPropagation_t nan, int nbDims, const int windowDimA[],
                                          const int paddingA[], const int strideA[])
{
    if (!d || nbDims < 1) return CUDNN_STATUS_BAD_PARAM;
    if (nbDims > FAKE_POOL_DIMS) return CUDNN_STATUS_NOT_SUPPORTED;
    if (mode == CUDNN_POOLING_MAX_DETERMINISTIC && nbDims > 2) return CUDNN_STATUS_NOT_SUPPORTED;
    d->mode = mode;
    d->nan = nan;
    d->nb = nbDims;
    for (int i = 0; i < nbDims; i++) d->win[i] = windowDimA[i], d->pad[i] = paddingA[i], d->stride[i] = strideA[i];
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t nan, int wh, int ww, int ph, int pw, int sh,
                                          int sw)
{
    int win[2] = {wh, ww}, pad[2] = {ph, pw}, stride[2] = {sh, sw};
    return cudnnSetPoolingNdDescriptor(d, mode, nan, 2, win, pad, stride);
}

#ifndef FAKE_CUDNN_MINIMAL
cudnnStatus_t cudnnGetPoolingNdDescriptor(const cudnnPoolingDescriptor_t d, int nbDimsRequested,
                                          cudnnPoolingMode_t *mode, cudnnNanPropagation_t *nan, int *nbDims,
                                          int windowDimA[], int paddingA[], int strideA[])
{
    if (!d || !mode || !nan || !nbDims) return CUDNN_STATUS_BAD_PARAM;
    if (nbDimsRequested > FAKE_POOL_DIMS) return CUDNN_STATUS_NOT_SUPPORTED;
    *mode = d->mode;
    *nan = d->nan;
    *nbDims = d->nb;
    for (int i = 0; i < d->nb && i < nbDimsRequested; i++)
        windowDimA[i] = d->win[i], paddingA[i] = d->pad[i], strideA[i] = d->stride[i];
    return CUDNN_STATUS_SUCCESS;
}
#endif

cudnnStatus_t cudnnGetPooling2dDescriptor(const cudnnPoolingDescriptor_t d, cudnnPoolingMode_t *mode,
                                          cudnnNanPropagation_t *nan, int *wh, int *ww, int *ph, int *pw,
                                          int *sh, int *sw)
{
    if (!d || d->nb != 2) return CUDNN_STATUS_BAD_PARAM;
    *mode = d->mode, *nan = d->nan;
    *wh = d->win[0], *ww = d->win[1], *ph = d->pad[0], *pw = d->pad[1], *sh = d->stride[0], *sw = d->stride[1];
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetCTCLossDescriptor(cudnnCTCLossDescriptor_t d, cudnnDataType_t compType)
{
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    d->type = compType;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetSpatialTransformerNdDescriptor(cudnnSpatialTransformerDescriptor_t d,
                                                     cudnnSamplerType_t samplerType, cudnnDataType_t dataType,
                                                     const int nbDims, const int dimA[])
{
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    d->nb = nbDims;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- convolution algorithm search ------------------------------------------------------ */

struct fake_perf {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t det;
};
/* forward: ALGO 1 marked nondeterministic by its field alone; the failed FFT entry's
 * field means nothing */
static const struct fake_perf fwd_list[] = {
    {1, CUDNN_STATUS_SUCCESS, 0, CUDNN_NON_DETERMINISTIC}, {0, CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC},
    {6, CUDNN_STATUS_SUCCESS, 1024, CUDNN_DETERMINISTIC},  {2, CUDNN_STATUS_SUCCESS, 4096, CUDNN_DETERMINISTIC},
    {4, CUDNN_STATUS_NOT_SUPPORTED, 0, CUDNN_NON_DETERMINISTIC}};
/* backward data: ALGO_0 first (nondeterministic by field and by documentation) */
static const struct fake_perf bwd_data_list[] = {
    {0, CUDNN_STATUS_SUCCESS, 0, CUDNN_NON_DETERMINISTIC}, {1, CUDNN_STATUS_SUCCESS, 2048, CUDNN_DETERMINISTIC},
    {3, CUDNN_STATUS_SUCCESS, 8192, CUDNN_DETERMINISTIC}, {2, CUDNN_STATUS_NOT_SUPPORTED, 0, CUDNN_DETERMINISTIC}};
/* backward filter: ALGO_3 first with a field that claims determinism (the documented
 * list must win), then ALGO_0 */
static const struct fake_perf bwd_filter_list[] = {
    {3, CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC},     {0, CUDNN_STATUS_SUCCESS, 0, CUDNN_NON_DETERMINISTIC},
    {1, CUDNN_STATUS_SUCCESS, 4096, CUDNN_DETERMINISTIC},  {5, CUDNN_STATUS_SUCCESS, 65536, CUDNN_DETERMINISTIC},
    {6, CUDNN_STATUS_NOT_SUPPORTED, 0, CUDNN_DETERMINISTIC}};
#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* with FAKE_CUDNN_NONDET_ONLY set, the finders return only the nondeterministic head */
enum { fwd_list_nondet_head = 1, bwd_data_list_nondet_head = 1, bwd_filter_list_nondet_head = 2 };

#define FILL_PERF(T, list, fn)                                                               \
    do {                                                                                     \
        if (!returnedAlgoCount || !perfResults || requestedAlgoCount <= 0)                   \
            return CUDNN_STATUS_BAD_PARAM;                                                   \
        int len_ = getenv("FAKE_CUDNN_NONDET_ONLY") ? list##_nondet_head : LEN(list);      \
        int n_ = len_ < requestedAlgoCount ? len_ : requestedAlgoCount;                      \
        for (int i_ = 0; i_ < n_; i_++) {                                                    \
            T *p_ = &perfResults[i_];                                                        \
            memset(p_, 0, sizeof *p_);                                                       \
            p_->algo = list[i_].algo;                                                        \
            p_->status = list[i_].status;                                                    \
            p_->time = list[i_].status == CUDNN_STATUS_SUCCESS ? 0.5f + (float)i_ : -1.0f;   \
            p_->memory = list[i_].memory;                                                    \
            p_->determinism = list[i_].det;                                                  \
        }                                                                                    \
        *returnedAlgoCount = n_;                                                             \
        fake_record("%s requested=%d returned=%d", fn, requestedAlgoCount, n_);              \
        return CUDNN_STATUS_SUCCESS;                                                         \
    } while (0)

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int *count)
{
    *count = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t handle, int *count)
{
    *count = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t handle, int *count)
{
    *count = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                   const cudnnFilterDescriptor_t wDesc,
                                                   const cudnnConvolutionDescriptor_t convDesc,
                                                   const cudnnTensorDescriptor_t yDesc, const int requestedAlgoCount,
                                                   int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionFwdAlgoPerf_t, fwd_list, __func__);
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc,
    const void *w, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, void *y,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults,
    void *workSpace, size_t workSpaceSizeInBytes)
{
    FILL_PERF(cudnnConvolutionFwdAlgoPerf_t, fwd_list, __func__);
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                     const cudnnFilterDescriptor_t filterDesc,
                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t destDesc,
                                                     const int requestedAlgoCount, int *returnedAlgoCount,
                                                     cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionFwdAlgoPerf_t, fwd_list, __func__);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                        const cudnnTensorDescriptor_t dyDesc,
                                                        const cudnnConvolutionDescriptor_t convDesc,
                                                        const cudnnTensorDescriptor_t dxDesc,
                                                        const int requestedAlgoCount, int *returnedAlgoCount,
                                                        cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionBwdDataAlgoPerf_t, bwd_data_list, __func__);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc,
    const void *dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void *dx,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults,
    void *workSpace, size_t workSpaceSizeInBytes)
{
    FILL_PERF(cudnnConvolutionBwdDataAlgoPerf_t, bwd_data_list, __func__);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle,
                                                          const cudnnFilterDescriptor_t filterDesc,
                                                          const cudnnTensorDescriptor_t diffDesc,
                                                          const cudnnConvolutionDescriptor_t convDesc,
                                                          const cudnnTensorDescriptor_t gradDesc,
                                                          const int requestedAlgoCount, int *returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionBwdDataAlgoPerf_t, bwd_data_list, __func__);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                          const cudnnTensorDescriptor_t dyDesc,
                                                          const cudnnConvolutionDescriptor_t convDesc,
                                                          const cudnnFilterDescriptor_t dwDesc,
                                                          const int requestedAlgoCount, int *returnedAlgoCount,
                                                          cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionBwdFilterAlgoPerf_t, bwd_filter_list, __func__);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc,
    const void *y, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void *dw,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults,
    void *workSpace, size_t workSpaceSizeInBytes)
{
    FILL_PERF(cudnnConvolutionBwdFilterAlgoPerf_t, bwd_filter_list, __func__);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle,
                                                            const cudnnTensorDescriptor_t srcDesc,
                                                            const cudnnTensorDescriptor_t diffDesc,
                                                            const cudnnConvolutionDescriptor_t convDesc,
                                                            const cudnnFilterDescriptor_t gradDesc,
                                                            const int requestedAlgoCount, int *returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    FILL_PERF(cudnnConvolutionBwdFilterAlgoPerf_t, bwd_filter_list, __func__);
}

/* ---- backward convolution with a given algorithm ---------------------------------------- */

/* Workspace need of an algorithm, or -1 when it is not supported for this descriptor. */
static long long bwd_filter_need(const cudnnConvolutionDescriptor_t conv, int algo)
{
    bool dilated = conv && (conv->dil_h > 1 || conv->dil_w > 1);
    switch (algo) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0: return 0;
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1: return dilated ? -1 : 4096;
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT: return 1 << 20;
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3: return 0;
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED: return 65536;
    default: return -1; /* WINOGRAD (not implemented), FFT_TILING */
    }
}

static long long bwd_data_need(const cudnnConvolutionDescriptor_t conv, int algo)
{
    bool dilated = conv && (conv->dil_h > 1 || conv->dil_w > 1);
    switch (algo) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return 0;
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return dilated ? -1 : 2048;
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return 1 << 20;
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return 8192;
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return 16384;
    default: return -1; /* WINOGRAD */
    }
}

#ifndef FAKE_CUDNN_MINIMAL
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle,
                                                             const cudnnTensorDescriptor_t xDesc,
                                                             const cudnnTensorDescriptor_t dyDesc,
                                                             const cudnnConvolutionDescriptor_t convDesc,
                                                             const cudnnFilterDescriptor_t gradDesc,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes)
{
    long long need = bwd_filter_need(convDesc, algo);
    if (!handle || !sizeInBytes) return CUDNN_STATUS_BAD_PARAM;
    if (need < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *sizeInBytes = (size_t)need;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                           const cudnnTensorDescriptor_t dyDesc,
                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                           const cudnnTensorDescriptor_t dxDesc,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes)
{
    long long need = bwd_data_need(convDesc, algo);
    if (!handle || !sizeInBytes) return CUDNN_STATUS_BAD_PARAM;
    if (need < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *sizeInBytes = (size_t)need;
    return CUDNN_STATUS_SUCCESS;
}
#endif

/* FAKE_CUDNN_ABORT=<function>: that function aborts the process once it has recorded its
 * call (a vendor call that crashes: what the shim logged before must be in the log). */
static void maybe_abort(const char *fn)
{
    const char *a = getenv("FAKE_CUDNN_ABORT");
    if (a && !strcmp(a, fn)) abort();
}

static cudnnStatus_t run_conv(const char *fn, cudnnHandle_t handle, const cudnnConvolutionDescriptor_t conv,
                              int algo, long long need, size_t ws)
{
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    if (!handle) st = CUDNN_STATUS_BAD_PARAM; /* as the real library, for a NULL handle */
    else if (need < 0 || (conv && conv->pad_w == 9 && algo == 1)) st = CUDNN_STATUS_NOT_SUPPORTED;
    else if ((size_t)need > ws) st = CUDNN_STATUS_BAD_PARAM;
    fake_record("%s algo=%d workspace=%zu status=%d", fn, algo, ws, (int)st);
    maybe_abort(fn);
    return st;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void *x,
                                             const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace,
                                             size_t workSpaceSizeInBytes, const void *beta,
                                             const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    cudnnStatus_t st = run_conv(__func__, handle, convDesc, algo, bwd_filter_need(convDesc, algo), workSpaceSizeInBytes);
    if (st == CUDNN_STATUS_SUCCESS && fake_blas_computes() && dw && x && dy) {
        /* dw[i] = x[i] + dy[i] (float); ALGO_0 accumulates with atomics: with FAKE_BLAS_NOISE=1
         * its result carries the process id, as a nondeterministic algorithm's would */
        size_t n = fake_bytes(dwDesc->dims, dwDesc->type) / 4;
        float *o = dw;
        for (size_t i = 0; i < n; i++) o[i] = ((const float *)x)[i] + ((const float *)dy)[i];
        const char *noise = getenv("FAKE_BLAS_NOISE");
        if (algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 && noise && *noise == '1' && n)
            o[0] += (float)(getpid() & 0xff);
    }
    return st;
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void *w,
                                           const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                           size_t workSpaceSizeInBytes, const void *beta,
                                           const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    return run_conv(__func__, handle, convDesc, algo, bwd_data_need(convDesc, algo), workSpaceSizeInBytes);
}

/* ---- CTC loss ---------------------------------------------------------------------------- */

static long long ctc_need(cudnnCTCLossAlgo_t algo, const int *labelLengths)
{
    if (algo == CUDNN_CTC_LOSS_ALGO_DETERMINISTIC) return labelLengths && labelLengths[0] > 256 ? -1 : 2048;
    if (algo == CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC) return 1024;
    return -1;
}

__attribute__((unused)) static cudnnStatus_t ctc_size(cudnnHandle_t handle, cudnnCTCLossAlgo_t algo,
                                                     const int *labelLengths, size_t *size)
{
    long long need = ctc_need(algo, labelLengths);
    if (!handle || !size) return CUDNN_STATUS_BAD_PARAM;
    if (need < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *size = (size_t)need;
    return CUDNN_STATUS_SUCCESS;
}

#ifndef FAKE_CUDNN_MINIMAL
cudnnStatus_t cudnnGetCTCLossWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t probsDesc,
                                           const cudnnTensorDescriptor_t gradientsDesc, const int *labels,
                                           const int *labelLengths, const int *inputLengths,
                                           cudnnCTCLossAlgo_t algo, cudnnCTCLossDescriptor_t ctcLossDesc,
                                           size_t *sizeInBytes)
{
    return ctc_size(handle, algo, labelLengths, sizeInBytes);
}

cudnnStatus_t cudnnGetCTCLossWorkspaceSize_v8(cudnnHandle_t handle, cudnnCTCLossAlgo_t algo,
                                              cudnnCTCLossDescriptor_t ctcLossDesc,
                                              const cudnnTensorDescriptor_t probsDesc,
                                              const cudnnTensorDescriptor_t gradientsDesc, size_t *sizeInBytes)
{
    return ctc_size(handle, algo, NULL, sizeInBytes);
}
#endif

static cudnnStatus_t run_ctc(const char *fn, cudnnHandle_t handle, cudnnCTCLossAlgo_t algo, const int *labelLengths,
                             size_t ws)
{
    long long need = ctc_need(algo, labelLengths);
    cudnnStatus_t st = !handle ? CUDNN_STATUS_BAD_PARAM
                       : need < 0                ? CUDNN_STATUS_NOT_SUPPORTED
                       : (size_t)need > ws ? CUDNN_STATUS_BAD_PARAM
                                           : CUDNN_STATUS_SUCCESS;
    fake_record("%s algo=%d workspace=%zu status=%d", fn, (int)algo, ws, (int)st);
    maybe_abort(fn);
    return st;
}

cudnnStatus_t cudnnCTCLoss(cudnnHandle_t handle, const cudnnTensorDescriptor_t probsDesc, const void *probs,
                           const int hostLabels[], const int hostLabelLengths[], const int hostInputLengths[],
                           void *costs, const cudnnTensorDescriptor_t gradientsDesc, void *gradients,
                           cudnnCTCLossAlgo_t algo, cudnnCTCLossDescriptor_t ctcLossDesc, void *workspace,
                           size_t workSpaceSizeInBytes)
{
    return run_ctc(__func__, handle, algo, hostLabelLengths, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnCTCLoss_v8(cudnnHandle_t handle, cudnnCTCLossAlgo_t algo, cudnnCTCLossDescriptor_t ctcLossDesc,
                              const cudnnTensorDescriptor_t probsDesc, const void *probs, const int labels[],
                              const int labelLengths[], const int inputLengths[], void *costs,
                              const cudnnTensorDescriptor_t gradientsDesc, void *gradients,
                              size_t workSpaceSizeInBytes, void *workspace)
{
    /* labelLengths live in GPU memory for _v8: the fake does not read them */
    return run_ctc(__func__, handle, algo, NULL, workSpaceSizeInBytes);
}

/* ---- pooling and spatial transformer backward ------------------------------------------- */

cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                                   const void *alpha, const cudnnTensorDescriptor_t yDesc, const void *y,
                                   const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                   const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta,
                                   const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    if (!handle || !poolingDesc) return CUDNN_STATUS_BAD_PARAM;
    fake_record("cudnnPoolingBackward mode=%d dims=%d win=%d", (int)poolingDesc->mode, poolingDesc->nb,
                poolingDesc->win[0]);
    maybe_abort(__func__);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSpatialTfSamplerBackward(cudnnHandle_t handle, cudnnSpatialTransformerDescriptor_t stDesc,
                                            const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
                                            const void *beta, const cudnnTensorDescriptor_t dxDesc, void *dx,
                                            const void *alphaDgrid, const cudnnTensorDescriptor_t dyDesc,
                                            const void *dy, const void *grid, const void *betaDgrid, void *dgrid)
{
    fake_record("cudnnSpatialTfSamplerBackward");
    return CUDNN_STATUS_SUCCESS;
}

/* ---- backend descriptor store ------------------------------------------------------------- */

#define BD_MAGIC 0x6364646eu

struct bdesc {
    unsigned magic;
    cudnnBackendDescriptorType_t type;
    bool finalized;
    int64_t engine; /* ENGINE, ENGINECFG, EXECUTION_PLAN: the engine's global index, -1 unset */
    cudnnBackendHeurMode_t heur_mode;
    bool has_graph;
};

static _Atomic int live_descriptors;

/* for the tests: descriptors created and not destroyed (the shim must not leak its
 * scratch descriptors) */
int fake_cudnn_live_descriptors(void) { return live_descriptors; }

struct engine_def {
    int nnotes;
    cudnnBackendNumericalNote_t notes[2];
};
static const struct engine_def engines[] = {
    {2, {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC}},
    {1, {CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC}},
    {0, {0}},
    {1, {CUDNN_NUMERICAL_NOTE_TENSOR_CORE}},
    {2, {CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION}},
    {0, {0}},
    {1, {CUDNN_NUMERICAL_NOTE_TENSOR_CORE}},
};
static const int64_t heur_a[] = {1, 3, 0, 2, 4, 5}, heur_b[] = {4, 1}, heur_fallback[] = {6, 2};

static struct bdesc *bd(cudnnBackendDescriptor_t d)
{
    struct bdesc *b = d;
    return b && b->magic == BD_MAGIC ? b : NULL;
}

static bool engine_valid(int64_t e) { return e >= 0 && e < LEN(engines); }

static const int64_t *heur_list(const struct bdesc *h, int *n)
{
    switch (h->heur_mode) {
    case CUDNN_HEUR_MODE_B: *n = LEN(heur_b); return heur_b;
    case CUDNN_HEUR_MODE_FALLBACK: *n = LEN(heur_fallback); return heur_fallback;
    default: *n = LEN(heur_a); return heur_a;
    }
}

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                           cudnnBackendDescriptor_t *descriptor)
{
    if (!descriptor) return CUDNN_STATUS_BAD_PARAM;
    struct bdesc *b = calloc(1, sizeof *b);
    if (!b) return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
    b->magic = BD_MAGIC;
    b->type = descriptorType;
    b->engine = -1;
    b->heur_mode = CUDNN_HEUR_MODE_INSTANT;
    *descriptor = b;
    live_descriptors++;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor)
{
    struct bdesc *b = bd(descriptor);
    if (!b) return CUDNN_STATUS_BAD_PARAM;
    b->magic = 0;
    free(b);
    live_descriptors--;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t n, const void *arr)
{
    struct bdesc *b = bd(descriptor);
    if (!b || b->finalized || n < 0 || (n > 0 && !arr)) return CUDNN_STATUS_BAD_PARAM;
    switch (name) {
    case CUDNN_ATTR_ENGINEHEUR_MODE:
        if (b->type != CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR || type != CUDNN_TYPE_HEUR_MODE || n != 1)
            return CUDNN_STATUS_BAD_PARAM;
        b->heur_mode = *(const cudnnBackendHeurMode_t *)arr;
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH:
        if (b->type != CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR) return CUDNN_STATUS_BAD_PARAM;
        b->has_graph = true;
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_ATTR_ENGINE_GLOBAL_INDEX:
        if (b->type != CUDNN_BACKEND_ENGINE_DESCRIPTOR || type != CUDNN_TYPE_INT64 || n != 1)
            return CUDNN_STATUS_BAD_PARAM;
        b->engine = *(const int64_t *)arr;
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_ATTR_ENGINECFG_ENGINE: {
        if (b->type != CUDNN_BACKEND_ENGINECFG_DESCRIPTOR || type != CUDNN_TYPE_BACKEND_DESCRIPTOR || n != 1)
            return CUDNN_STATUS_BAD_PARAM;
        struct bdesc *e = bd(*(cudnnBackendDescriptor_t const *)arr);
        if (!e || e->type != CUDNN_BACKEND_ENGINE_DESCRIPTOR || !e->finalized) return CUDNN_STATUS_BAD_PARAM;
        b->engine = e->engine;
        return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG: {
        if (b->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || type != CUDNN_TYPE_BACKEND_DESCRIPTOR || n != 1)
            return CUDNN_STATUS_BAD_PARAM;
        struct bdesc *c = bd(*(cudnnBackendDescriptor_t const *)arr);
        if (!c || c->type != CUDNN_BACKEND_ENGINECFG_DESCRIPTOR || !c->finalized) return CUDNN_STATUS_BAD_PARAM;
        b->engine = c->engine;
        return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION: {
        /* the fake's serialisation: "engine=<index>" */
        if (b->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || type != CUDNN_TYPE_CHAR)
            return CUDNN_STATUS_BAD_PARAM;
        char text[64] = {0};
        memcpy(text, arr, n < 63 ? (size_t)n : 63);
        long long e = -1;
        if (sscanf(text, "engine=%lld", &e) != 1) return CUDNN_STATUS_BAD_PARAM;
        b->engine = e;
        return CUDNN_STATUS_SUCCESS;
    }
    default:
        return CUDNN_STATUS_SUCCESS; /* handles, graphs, variant packs...: accepted, unused */
    }
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor)
{
    struct bdesc *b = bd(descriptor);
    if (!b || b->finalized) return CUDNN_STATUS_BAD_PARAM;
    switch (b->type) {
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
        if (!engine_valid(b->engine)) return CUDNN_STATUS_BAD_PARAM;
        break;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR:
        if (!engine_valid(b->engine)) return CUDNN_STATUS_BAD_PARAM;
        fake_record("cudnnBackendFinalize plan engine=%lld", (long long)b->engine);
        break;
    default:
        break;
    }
    b->finalized = true;
    return CUDNN_STATUS_SUCCESS;
}

/* Fills the caller-created descriptor d (of type want) with the engine e. */
static cudnnStatus_t fill(void *d, cudnnBackendDescriptorType_t want, int64_t e, bool once)
{
    struct bdesc *t = bd(d);
    if (!t || t->type != want || (once && t->finalized)) return CUDNN_STATUS_BAD_PARAM;
    t->engine = e;
    t->finalized = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t req, int64_t *count, void *arr)
{
    struct bdesc *b = bd(descriptor);
    if (!b || !count || req < 0) return CUDNN_STATUS_BAD_PARAM;
    if (!b->finalized) return CUDNN_STATUS_NOT_INITIALIZED;
    switch (name) {
    case CUDNN_ATTR_ENGINEHEUR_RESULTS: {
        if (b->type != CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR || type != CUDNN_TYPE_BACKEND_DESCRIPTOR)
            return CUDNN_STATUS_BAD_PARAM;
        int n;
        const int64_t *list = heur_list(b, &n);
        if (!arr || req == 0) {
            *count = n;
            fake_record("cudnnBackendGetAttribute RESULTS count=%d", n);
            return CUDNN_STATUS_SUCCESS;
        }
        int m = req < n ? (int)req : n;
        for (int i = 0; i < m; i++) {
            cudnnStatus_t st = fill(((cudnnBackendDescriptor_t *)arr)[i], CUDNN_BACKEND_ENGINECFG_DESCRIPTOR,
                                    list[i], true);
            if (st != CUDNN_STATUS_SUCCESS) {
                fake_record("cudnnBackendGetAttribute RESULTS refilled-or-bad-descriptor=%d", i);
                return st;
            }
        }
        *count = m;
        fake_record("cudnnBackendGetAttribute RESULTS requested=%lld returned=%d", (long long)req, m);
        return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_ATTR_ENGINECFG_ENGINE:
        if (b->type != CUDNN_BACKEND_ENGINECFG_DESCRIPTOR || type != CUDNN_TYPE_BACKEND_DESCRIPTOR) break;
        *count = 1;
        if (!arr || req < 1) return CUDNN_STATUS_SUCCESS;
        return fill(((cudnnBackendDescriptor_t *)arr)[0], CUDNN_BACKEND_ENGINE_DESCRIPTOR, b->engine, false);
    case CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG:
        if (b->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || type != CUDNN_TYPE_BACKEND_DESCRIPTOR) break;
        *count = 1;
        if (!arr || req < 1) return CUDNN_STATUS_SUCCESS;
        return fill(((cudnnBackendDescriptor_t *)arr)[0], CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, b->engine, false);
    case CUDNN_ATTR_ENGINE_GLOBAL_INDEX:
        if (b->type != CUDNN_BACKEND_ENGINE_DESCRIPTOR || type != CUDNN_TYPE_INT64) break;
        *count = 1;
        if (arr && req >= 1) *(int64_t *)arr = b->engine;
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE: {
        if (b->type != CUDNN_BACKEND_ENGINE_DESCRIPTOR || type != CUDNN_TYPE_NUMERICAL_NOTE) break;
        const struct engine_def *e = &engines[b->engine];
        int m = arr ? (req < e->nnotes ? (int)req : e->nnotes) : e->nnotes;
        for (int i = 0; arr && i < m; i++) ((cudnnBackendNumericalNote_t *)arr)[i] = e->notes[i];
        *count = m;
        return CUDNN_STATUS_SUCCESS;
    }
    default:
        break;
    }
    return CUDNN_STATUS_BAD_PARAM;
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                  cudnnBackendDescriptor_t variantPack)
{
    struct bdesc *p = bd(executionPlan);
    if (!p || p->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !p->finalized) return CUDNN_STATUS_BAD_PARAM;
    fake_record("cudnnBackendExecute engine=%lld", (long long)p->engine);
    return CUDNN_STATUS_SUCCESS;
}

/* ---- a legacy call built on the backend, like cuDNN 9's own ------------------------------ */

/* Local names of the backend functions: calls through them bind inside this library, never
 * through the dynamic linker (no PLT entry, so LD_PRELOAD cannot interpose them). */
#define LOCAL_ALIAS(local, name) \
    extern __typeof(name) local __attribute__((alias(#name), visibility("hidden")));
LOCAL_ALIAS(local_create, cudnnBackendCreateDescriptor)
LOCAL_ALIAS(local_finalize, cudnnBackendFinalize)
LOCAL_ALIAS(local_destroy, cudnnBackendDestroyDescriptor)
LOCAL_ALIAS(local_set, cudnnBackendSetAttribute)
LOCAL_ALIAS(local_exec, cudnnBackendExecute)

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                      const cudnnTensorDescriptor_t yDesc, void *y)
{
    /* as cuDNN 9 does, by direct calls inside the library (the hidden aliases below),
     * or, with FAKE_CUDNN_INTERNAL_VIA_LINKER=1, through the dynamic linker */
    typedef cudnnStatus_t (*create_t)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
    typedef cudnnStatus_t (*one_t)(cudnnBackendDescriptor_t);
    typedef cudnnStatus_t (*set_t)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
                                   cudnnBackendAttributeType_t, int64_t, const void *);
    typedef cudnnStatus_t (*exec_t)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
    create_t create = local_create;
    one_t finalize = local_finalize, destroy = local_destroy;
    set_t set = local_set;
    exec_t exec = local_exec;
    const char *via = getenv("FAKE_CUDNN_INTERNAL_VIA_LINKER");
    if (via && *via == '1') {
        create = (create_t)dlsym(RTLD_DEFAULT, "cudnnBackendCreateDescriptor");
        finalize = (one_t)dlsym(RTLD_DEFAULT, "cudnnBackendFinalize");
        destroy = (one_t)dlsym(RTLD_DEFAULT, "cudnnBackendDestroyDescriptor");
        set = (set_t)dlsym(RTLD_DEFAULT, "cudnnBackendSetAttribute");
        exec = (exec_t)dlsym(RTLD_DEFAULT, "cudnnBackendExecute");
    }
    if (!create || !finalize || !destroy || !set || !exec) return CUDNN_STATUS_INTERNAL_ERROR;
    cudnnBackendDescriptor_t eng, cfg, plan;
    int64_t idx = 1; /* nondeterministic */
    create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng);
    set(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &idx);
    finalize(eng);
    create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg);
    set(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng);
    finalize(cfg);
    create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan);
    set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    cudnnStatus_t st = finalize(plan);
    if (st == CUDNN_STATUS_SUCCESS) st = exec(handle, plan, NULL);
    fake_record("cudnnConvolutionForward internal-plan status=%d", (int)st);
    destroy(plan);
    destroy(cfg);
    destroy(eng);
    return st;
}
