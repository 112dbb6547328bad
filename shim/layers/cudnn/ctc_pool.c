/* ctc_pool.c: CTC loss (NON_DETERMINISTIC -> DETERMINISTIC), max pooling backward
 * (CUDNN_POOLING_MAX -> CUDNN_POOLING_MAX_DETERMINISTIC through a copy of the descriptor)
 * and the spatial-transformer sampler backward (no deterministic form: recorded, or
 * refused in strict). cudnn_layer.h says what the layer does. */
#include <stdio.h>

#include "cudnn_layer.h"

/* ---- CTC loss ------------------------------------------------------------------------- */

struct ctc_args {
    bool v8;
    cudnnHandle_t handle;
    cudnnCTCLossDescriptor_t ctcLossDesc;
    cudnnTensorDescriptor_t probsDesc, gradientsDesc;
    const void *probs;
    const int *labels, *labelLengths, *inputLengths;
    void *costs, *gradients, *workspace;
    size_t workSpaceSizeInBytes;
};

static cudnnStatus_t ctc_run(const struct ctc_args *a, cudnnCTCLossAlgo_t algo)
{
    if (a->v8)
        return DS_REAL(cudnnCTCLoss_v8)(a->handle, algo, a->ctcLossDesc, a->probsDesc, a->probs, a->labels,
                                        a->labelLengths, a->inputLengths, a->costs, a->gradientsDesc,
                                        a->gradients, a->workSpaceSizeInBytes, a->workspace);
    return DS_REAL(cudnnCTCLoss)(a->handle, a->probsDesc, a->probs, a->labels, a->labelLengths,
                                 a->inputLengths, a->costs, a->gradientsDesc, a->gradients, algo,
                                 a->ctcLossDesc, a->workspace, a->workSpaceSizeInBytes);
}

static cudnnStatus_t ctc_wsize(const struct ctc_args *a, cudnnCTCLossAlgo_t algo, size_t *size)
{
    if (a->v8 ? !DS_REAL(cudnnGetCTCLossWorkspaceSize_v8) : !DS_REAL(cudnnGetCTCLossWorkspaceSize))
        return CUDNN_STATUS_NOT_INITIALIZED;
    if (a->v8)
        return DS_REAL(cudnnGetCTCLossWorkspaceSize_v8)(a->handle, algo, a->ctcLossDesc, a->probsDesc,
                                                        a->gradientsDesc, size);
    return DS_REAL(cudnnGetCTCLossWorkspaceSize)(a->handle, a->probsDesc, a->gradientsDesc, a->labels,
                                                 a->labelLengths, a->inputLengths, algo, a->ctcLossDesc,
                                                 size);
}

