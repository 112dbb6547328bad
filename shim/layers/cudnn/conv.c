/* conv.c: the backward convolutions with a caller-chosen algorithm, and their workspace
 * queries: a documented nondeterministic algorithm is switched to a deterministic one that
 * fits the caller's workspace (enforce, strict), and a workspace query for it reports
 * enough for that switch. cudnn_layer.h says what the layer does. */
#include <stdio.h>

#include "cudnn_layer.h"

/* Deterministic replacements, most general first. */
static const int bwd_filter_candidates[] = {
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED};
static const int bwd_data_candidates[] = {
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED};
#define NCAND(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct conv_call {
    enum dsc_conv_op op;
    enum ds_hook hook;
    cudnnStatus_t (*run)(const void *args, int algo);
    cudnnStatus_t (*wsize)(const void *args, int algo, size_t *size);
    const void *args;
    int algo;
    size_t workspace;
};

static cudnnStatus_t conv_policy(const struct conv_call *c)
{
    if (!dsc_algo_documented_nondet(c->op, c->algo)) return c->run(c->args, c->algo);
    const int *cand = c->op == OP_BWD_FILTER ? bwd_filter_candidates : bwd_data_candidates;
    int ncand = c->op == OP_BWD_FILTER ? NCAND(bwd_filter_candidates) : NCAND(bwd_data_candidates);
    struct dsc_swap s = {"algo", c->algo, -1, (long long)c->workspace, -1, -1};
    char detail[384];
    if (!ds_enforcing()) {
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d", dsc_op_words[c->op], c->algo);
        dsc_swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
        return c->run(c->args, c->algo);
    }
    /* A call cuDNN refuses whatever the algorithm (a bad handle or descriptor: its workspace
     * query for the caller's own algorithm fails with CUDNN_STATUS_BAD_PARAM) gets cuDNN's
     * status, not a "no deterministic algorithm" refusal; nothing runs. */
    size_t own = 0;
    cudnnStatus_t own_st = c->wsize(c->args, c->algo, &own);
    if (dsc_failed_otherwise(own_st)) {
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d: cuDNN's workspace query "
                 "failed with status %d, which is not about determinism: that status is "
                 "returned, nothing ran",
                 dsc_op_words[c->op], c->algo, (int)own_st);
        dsc_swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
        return own_st;
    }
    long long min_needed = -1;
    for (int i = 0; i < ncand; i++) {
        size_t need = 0;
        if (c->wsize(c->args, cand[i], &need) != CUDNN_STATUS_SUCCESS) continue; /* unsupported here */
        if (need > c->workspace) {
            if (min_needed < 0 || (long long)need < min_needed) min_needed = (long long)need;
            continue;
        }
        /* recorded before cuDNN runs it: the log names the call even if cuDNN crashes in it */
        s.replacement = cand[i];
        s.needed = (long long)need;
        snprintf(detail, sizeof detail,
                 "convolution %s asked for nondeterministic algorithm %d: runs deterministic "
                 "algorithm %d instead (workspace %zu of %zu bytes)",
                 dsc_op_words[c->op], c->algo, cand[i], need, c->workspace);
        dsc_swap_event(c->hook, DS_ACT_FORCED, &s, detail);
        cudnnStatus_t st = c->run(c->args, cand[i]);
        if (st == CUDNN_STATUS_SUCCESS || !dsc_rejected(st)) return st; /* ran (or failed: no retry) */
        s.replacement = -1;
        s.needed = -1;
        snprintf(detail, sizeof detail,
                 "convolution %s: cuDNN refused deterministic algorithm %d at execution (status "
                 "%d): the switch recorded before did not happen, trying the next candidate",
                 dsc_op_words[c->op], cand[i], (int)st);
        dsc_swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
    }
    s.needed = min_needed;
    if (min_needed >= 0)
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d: no deterministic algorithm "
                 "fits the %zu-byte workspace (the smallest needs %lld)",
                 dsc_op_words[c->op], c->algo, c->workspace, min_needed);
    else
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d: cuDNN supports no "
                 "deterministic algorithm for these descriptors",
                 dsc_op_words[c->op], c->algo);
    if (ds_cfg.mode == DS_MODE_STRICT) {
        dsc_swap_event(c->hook, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    dsc_swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
    return c->run(c->args, c->algo);
}

/* enforce/strict: a workspace query for a nondeterministic algorithm reports enough
 * for the deterministic algorithm the call will be switched to, so that the switch
 * can happen. */
static cudnnStatus_t conv_wsize_policy(const struct conv_call *c, size_t *size)
{
    cudnnStatus_t st = c->wsize(c->args, c->algo, size);
    if (st != CUDNN_STATUS_SUCCESS || !size || !ds_enforcing() || !dsc_algo_documented_nondet(c->op, c->algo))
        return st;
    const int *cand = c->op == OP_BWD_FILTER ? bwd_filter_candidates : bwd_data_candidates;
    int ncand = c->op == OP_BWD_FILTER ? NCAND(bwd_filter_candidates) : NCAND(bwd_data_candidates);
    for (int i = 0; i < ncand; i++) {
        size_t need = 0;
        if (c->wsize(c->args, cand[i], &need) != CUDNN_STATUS_SUCCESS) continue;
        if (need > *size) {
            struct dsc_swap s = {"algo", c->algo, cand[i], -1, (long long)need, (long long)need};
            char detail[384];
            snprintf(detail, sizeof detail,
                     "workspace query for nondeterministic convolution %s algorithm %d: reported "
                     "%zu bytes (deterministic algorithm %d's need) instead of %zu",
                     dsc_op_words[c->op], c->algo, need, cand[i], *size);
            dsc_swap_event(c->hook, DS_ACT_FORCED, &s, detail);
            *size = need;
        }
        break;
    }
    return st;
}

struct bwd_filter_args {
    cudnnHandle_t handle;
    const void *alpha;
    cudnnTensorDescriptor_t xDesc;
    const void *x;
    cudnnTensorDescriptor_t dyDesc;
    const void *dy;
    cudnnConvolutionDescriptor_t convDesc;
    void *workSpace;
    size_t workSpaceSizeInBytes;
    const void *beta;
    cudnnFilterDescriptor_t dwDesc;
    void *dw;
};

static cudnnStatus_t bwd_filter_run(const void *p, int algo)
{
    const struct bwd_filter_args *a = p;
    return DS_REAL(cudnnConvolutionBackwardFilter)(a->handle, a->alpha, a->xDesc, a->x, a->dyDesc, a->dy,
                                                   a->convDesc, (cudnnConvolutionBwdFilterAlgo_t)algo,
                                                   a->workSpace, a->workSpaceSizeInBytes, a->beta, a->dwDesc,
                                                   a->dw);
}

static cudnnStatus_t bwd_filter_wsize(const void *p, int algo, size_t *size)
{
    const struct bwd_filter_args *a = p;
    ds_real_cudnnGetConvolutionBackwardFilterWorkspaceSize_t f =
        DS_REAL(cudnnGetConvolutionBackwardFilterWorkspaceSize);
    if (!f) return CUDNN_STATUS_NOT_INITIALIZED;
    return f(a->handle, a->xDesc, a->dyDesc, a->convDesc, a->dwDesc, (cudnnConvolutionBwdFilterAlgo_t)algo, size);
}

struct bwd_data_args {
    cudnnHandle_t handle;
    const void *alpha;
    cudnnFilterDescriptor_t wDesc;
    const void *w;
    cudnnTensorDescriptor_t dyDesc;
    const void *dy;
    cudnnConvolutionDescriptor_t convDesc;
    void *workSpace;
    size_t workSpaceSizeInBytes;
    const void *beta;
    cudnnTensorDescriptor_t dxDesc;
    void *dx;
};

static cudnnStatus_t bwd_data_run(const void *p, int algo)
{
    const struct bwd_data_args *a = p;
    return DS_REAL(cudnnConvolutionBackwardData)(a->handle, a->alpha, a->wDesc, a->w, a->dyDesc, a->dy,
                                                 a->convDesc, (cudnnConvolutionBwdDataAlgo_t)algo,
                                                 a->workSpace, a->workSpaceSizeInBytes, a->beta, a->dxDesc,
                                                 a->dx);
}

static cudnnStatus_t bwd_data_wsize(const void *p, int algo, size_t *size)
{
    const struct bwd_data_args *a = p;
    ds_real_cudnnGetConvolutionBackwardDataWorkspaceSize_t f = DS_REAL(cudnnGetConvolutionBackwardDataWorkspaceSize);
    if (!f) return CUDNN_STATUS_NOT_INITIALIZED;
    return f(a->handle, a->wDesc, a->dyDesc, a->convDesc, a->dxDesc, (cudnnConvolutionBwdDataAlgo_t)algo, size);
}

cudnnStatus_t dsc_conv_bwd_filter(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                  const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                  const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo,
                                  void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                  const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    struct bwd_filter_args a = {handle, alpha, xDesc, x, dyDesc, dy, convDesc, workSpace,
                                workSpaceSizeInBytes, beta, dwDesc, dw};
    struct conv_call c = {OP_BWD_FILTER, DS_HOOK_cudnnConvolutionBackwardFilter, bwd_filter_run,
                          bwd_filter_wsize, &a, (int)algo, workSpaceSizeInBytes};
    return conv_policy(&c);
}

cudnnStatus_t dsc_conv_bwd_data(cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc,
                                const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo,
                                void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    struct bwd_data_args a = {handle, alpha, wDesc, w, dyDesc, dy, convDesc, workSpace,
                              workSpaceSizeInBytes, beta, dxDesc, dx};
    struct conv_call c = {OP_BWD_DATA, DS_HOOK_cudnnConvolutionBackwardData, bwd_data_run, bwd_data_wsize,
                          &a, (int)algo, workSpaceSizeInBytes};
    return conv_policy(&c);
}

cudnnStatus_t ds_policy_cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes)
{
    struct bwd_filter_args a = {.handle = handle, .xDesc = xDesc, .dyDesc = dyDesc, .convDesc = convDesc,
                                .dwDesc = gradDesc};
    struct conv_call c = {OP_BWD_FILTER, DS_HOOK_cudnnGetConvolutionBackwardFilterWorkspaceSize,
                          bwd_filter_run, bwd_filter_wsize, &a, (int)algo, 0};
    return conv_wsize_policy(&c, sizeInBytes);
}

cudnnStatus_t ds_policy_cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes)
{
    struct bwd_data_args a = {.handle = handle, .wDesc = wDesc, .dyDesc = dyDesc, .convDesc = convDesc,
                              .dxDesc = dxDesc};
    struct conv_call c = {OP_BWD_DATA, DS_HOOK_cudnnGetConvolutionBackwardDataWorkspaceSize, bwd_data_run,
                          bwd_data_wsize, &a, (int)algo, 0};
    return conv_wsize_policy(&c, sizeInBytes);
}
