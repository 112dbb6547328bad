/* find.c: the legacy convolution algorithm searches (cudnnFind*, cudnnGet*_v7), all
 * through one path: in enforce and strict the nondeterministic results are removed (vendor
 * order kept), in log mode they are recorded. cudnn_layer.h says what the layer does. */
#include <stdio.h>
#include <string.h>

#include "cudnn_layer.h"

static const char *const op_keys[] = {"fwd", "bwd_data", "bwd_filter"};

/* The three perf structs are the same record under three names: one code path serves
 * them all (fields are read with memcpy, entries moved whole). */
typedef cudnnConvolutionFwdAlgoPerf_t perf_t;
_Static_assert(sizeof(cudnnConvolutionBwdDataAlgoPerf_t) == sizeof(perf_t) &&
               sizeof(cudnnConvolutionBwdFilterAlgoPerf_t) == sizeof(perf_t) &&
               offsetof(cudnnConvolutionBwdDataAlgoPerf_t, determinism) == offsetof(perf_t, determinism) &&
               offsetof(cudnnConvolutionBwdFilterAlgoPerf_t, determinism) == offsetof(perf_t, determinism) &&
               offsetof(cudnnConvolutionBwdDataAlgoPerf_t, status) == offsetof(perf_t, status) &&
               offsetof(cudnnConvolutionBwdFilterAlgoPerf_t, status) == offsetof(perf_t, status) &&
               offsetof(cudnnConvolutionBwdDataAlgoPerf_t, algo) == offsetof(perf_t, algo) &&
               offsetof(cudnnConvolutionBwdFilterAlgoPerf_t, algo) == offsetof(perf_t, algo),
               "cuDNN perf structs differ in layout");

static int entry_algo(const unsigned char *e)
{
    int v;
    memcpy(&v, e + offsetof(perf_t, algo), sizeof v);
    return v;
}

/* An entry is nondeterministic when its algorithm is one cuDNN documents as such, or
 * when it ran (status SUCCESS) and the vendor marked it CUDNN_NON_DETERMINISTIC. A
 * failed entry's determinism field carries nothing. */
static bool entry_nondet(enum dsc_conv_op op, const unsigned char *e)
{
    cudnnStatus_t st;
    cudnnDeterminism_t det;
    memcpy(&st, e + offsetof(perf_t, status), sizeof st);
    memcpy(&det, e + offsetof(perf_t, determinism), sizeof det);
    return dsc_algo_documented_nondet(op, entry_algo(e)) ||
           (st == CUDNN_STATUS_SUCCESS && det == CUDNN_NON_DETERMINISTIC);
}

#define FIND_CAP 32 /* more than any cuDNN 9 algorithm count (8, 6, 7) */

struct finder {
    enum dsc_conv_op op;
    int requested;
    int *returned;       /* the caller's */
    unsigned char *perf; /* the caller's */
    /* what the real function is asked */
    int ask;
    int got;
    int *count_ptr;
    unsigned char *buf;
    bool passthrough;
    _Alignas(perf_t) unsigned char local[FIND_CAP * sizeof(perf_t)];
};

/* In enforce and strict, a caller asking for fewer results than exist is asked for
 * all of them on its behalf, so that deterministic algorithms ranked below the
 * requested prefix can move up (best first among the survivors). */
static void finder_begin(struct finder *f, enum dsc_conv_op op, int requested, int *returned, void *perf)
{
    f->op = op;
    f->requested = requested;
    f->returned = returned;
    f->perf = perf;
    f->got = 0;
    f->passthrough = !returned || !perf || requested <= 0;
    if (f->passthrough) {
        f->ask = requested;
        f->count_ptr = returned;
        f->buf = perf;
        return;
    }
    f->count_ptr = &f->got;
    if (ds_enforcing() && requested < FIND_CAP) {
        f->ask = FIND_CAP;
        f->buf = f->local;
    } else {
        f->ask = requested;
        f->buf = perf;
    }
}

struct finder_log {
    const struct finder *f;
    int n;
    long long offered[FIND_CAP], nondet[FIND_CAP], returned[FIND_CAP];
    int noffered, nnondet, nreturned;
};

