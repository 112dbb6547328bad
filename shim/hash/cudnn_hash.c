/* cudnn_hash.c: hash mode for the cuDNN calls the layer intercepts that write device memory.
 *
 * The hooks of these calls (backward convolutions, pooling backward, backend execution)
 * start here: with hash mode off each is one load and the cuDNN layer's call; on, the
 * digests are taken around that call. Hash mode calls the layer, never the other way.
 *
 * Legacy calls are digested over the tensors their descriptors size (cudnnGetTensorSizeInBytes,
 * cudnnGetFilterSizeInBytes): the gradient written (dx, dw), the tensors read. A backend
 * execution's variant pack gives pointers without sizes (those are in the operation graph):
 * each pointer stands for the device allocation holding it, as for kernel arguments, and
 * every one counts as written (the plan may write any of them). alpha and beta are host or
 * device scalars; their first 4 bytes are digested. */
#include "cudnn_layer.h"
#include "hash.h"

bool ds_hash_range_of(CUdeviceptr p, CUdeviceptr *base, size_t *size);

static CUstream dnn_stream(cudnnHandle_t h)
{
    typedef cudnnStatus_t (*get_t)(cudnnHandle_t, cudaStream_t *);
    static _Atomic(void *) p;
    get_t get = (get_t)dsc_sym(&p, "cudnnGetStream");
    cudaStream_t s = NULL;
    if (!get || get(h, &s) != CUDNN_STATUS_SUCCESS) s = NULL;
    return (CUstream)s;
}

static void hash_begin(struct ds_hcall *c, enum ds_hook hook, cudnnHandle_t h, const char *what,
                    const void *alpha, const void *beta)
{
    ds_hcall_begin(c, hook, dnn_stream(h), what);
    ds_hcall_scalar_ptr(c, "alpha", alpha, 4);
    ds_hcall_scalar_ptr(c, "beta", beta, 4);
}

/* A tensor (filter: true for a filter descriptor) as its descriptor sizes it. */
static void hash_tensor(struct ds_hcall *c, const char *name, const void *p, const void *desc,
                     bool filter, bool out)
{
    typedef cudnnStatus_t (*size_t_fn)(const void *, size_t *);
    static _Atomic(void *) tp, fp;
    size_t_fn f = (size_t_fn)(filter ? dsc_sym(&fp, "cudnnGetFilterSizeInBytes")
                                     : dsc_sym(&tp, "cudnnGetTensorSizeInBytes"));
    size_t n = 0;
    if (p && (!f || !desc || f(desc, &n) != CUDNN_STATUS_SUCCESS || n == 0)) {
        ds_hcall_skip(c, "a tensor whose size cuDNN does not give: no digest");
        return;
    }
    if (out)
        ds_hcall_out(c, name, p, n);
    else
        ds_hcall_in(c, name, p, n);
}

/* The variant pack's device pointers, each as the allocation that holds it. */
static void hash_variant_pack(struct ds_hcall *c, cudnnBackendDescriptor_t vp)
{
    static const char *const names[] = {"tensor 0", "tensor 1", "tensor 2", "tensor 3", "tensor 4",
                                        "tensor 5", "tensor 6", "tensor 7", "tensor 8", "tensor 9",
                                        "tensor 10", "tensor 11", "tensor 12", "tensor 13",
                                        "tensor 14", "tensor 15"};
    enum { MAXP = sizeof names / sizeof *names };
    ds_real_cudnnBackendGetAttribute_t get = DS_REAL(cudnnBackendGetAttribute);
    void *ptrs[MAXP];
    int64_t uids[MAXP], n = 0, nu = 0;
    if (!get || !vp ||
        get(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, MAXP, &n, ptrs) !=
            CUDNN_STATUS_SUCCESS ||
        n <= 0 || n > MAXP) {
        ds_hcall_skip(c, "a variant pack whose pointers cannot be read: no digest");
        return;
    }
    if (get(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, MAXP, &nu, uids) ==
        CUDNN_STATUS_SUCCESS)
        for (int64_t i = 0; i < nu && i < MAXP; i++) ds_hcall_scalar(c, (uint64_t)uids[i]);
    for (int64_t i = 0; i < n; i++) {
        CUdeviceptr base;
        size_t size;
        if (!ptrs[i]) continue;
        if (!ds_hash_range_of((CUdeviceptr)(uintptr_t)ptrs[i], &base, &size)) {
            ds_hcall_skip(c, "a variant-pack pointer outside any device allocation: no digest");
            return;
        }
        ds_hcall_scalar(c, (uint64_t)((CUdeviceptr)(uintptr_t)ptrs[i] - base));
        ds_hcall_out(c, names[i], (const void *)(uintptr_t)base, size);
    }
}

