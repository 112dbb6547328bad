/* hashed.c: the cuDNN layer's entry points for the four calls hash mode digests (backward
 * convolutions, pooling backward, backend execution). With hash mode off each is one load and
 * the layer's policy; on, hash mode (hash/cudnn_hash.c) describes the call's tensors and takes
 * its digests around the policy. The layer calls hash mode, never the other way. */
#include "cudnn_hash.h"
#include "cudnn_layer.h"

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
    ds_hash_cudnn_begin(&hc, DS_HOOK_cudnnConvolutionBackwardFilter, handle, "convolution backward filter", alpha, beta);
    ds_hash_cudnn_tensor(&hc, "dw", dw, dwDesc, true, true);
    ds_hash_cudnn_tensor(&hc, "x", x, xDesc, false, false);
    ds_hash_cudnn_tensor(&hc, "dy", dy, dyDesc, false, false);
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
    ds_hash_cudnn_begin(&hc, DS_HOOK_cudnnConvolutionBackwardData, handle, "convolution backward data", alpha, beta);
    ds_hash_cudnn_tensor(&hc, "dx", dx, dxDesc, false, true);
    ds_hash_cudnn_tensor(&hc, "w", w, wDesc, true, false);
    ds_hash_cudnn_tensor(&hc, "dy", dy, dyDesc, false, false);
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
    ds_hash_cudnn_begin(&hc, DS_HOOK_cudnnPoolingBackward, handle, "pooling backward", alpha, beta);
    ds_hash_cudnn_tensor(&hc, "dx", dx, dxDesc, false, true);
    ds_hash_cudnn_tensor(&hc, "y", y, yDesc, false, false);
    ds_hash_cudnn_tensor(&hc, "dy", dy, dyDesc, false, false);
    ds_hash_cudnn_tensor(&hc, "x", x, xDesc, false, false);
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
    ds_hash_cudnn_begin(&hc, DS_HOOK_cudnnBackendExecute, handle, "backend execute", NULL, NULL);
    ds_hash_cudnn_variant_pack(&hc, variantPack);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = dsc_backend_execute(handle, executionPlan, variantPack);
    ds_hcall_post(&hc, (int)st);
    return st;
}