static cudnnStatus_t ctc_policy(enum ds_hook hook, const struct ctc_args *a, cudnnCTCLossAlgo_t algo)
{
    if (algo != CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC) return ctc_run(a, algo);
    struct dsc_swap s = {"algo", algo, -1, (long long)a->workSpaceSizeInBytes, -1, -1};
    char detail[384];
    if (!ds_enforcing()) {
        dsc_swap_event(hook, DS_ACT_OBSERVED, &s, "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC");
        return ctc_run(a, algo);
    }
    /* as for convolutions (conv.c): a call cuDNN refuses whatever the algorithm gets cuDNN's
     * status, and nothing runs */
    size_t need = 0;
    cudnnStatus_t st = ctc_wsize(a, algo, &need);
    if (dsc_failed_otherwise(st)) {
        snprintf(detail, sizeof detail,
                 "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: cuDNN's workspace query failed "
                 "with status %d, which is not about determinism: that status is returned, nothing ran",
                 (int)st);
        dsc_swap_event(hook, DS_ACT_OBSERVED, &s, detail);
        return st;
    }
    need = 0;
    st = ctc_wsize(a, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, &need);
    if (st == CUDNN_STATUS_SUCCESS) {
        s.needed = (long long)need;
        if (need <= a->workSpaceSizeInBytes) {
            /* recorded before cuDNN runs it (conv.c): a crash in it leaves the record */
            s.replacement = CUDNN_CTC_LOSS_ALGO_DETERMINISTIC;
            snprintf(detail, sizeof detail,
                     "CTC loss asked for CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: runs "
                     "CUDNN_CTC_LOSS_ALGO_DETERMINISTIC instead (workspace %zu of %zu bytes)",
                     need, a->workSpaceSizeInBytes);
            dsc_swap_event(hook, DS_ACT_FORCED, &s, detail);
            st = ctc_run(a, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC);
            if (st == CUDNN_STATUS_SUCCESS || !dsc_rejected(st)) return st;
            s.replacement = -1;
            snprintf(detail, sizeof detail,
                     "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: cuDNN refused the "
                     "deterministic algorithm for these inputs at execution (status %d): the "
                     "switch recorded before did not happen", (int)st);
        } else {
            snprintf(detail, sizeof detail,
                     "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: the deterministic "
                     "algorithm needs %zu bytes of workspace, the call gave %zu",
                     need, a->workSpaceSizeInBytes);
        }
    } else {
        snprintf(detail, sizeof detail,
                 "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: cuDNN supports no "
                 "deterministic algorithm for these inputs (status %d)", (int)st);
    }
    if (ds_cfg.mode == DS_MODE_STRICT) {
        dsc_swap_event(hook, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    dsc_swap_event(hook, DS_ACT_OBSERVED, &s, detail);
    return ctc_run(a, algo);
}

static cudnnStatus_t ctc_wsize_policy(enum ds_hook hook, const struct ctc_args *a, cudnnCTCLossAlgo_t algo,
                                      size_t *size)
{
    cudnnStatus_t st = ctc_wsize(a, algo, size);
    if (st != CUDNN_STATUS_SUCCESS || !size || !ds_enforcing() ||
        algo != CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC)
        return st;
    size_t need = 0;
    if (ctc_wsize(a, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, &need) == CUDNN_STATUS_SUCCESS && need > *size) {
        struct dsc_swap s = {"algo", algo, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, -1, (long long)need,
                             (long long)need};
        char detail[384];
        snprintf(detail, sizeof detail,
                 "CTC workspace query for CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: reported %zu bytes "
                 "(the deterministic algorithm's need) instead of %zu", need, *size);
        dsc_swap_event(hook, DS_ACT_FORCED, &s, detail);
        *size = need;
    }
    return st;
}

cudnnStatus_t ds_policy_cudnnCTCLoss(cudnnHandle_t handle, const cudnnTensorDescriptor_t probsDesc,
                                     const void *probs, const int hostLabels[], const int hostLabelLengths[],
                                     const int hostInputLengths[], void *costs,
                                     const cudnnTensorDescriptor_t gradientsDesc, void *gradients,
                                     cudnnCTCLossAlgo_t algo, cudnnCTCLossDescriptor_t ctcLossDesc,
                                     void *workspace, size_t workSpaceSizeInBytes)
{
    struct ctc_args a = {false, handle, ctcLossDesc, probsDesc, gradientsDesc, probs, hostLabels,
                         hostLabelLengths, hostInputLengths, costs, gradients, workspace, workSpaceSizeInBytes};
    return ctc_policy(DS_HOOK_cudnnCTCLoss, &a, algo);
}

cudnnStatus_t ds_policy_cudnnCTCLoss_v8(cudnnHandle_t handle, cudnnCTCLossAlgo_t algo,
                                        cudnnCTCLossDescriptor_t ctcLossDesc,
                                        const cudnnTensorDescriptor_t probsDesc, const void *probs,
                                        const int labels[], const int labelLengths[], const int inputLengths[],
                                        void *costs, const cudnnTensorDescriptor_t gradientsDesc,
                                        void *gradients, size_t workSpaceSizeInBytes, void *workspace)
{
    struct ctc_args a = {true, handle, ctcLossDesc, probsDesc, gradientsDesc, probs, labels, labelLengths,
                         inputLengths, costs, gradients, workspace, workSpaceSizeInBytes};
    return ctc_policy(DS_HOOK_cudnnCTCLoss_v8, &a, algo);
}

cudnnStatus_t ds_policy_cudnnGetCTCLossWorkspaceSize(cudnnHandle_t handle,
                                                     const cudnnTensorDescriptor_t probsDesc,
                                                     const cudnnTensorDescriptor_t gradientsDesc,
                                                     const int *labels, const int *labelLengths,
                                                     const int *inputLengths, cudnnCTCLossAlgo_t algo,
                                                     cudnnCTCLossDescriptor_t ctcLossDesc, size_t *sizeInBytes)
{
    struct ctc_args a = {.v8 = false, .handle = handle, .ctcLossDesc = ctcLossDesc, .probsDesc = probsDesc,
                         .gradientsDesc = gradientsDesc, .labels = labels, .labelLengths = labelLengths,
                         .inputLengths = inputLengths};
    return ctc_wsize_policy(DS_HOOK_cudnnGetCTCLossWorkspaceSize, &a, algo, sizeInBytes);
}

cudnnStatus_t ds_policy_cudnnGetCTCLossWorkspaceSize_v8(cudnnHandle_t handle, cudnnCTCLossAlgo_t algo,
                                                        cudnnCTCLossDescriptor_t ctcLossDesc,
                                                        const cudnnTensorDescriptor_t probsDesc,
                                                        const cudnnTensorDescriptor_t gradientsDesc,
                                                        size_t *sizeInBytes)
{
    struct ctc_args a = {.v8 = true, .handle = handle, .ctcLossDesc = ctcLossDesc, .probsDesc = probsDesc,
                         .gradientsDesc = gradientsDesc};
    return ctc_wsize_policy(DS_HOOK_cudnnGetCTCLossWorkspaceSize_v8, &a, algo, sizeInBytes);
}

/* ---- max pooling backward ---------------------------------------------------------------
 * CUDNN_POOLING_MAX's backward is nondeterministic; CUDNN_POOLING_MAX_DETERMINISTIC
 * computes the same maximum with a deterministic backward (the mode TensorFlow and
 * Caffe2 pick when asked for determinism). enforce runs the backward through a
 * temporary copy of the caller's descriptor in that mode; the caller's descriptor
 * is never modified (it may be shared with other threads). */

typedef cudnnStatus_t (*get_pool_nd_t)(const cudnnPoolingDescriptor_t, int, cudnnPoolingMode_t *,
                                       cudnnNanPropagation_t *, int *, int[], int[], int[]);
typedef cudnnStatus_t (*set_pool_nd_t)(cudnnPoolingDescriptor_t, const cudnnPoolingMode_t,
                                       const cudnnNanPropagation_t, int, const int[], const int[], const int[]);
typedef cudnnStatus_t (*create_pool_t)(cudnnPoolingDescriptor_t *);
typedef cudnnStatus_t (*destroy_pool_t)(cudnnPoolingDescriptor_t);
static _Atomic(void *) get_pool_nd_p, set_pool_nd_p, create_pool_p, destroy_pool_p;

/* The most dimensions a pooling descriptor holds, and the most cudnnGetPoolingNdDescriptor
 * may be asked for: cuDNN 9.19 refuses a requested count above 6 (CUDNN_DIM_MAX is 8) with
 * CUDNN_STATUS_NOT_SUPPORTED, and cudnnSetPoolingNdDescriptor refuses 7 dimensions the same
 * way (observed with the real libcudnn.so.9, no GPU needed). Asking for CUDNN_DIM_MAX made
 * every read fail, and max pooling passed as clean. */
#define POOL_DIMS 6

struct pool_desc {
    cudnnPoolingMode_t mode;
    cudnnNanPropagation_t nan;
    int nb;
    int win[POOL_DIMS], pad[POOL_DIMS], stride[POOL_DIMS];
};

static bool pool_read(cudnnPoolingDescriptor_t d, struct pool_desc *p)
{
    get_pool_nd_t get = (get_pool_nd_t)dsc_sym(&get_pool_nd_p, "cudnnGetPoolingNdDescriptor");
    return get && get(d, POOL_DIMS, &p->mode, &p->nan, &p->nb, p->win, p->pad, p->stride) ==
                      CUDNN_STATUS_SUCCESS && p->nb >= 1 && p->nb <= POOL_DIMS;
}

cudnnStatus_t dsc_pool_bwd(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void *alpha,
                           const cudnnTensorDescriptor_t yDesc, const void *y, const cudnnTensorDescriptor_t dyDesc,
                           const void *dy, const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta,
                           const cudnnTensorDescriptor_t dxDesc, void *dx)
{
#define POOL_BWD(desc) \
    DS_REAL(cudnnPoolingBackward)(handle, desc, alpha, yDesc, y, dyDesc, dy, xDesc, x, beta, dxDesc, dx)
    struct pool_desc p;
    if (!poolingDesc || !pool_read(poolingDesc, &p) || p.mode != CUDNN_POOLING_MAX) return POOL_BWD(poolingDesc);
    struct dsc_swap s = {"pooling_mode", p.mode, -1, -1, -1, -1};
    if (!ds_enforcing()) {
        dsc_swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_OBSERVED, &s,
                   "max pooling backward in CUDNN_POOLING_MAX mode (nondeterministic)");
        return POOL_BWD(poolingDesc);
    }
    create_pool_t create = (create_pool_t)dsc_sym(&create_pool_p, "cudnnCreatePoolingDescriptor");
    set_pool_nd_t set = (set_pool_nd_t)dsc_sym(&set_pool_nd_p, "cudnnSetPoolingNdDescriptor");
    destroy_pool_t destroy = (destroy_pool_t)dsc_sym(&destroy_pool_p, "cudnnDestroyPoolingDescriptor");
    cudnnStatus_t st = CUDNN_STATUS_NOT_SUPPORTED;
    cudnnPoolingDescriptor_t tmp = NULL;
    bool ran = false;
    if (create && set && destroy && create(&tmp) == CUDNN_STATUS_SUCCESS) {
        st = set(tmp, CUDNN_POOLING_MAX_DETERMINISTIC, p.nan, p.nb, p.win, p.pad, p.stride);
        if (st == CUDNN_STATUS_SUCCESS) {
            /* recorded before cuDNN runs it (conv.c): a crash in it leaves the record */
            s.replacement = CUDNN_POOLING_MAX_DETERMINISTIC;
            dsc_swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_FORCED, &s,
                           "max pooling backward asked for CUDNN_POOLING_MAX: runs "
                           "CUDNN_POOLING_MAX_DETERMINISTIC instead");
            s.replacement = -1;
            st = POOL_BWD(tmp), ran = true;
        }
        destroy(tmp);
        if (st == CUDNN_STATUS_SUCCESS) return st;
        if (ran && dsc_failed_otherwise(st)) {
            /* the mode is all that differs from the caller's call: a bad handle or tensor
             * descriptor fails the same either way, and gets cuDNN's status */
            char why[256];
            snprintf(why, sizeof why,
                     "max pooling backward in CUDNN_POOLING_MAX mode: cuDNN failed the call with "
                     "status %d, which is not about determinism: that status is returned", (int)st);
            dsc_swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_OBSERVED, &s, why);
            return st;
        }
        if (!dsc_rejected(st)) return st;
    }
    char detail[320];
    snprintf(detail, sizeof detail,
             "max pooling backward in CUDNN_POOLING_MAX mode: cuDNN refused "
             "CUDNN_POOLING_MAX_DETERMINISTIC for this descriptor (status %d)%s", (int)st,
             ran ? ": the switch recorded before did not happen" : "");
    if (ds_cfg.mode == DS_MODE_STRICT) {
        dsc_swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    dsc_swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_OBSERVED, &s, detail);
    return POOL_BWD(poolingDesc);