/* ---- the hooks ------------------------------------------------------------------------ */

cudnnStatus_t ds_policy_cudnnConvolutionBackwardFilter(
    cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnFilterDescriptor_t dwDesc, void *dw)
{
#define CALL() dsc_conv_bwd_filter(handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo, workSpace, \
                                   workSpaceSizeInBytes, beta, dwDesc, dw)
    if (DS_LIKELY(!ds_hash_on())) return CALL();
    struct ds_hcall hc;
    hash_begin(&hc, DS_HOOK_cudnnConvolutionBackwardFilter, handle, "convolution backward filter", alpha, beta);
    hash_tensor(&hc, "dw", dw, dwDesc, true, true);
    hash_tensor(&hc, "x", x, xDesc, false, false);
    hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = CALL();
    ds_hcall_post(&hc, (int)st);
    return st;
#undef CALL
}

cudnnStatus_t ds_policy_cudnnConvolutionBackwardData(
    cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdDataAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnTensorDescriptor_t dxDesc, void *dx)
{
#define CALL() dsc_conv_bwd_data(handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo, workSpace, \
                                 workSpaceSizeInBytes, beta, dxDesc, dx)
    if (DS_LIKELY(!ds_hash_on())) return CALL();
    struct ds_hcall hc;
    hash_begin(&hc, DS_HOOK_cudnnConvolutionBackwardData, handle, "convolution backward data", alpha, beta);
    hash_tensor(&hc, "dx", dx, dxDesc, false, true);
    hash_tensor(&hc, "w", w, wDesc, true, false);
    hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = CALL();
    ds_hcall_post(&hc, (int)st);
    return st;
#undef CALL
}

cudnnStatus_t ds_policy_cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                                             const void *alpha, const cudnnTensorDescriptor_t yDesc,
                                             const void *y, const cudnnTensorDescriptor_t dyDesc,
                                             const void *dy, const cudnnTensorDescriptor_t xDesc,
                                             const void *x, const void *beta,
                                             const cudnnTensorDescriptor_t dxDesc, void *dx)
{
#define CALL() dsc_pool_bwd(handle, poolingDesc, alpha, yDesc, y, dyDesc, dy, xDesc, x, beta, dxDesc, dx)
    if (DS_LIKELY(!ds_hash_on())) return CALL();
    struct ds_hcall hc;
    hash_begin(&hc, DS_HOOK_cudnnPoolingBackward, handle, "pooling backward", alpha, beta);
    hash_tensor(&hc, "dx", dx, dxDesc, false, true);
    hash_tensor(&hc, "y", y, yDesc, false, false);
    hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    hash_tensor(&hc, "x", x, xDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = CALL();
    ds_hcall_post(&hc, (int)st);
    return st;
#undef CALL
}

cudnnStatus_t ds_policy_cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                            cudnnBackendDescriptor_t variantPack)
{
    if (DS_LIKELY(!ds_hash_on())) return dsc_backend_execute(handle, executionPlan, variantPack);
    struct ds_hcall hc;
    hash_begin(&hc, DS_HOOK_cudnnBackendExecute, handle, "backend execute", NULL, NULL);
    hash_variant_pack(&hc, variantPack);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = dsc_backend_execute(handle, executionPlan, variantPack);
    ds_hcall_post(&hc, (int)st);
    return st;
}