static void finder_extra(struct jbuf *jb, void *arg)
{
    struct finder_log *l = arg;
    jb_str(jb, "op", op_keys[l->f->op]);
    jb_int(jb, "requested", l->f->requested);
    dsc_int_array(jb, "offered", l->offered, l->noffered);
    dsc_int_array(jb, "nondeterministic", l->nondet, l->nnondet);
    dsc_int_array(jb, "returned", l->returned, l->nreturned);
}
static cudnnStatus_t finder_end(struct finder *f, enum ds_hook hook, cudnnStatus_t st)
{
    if (f->passthrough) return st;
    const size_t esz = sizeof(perf_t);
    int n = f->got < 0 ? 0 : f->got > f->ask ? f->ask : f->got;
    if (st != CUDNN_STATUS_SUCCESS) {
        int k = n < f->requested ? n : f->requested;
        if (f->buf != f->perf && k > 0) memcpy(f->perf, f->buf, (size_t)k * esz);
        *f->returned = k;
        return st;
    }
    struct finder_log l = {.f = f};
    unsigned mask = 0;
    int nondet_total = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *e = f->buf + (size_t)i * esz;
        if (l.noffered < FIND_CAP) l.offered[l.noffered++] = entry_algo(e);
        if (entry_nondet(f->op, e)) {
            nondet_total++;
            if (l.nnondet < FIND_CAP) l.nondet[l.nnondet++] = entry_algo(e);
            mask |= 1u << (entry_algo(e) & 31);
        }
    }
    int keep = n < f->requested ? n : f->requested;
    if (nondet_total == 0 || !ds_enforcing()) {
        /* nothing to remove, or log mode: the list as the vendor gave it */
        if (f->buf != f->perf && keep > 0) memcpy(f->perf, f->buf, (size_t)keep * esz);
        *f->returned = keep;
        if (nondet_total == 0) return st;
        for (int i = 0; i < keep && i < FIND_CAP; i++) l.returned[l.nreturned++] = l.offered[i];
        struct ds_event ev;
        if (ds_event_capture(&ev, hook, DS_ACT_OBSERVED, (uint64_t)f->op << 32 | mask)) {
            char ids[128], detail[512];
            dsc_int_text(ids, sizeof ids, l.nondet, l.nnondet);
            snprintf(detail, sizeof detail,
                     "convolution %s search offered nondeterministic algorithm%s %s among %d; "
                     "the first choice, algorithm %lld, is %s",
                     dsc_op_words[f->op], l.nnondet > 1 ? "s" : "", ids, n, l.offered[0],
                     entry_nondet(f->op, f->buf) ? "nondeterministic" : "deterministic");
            ds_event_log(&ev, detail, finder_extra, &l);
        }
        return st;
    }
    /* enforce / strict: keep the deterministic entries, in the vendor's order */
    int survivors = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *e = f->buf + (size_t)i * esz;
        if (entry_nondet(f->op, e)) continue;
        if (survivors < f->requested) {
            /* in place (buf == perf) this moves an entry down, never over an unread one */
            if (f->perf + (size_t)survivors * esz != e)
                memmove(f->perf + (size_t)survivors * esz, e, esz);
            if (survivors < FIND_CAP) l.returned[l.nreturned++] = entry_algo(e);
        }
        survivors++;
    }
    char ids[128], detail[512];
    dsc_int_text(ids, sizeof ids, l.nondet, l.nnondet);
    struct ds_event ev;
    if (survivors == 0 && ds_cfg.mode == DS_MODE_STRICT) {
        *f->returned = 0;
        l.nreturned = 0;
        if (ds_event_capture(&ev, hook, DS_ACT_BLOCKED, (uint64_t)f->op << 32 | mask)) {
            snprintf(detail, sizeof detail,
                     "convolution %s search offered only nondeterministic algorithms (%s): refused",
                     dsc_op_words[f->op], ids);
            ds_event_log(&ev, detail, finder_extra, &l);
            ds_refuse(&ev, "a convolution algorithm search that found no deterministic algorithm",
                      DSC_ALLOW);
        }
        return DSC_REFUSED;
    }
    if (survivors == 0) {
        /* enforce: nothing deterministic to offer; hand back the vendor's list (the
         * execution hooks still switch a nondeterministic algorithm where they can) */
        if (f->buf != f->perf && keep > 0) memcpy(f->perf, f->buf, (size_t)keep * esz);
        *f->returned = keep;
        for (int i = 0; i < keep && i < FIND_CAP; i++) l.returned[l.nreturned++] = l.offered[i];
        if (ds_event_capture(&ev, hook, DS_ACT_OBSERVED, (uint64_t)f->op << 32 | mask)) {
            snprintf(detail, sizeof detail,
                     "convolution %s search offered only nondeterministic algorithms (%s): "
                     "list left unchanged",
                     dsc_op_words[f->op], ids);
            ds_event_log(&ev, detail, finder_extra, &l);
        }
        return st;
    }
    int k = survivors < f->requested ? survivors : f->requested;
    *f->returned = k;
    if (ds_event_capture(&ev, hook, DS_ACT_FORCED, (uint64_t)f->op << 32 | mask)) {
        snprintf(detail, sizeof detail,
                 "removed nondeterministic convolution %s algorithm%s %s from the %d offered; "
                 "returned %d deterministic, best first",
                 dsc_op_words[f->op], l.nnondet > 1 ? "s" : "", ids, n, k);
        ds_event_log(&ev, detail, finder_extra, &l);
    }
    return st;
}