#undef POOL_BWD
}

/* ---- spatial transformer sampler backward: no deterministic form in cuDNN -------------- */

cudnnStatus_t ds_policy_cudnnSpatialTfSamplerBackward(
    cudnnHandle_t handle, cudnnSpatialTransformerDescriptor_t stDesc, const void *alpha,
    const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta, const cudnnTensorDescriptor_t dxDesc,
    void *dx, const void *alphaDgrid, const cudnnTensorDescriptor_t dyDesc, const void *dy, const void *grid,
    const void *betaDgrid, void *dgrid)
{
    struct ds_event ev;
    if (ds_cfg.mode == DS_MODE_STRICT) {
        if (ds_event_capture(&ev, DS_HOOK_cudnnSpatialTfSamplerBackward, DS_ACT_BLOCKED, 0)) {
            const char *d = "spatial transformer sampler backward is nondeterministic and has no "
                            "deterministic form in cuDNN: refused";
            ds_event_log(&ev, d, NULL, NULL);
            ds_refuse(&ev, d, DSC_ALLOW);
        }
        return DSC_REFUSED;
    }
    if (ds_event_capture(&ev, DS_HOOK_cudnnSpatialTfSamplerBackward, DS_ACT_OBSERVED, 0))
        ds_event_log(&ev,
                     "spatial transformer sampler backward (nondeterministic; cuDNN has no "
                     "deterministic form)",
                     NULL, NULL);
    return DS_REAL(cudnnSpatialTfSamplerBackward)(handle, stDesc, alpha, xDesc, x, beta, dxDesc, dx,
                                                  alphaDgrid, dyDesc, dy, grid, betaDgrid, dgrid);
}