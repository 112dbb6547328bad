/* cudnn_layer.h: what the files of the cuDNN layer share (common.c; find.c: the legacy
 * algorithm searches; conv.c: backward convolutions with a caller-chosen algorithm;
 * ctc_pool.c: CTC loss, max pooling and spatial-transformer backward; backend.c: the
 * backend/graph API), and the layer's calls that hash mode (shim/hash/cudnn_hash.c)
 * wraps. Calls go one way: hash mode -> this layer -> the core; the layer never calls
 * hash mode.
 *
 * The legacy API's rules (cuDNN documents which routines are nondeterministic: convolution
 * backward-filter ALGO_0 and ALGO_3, backward-data ALGO_0, max pooling backward in
 * CUDNN_POOLING_MAX mode, the spatial-transformer sampler backward, CTC loss with
 * CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC; the searches mark each result with a
 * determinism field):
 *
 * log      nothing changes; nondeterministic offers and calls are recorded (observed),
 *          before the call goes to cuDNN.
 * enforce  searches return only deterministic algorithms (vendor order kept); a call
 *          with a nondeterministic algorithm or mode is switched to a deterministic
 *          one when the vendor supports it with the caller's workspace (forced), else
 *          it runs as asked and is recorded (observed).
 * strict   as enforce, but what cannot be made deterministic fails with
 *          CUDNN_STATUS_NOT_SUPPORTED and a message on stderr (blocked).
 * A failure that has nothing to do with determinism (a bad handle or descriptor, for
 * which cuDNN's queries answer CUDNN_STATUS_BAD_PARAM) is passed through as cuDNN gave it. */
#ifndef DETSHIM_CUDNN_LAYER_H
#define DETSHIM_CUDNN_LAYER_H

#include "hooks.h"

/* The status a refused call returns (strict mode, and plan finalisation on a
 * nondeterministic engine in enforce and strict): the caller's "try something else"
 * path, the status cuDNN itself gives for a configuration it cannot run. */
#define DSC_REFUSED CUDNN_STATUS_NOT_SUPPORTED

/* The hint ds_refuse prints after "to allow it:". */
#define DSC_ALLOW "DETSHIM_DISABLE=cudnn (switches the cuDNN layer off)"

/* ---- common.c ------------------------------------------------------------------------- */

/* True when the hooked function was called by a cuDNN library itself (its legacy
 * calls built on the graph API go through the exported symbols): such calls are the
 * vendor's own business and pass through. Walks the stack: rare paths only. */
bool dsc_called_from_cudnn(void);

/* A cuDNN function that is not hooked, resolved once (NULL when absent). */
/* A cuDNN function the layer calls itself (never a hooked one), found once. */
static inline void *dsc_sym(_Atomic(void *) *cache, const char *name)
{
    return ds_lib_sym(cache, name, DS_LIB_CUDNN, "cudnn");
}

/* Writes "v0,v1,..." (up to n integers, cut to outsz) for an event's detail text. */
void dsc_int_text(char *out, size_t outsz, const long long *v, int n);

/* Appends "key":[v0,v1,...] (up to n integers). */
void dsc_int_array(struct jbuf *jb, const char *key, const long long *v, int n);

/* The three convolutions, and how events name them. */
enum dsc_conv_op { OP_FWD, OP_BWD_DATA, OP_BWD_FILTER };
extern const char *const dsc_op_words[];

/* An algorithm cuDNN documents as nondeterministic (cudnn_cnn.h). */
bool dsc_algo_documented_nondet(enum dsc_conv_op op, int algo);

/* A status meaning "rejected before anything ran": another algorithm may be tried. */
bool dsc_rejected(cudnnStatus_t st);

/* A status meaning "not supported for this configuration" (CUDNN_STATUS_NOT_SUPPORTED and
 * cuDNN 9's NOT_SUPPORTED_* sub-codes): a query failing with anything else failed for a
 * reason that is not the algorithm's (a bad handle, a bad descriptor). */
bool dsc_not_supported(cudnnStatus_t st);

/* A failure of cuDNN's own that says nothing about determinism: anything but success, the
 * NOT_SUPPORTED family, and CUDNN_STATUS_NOT_INITIALIZED (what the layer's helpers answer
 * for a query function this cuDNN lacks: then the switch is only impossible). */
bool dsc_failed_otherwise(cudnnStatus_t st);

/* An event for a call whose algorithm or mode was (or could not be) switched. */
struct dsc_swap {
    const char *what;      /* the field naming what was asked: "algo" or "pooling_mode" */
    long long asked;
    long long replacement; /* -1: none */
    long long workspace;   /* -1: not applicable */
    long long needed;      /* -1: unknown */
    long long reported;    /* workspace queries: what the caller was told; -1 otherwise */
};
void dsc_swap_event(enum ds_hook hook, enum ds_action act, const struct dsc_swap *s, const char *detail);

/* ---- the calls hash mode wraps (cudnn_hash.c defines their ds_policy_* hooks) -------- */

cudnnStatus_t dsc_conv_bwd_filter(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                  const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                  const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo,
                                  void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                  const cudnnFilterDescriptor_t dwDesc, void *dw);
cudnnStatus_t dsc_conv_bwd_data(cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc,
                                const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo,
                                void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                const cudnnTensorDescriptor_t dxDesc, void *dx);
cudnnStatus_t dsc_pool_bwd(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void *alpha,
                           const cudnnTensorDescriptor_t yDesc, const void *y, const cudnnTensorDescriptor_t dyDesc,
                           const void *dy, const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta,
                           const cudnnTensorDescriptor_t dxDesc, void *dx);
cudnnStatus_t dsc_backend_execute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                  cudnnBackendDescriptor_t variantPack);

#endif