#define FINDER_POLICY(name, op, call_args)                                               \
    do {                                                                                 \
        struct finder f_;                                                                \
        finder_begin(&f_, op, requestedAlgoCount, returnedAlgoCount, perfResults);       \
        cudnnStatus_t st_ = DS_REAL(name) call_args;                                     \
        return finder_end(&f_, DS_HOOK_##name, st_);                                     \
    } while (0)

cudnnStatus_t ds_policy_cudnnFindConvolutionForwardAlgorithm(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnFindConvolutionForwardAlgorithm, OP_FWD,
                  (handle, xDesc, wDesc, convDesc, yDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}

cudnnStatus_t ds_policy_cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t yDesc, void *y, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes)
{
    FINDER_POLICY(cudnnFindConvolutionForwardAlgorithmEx, OP_FWD,
                  (handle, xDesc, x, wDesc, w, convDesc, yDesc, y, f_.ask, f_.count_ptr, (void *)f_.buf,
                   workSpace, workSpaceSizeInBytes));
}

cudnnStatus_t ds_policy_cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnFilterDescriptor_t filterDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnGetConvolutionForwardAlgorithm_v7, OP_FWD,
                  (handle, srcDesc, filterDesc, convDesc, destDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}

cudnnStatus_t ds_policy_cudnnFindConvolutionBackwardDataAlgorithm(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnFindConvolutionBackwardDataAlgorithm, OP_BWD_DATA,
                  (handle, wDesc, dyDesc, convDesc, dxDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}

cudnnStatus_t ds_policy_cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t dxDesc, void *dx, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes)
{
    FINDER_POLICY(cudnnFindConvolutionBackwardDataAlgorithmEx, OP_BWD_DATA,
                  (handle, wDesc, w, dyDesc, dy, convDesc, dxDesc, dx, f_.ask, f_.count_ptr, (void *)f_.buf,
                   workSpace, workSpaceSizeInBytes));
}

cudnnStatus_t ds_policy_cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnGetConvolutionBackwardDataAlgorithm_v7, OP_BWD_DATA,
                  (handle, filterDesc, diffDesc, convDesc, gradDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}

cudnnStatus_t ds_policy_cudnnFindConvolutionBackwardFilterAlgorithm(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnFindConvolutionBackwardFilterAlgorithm, OP_BWD_FILTER,
                  (handle, xDesc, dyDesc, convDesc, dwDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}

cudnnStatus_t ds_policy_cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *y, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t dwDesc, void *dw, const int requestedAlgoCount, int *returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes)
{
    FINDER_POLICY(cudnnFindConvolutionBackwardFilterAlgorithmEx, OP_BWD_FILTER,
                  (handle, xDesc, x, dyDesc, y, convDesc, dwDesc, dw, f_.ask, f_.count_ptr, (void *)f_.buf,
                   workSpace, workSpaceSizeInBytes));
}

cudnnStatus_t ds_policy_cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnTensorDescriptor_t diffDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    FINDER_POLICY(cudnnGetConvolutionBackwardFilterAlgorithm_v7, OP_BWD_FILTER,
                  (handle, srcDesc, diffDesc, convDesc, gradDesc, f_.ask, f_.count_ptr, (void *)f_.buf));
}