/* layer_cudnn.c: cuDNN, the legacy API (the backend API is in cudnn_backend.c).
 *
 * cuDNN documents which of its routines are nondeterministic (atomics): convolution
 * backward-filter ALGO_0 and ALGO_3, backward-data ALGO_0 (cudnn_ops.h marks them so),
 * max pooling backward in CUDNN_POOLING_MAX mode, the spatial-transformer sampler
 * backward, and CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC. The algorithm
 * search functions also mark each result with a determinism field.
 *
 * log      nothing changes; nondeterministic offers and calls are recorded (observed).
 * enforce  searches return only deterministic algorithms (vendor order kept); a call
 *          with a nondeterministic algorithm or mode is switched to a deterministic
 *          one when the vendor supports it with the caller's workspace (forced), else
 *          it runs as asked and is recorded (observed).
 * strict   as enforce, but what cannot be made deterministic fails with
 *          CUDNN_STATUS_NOT_SUPPORTED and a message on stderr (blocked).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cudnn_layer.h"
#include "hash.h"

/* ---- shared with cudnn_backend.c ------------------------------------------------------ */

bool dsc_called_from_cudnn(void)
{
    void *ip[1];
    if (ds_bt_capture(ip, 1) < 1) return false;
    Dl_info di;
    if (!dladdr(ip[0], &di) || !di.dli_fname) return false;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    return strncmp(base, "libcudnn", 8) == 0;
}

void *dsc_sym(_Atomic(void *) *cache, const char *name)
{
    static char missing; /* a marker: looked up, not there */
    void *p = atomic_load_explicit(cache, memory_order_acquire);
    if (DS_LIKELY(p != NULL)) return p == &missing ? NULL : p;
    p = ds_resolve_symbol(name, DS_LIB_CUDNN, NULL);
    if (!p) ds_notice("cudnn", false, "%s was not found in cuDNN: the cuDNN layer does without it", name);
    atomic_store_explicit(cache, p ? p : (void *)&missing, memory_order_release);
    return p;
}

void dsc_int_array(struct jbuf *jb, const char *key, const long long *v, int n)
{
    jb_arr_begin(jb, key);
    for (int i = 0; i < n; i++) jb_int(jb, NULL, v[i]);
    jb_arr_end(jb);
}

/* ---- convolution algorithm search ----------------------------------------------------- */

enum conv_op { OP_FWD, OP_BWD_DATA, OP_BWD_FILTER };
static const char *const op_words[] = {"forward", "backward-data", "backward-filter"};
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

static bool algo_documented_nondet(enum conv_op op, int algo)
{
    switch (op) {
    case OP_BWD_DATA: return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    case OP_BWD_FILTER:
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    default: return false;
    }
}

static int entry_algo(const unsigned char *e)
{
    int v;
    memcpy(&v, e + offsetof(perf_t, algo), sizeof v);
    return v;
}

/* An entry is nondeterministic when its algorithm is one cuDNN documents as such, or
 * when it ran (status SUCCESS) and the vendor marked it CUDNN_NON_DETERMINISTIC. A
 * failed entry's determinism field carries nothing. */
static bool entry_nondet(enum conv_op op, const unsigned char *e)
{
    cudnnStatus_t st;
    cudnnDeterminism_t det;
    memcpy(&st, e + offsetof(perf_t, status), sizeof st);
    memcpy(&det, e + offsetof(perf_t, determinism), sizeof det);
    return algo_documented_nondet(op, entry_algo(e)) ||
           (st == CUDNN_STATUS_SUCCESS && det == CUDNN_NON_DETERMINISTIC);
}

#define FIND_CAP 32 /* more than any cuDNN 9 algorithm count (8, 6, 7) */

struct finder {
    enum conv_op op;
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
static void finder_begin(struct finder *f, enum conv_op op, int requested, int *returned, void *perf)
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

void dsc_int_text(char *out, size_t outsz, const long long *v, int n)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n && len + 1 < outsz; i++) {
        int k = snprintf(out + len, outsz - len, "%s%lld", i ? "," : "", v[i]);
        if (k < 0) break;
        len += (size_t)k;
    }
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
                     op_words[f->op], l.nnondet > 1 ? "s" : "", ids, n, l.offered[0],
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
                     op_words[f->op], ids);
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
                     op_words[f->op], ids);
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
                 op_words[f->op], l.nnondet > 1 ? "s" : "", ids, n, k);
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

/* ---- calls with a caller-chosen algorithm ---------------------------------------------- */

/* Deterministic replacements, most general first. */
static const int bwd_filter_candidates[] = {
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED};
static const int bwd_data_candidates[] = {
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED};
#define NCAND(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A status meaning "rejected before anything ran": another algorithm may be tried. */
static bool rejected(cudnnStatus_t st)
{
    return st == CUDNN_STATUS_NOT_SUPPORTED || st == CUDNN_STATUS_BAD_PARAM ||
           (st >= 2000 && st < 4000); /* cuDNN 9's BAD_PARAM_* and NOT_SUPPORTED_* sub-codes */
}

struct swap_log {
    const char *what;      /* the field naming what was asked: "algo" or "pooling_mode" */
    long long asked;
    long long replacement; /* -1: none */
    long long workspace;   /* -1: not applicable */
    long long needed;      /* -1: unknown */
    long long reported;    /* workspace queries: what the caller was told; -1 otherwise */
};

static void swap_extra(struct jbuf *jb, void *arg)
{
    const struct swap_log *s = arg;
    jb_int(jb, s->what, s->asked);
    if (s->replacement >= 0) jb_int(jb, "replacement", s->replacement);
    else jb_null(jb, "replacement");
    if (s->workspace >= 0) jb_int(jb, "workspace", s->workspace);
    if (s->needed >= 0) jb_int(jb, "needed", s->needed);
    if (s->reported >= 0) jb_int(jb, "reported", s->reported);
}

static void swap_event(enum ds_hook hook, enum ds_action act, const struct swap_log *s, const char *detail)
{
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, (uint64_t)s->asked << 8 | (uint64_t)(s->replacement & 0xff))) {
        ds_event_log(&ev, detail, swap_extra, (void *)s);
        if (act == DS_ACT_BLOCKED) ds_refuse(&ev, detail, DSC_ALLOW);
    }
}

/* What the backward convolutions share: the real call with algorithm a, and the real
 * workspace query for a. */
struct conv_call {
    enum conv_op op;
    enum ds_hook hook;
    cudnnStatus_t (*run)(const void *args, int algo);
    cudnnStatus_t (*wsize)(const void *args, int algo, size_t *size);
    const void *args;
    int algo;
    size_t workspace;
};

static cudnnStatus_t conv_policy(const struct conv_call *c)
{
    if (!algo_documented_nondet(c->op, c->algo)) return c->run(c->args, c->algo);
    const int *cand = c->op == OP_BWD_FILTER ? bwd_filter_candidates : bwd_data_candidates;
    int ncand = c->op == OP_BWD_FILTER ? NCAND(bwd_filter_candidates) : NCAND(bwd_data_candidates);
    struct swap_log s = {"algo", c->algo, -1, (long long)c->workspace, -1, -1};
    char detail[384];
    if (!ds_enforcing()) {
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d", op_words[c->op], c->algo);
        swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
        return c->run(c->args, c->algo);
    }
    long long min_needed = -1;
    for (int i = 0; i < ncand; i++) {
        size_t need = 0;
        if (c->wsize(c->args, cand[i], &need) != CUDNN_STATUS_SUCCESS) continue; /* unsupported here */
        if (need > c->workspace) {
            if (min_needed < 0 || (long long)need < min_needed) min_needed = (long long)need;
            continue;
        }
        cudnnStatus_t st = c->run(c->args, cand[i]);
        if (st == CUDNN_STATUS_SUCCESS) {
            s.replacement = cand[i];
            s.needed = (long long)need;
            snprintf(detail, sizeof detail,
                     "convolution %s asked for nondeterministic algorithm %d: ran deterministic "
                     "algorithm %d instead (workspace %zu of %zu bytes)",
                     op_words[c->op], c->algo, cand[i], need, c->workspace);
            swap_event(c->hook, DS_ACT_FORCED, &s, detail);
            return st;
        }
        if (!rejected(st)) return st; /* it ran and failed: not something to retry */
    }
    s.needed = min_needed;
    if (min_needed >= 0)
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d: no deterministic algorithm "
                 "fits the %zu-byte workspace (the smallest needs %lld)",
                 op_words[c->op], c->algo, c->workspace, min_needed);
    else
        snprintf(detail, sizeof detail,
                 "convolution %s with nondeterministic algorithm %d: cuDNN supports no "
                 "deterministic algorithm for these descriptors",
                 op_words[c->op], c->algo);
    if (ds_cfg.mode == DS_MODE_STRICT) {
        swap_event(c->hook, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    swap_event(c->hook, DS_ACT_OBSERVED, &s, detail);
    return c->run(c->args, c->algo);
}

/* enforce/strict: a workspace query for a nondeterministic algorithm reports enough
 * for the deterministic algorithm the call will be switched to, so that the switch
 * can happen. */
static cudnnStatus_t conv_wsize_policy(const struct conv_call *c, size_t *size)
{
    cudnnStatus_t st = c->wsize(c->args, c->algo, size);
    if (st != CUDNN_STATUS_SUCCESS || !size || !ds_enforcing() || !algo_documented_nondet(c->op, c->algo))
        return st;
    const int *cand = c->op == OP_BWD_FILTER ? bwd_filter_candidates : bwd_data_candidates;
    int ncand = c->op == OP_BWD_FILTER ? NCAND(bwd_filter_candidates) : NCAND(bwd_data_candidates);
    for (int i = 0; i < ncand; i++) {
        size_t need = 0;
        if (c->wsize(c->args, cand[i], &need) != CUDNN_STATUS_SUCCESS) continue;
        if (need > *size) {
            struct swap_log s = {"algo", c->algo, cand[i], -1, (long long)need, (long long)need};
            char detail[384];
            snprintf(detail, sizeof detail,
                     "workspace query for nondeterministic convolution %s algorithm %d: reported "
                     "%zu bytes (deterministic algorithm %d's need) instead of %zu",
                     op_words[c->op], c->algo, need, cand[i], *size);
            swap_event(c->hook, DS_ACT_FORCED, &s, detail);
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

cudnnStatus_t ds_policy_cudnnConvolutionBackwardFilter(
    cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    struct bwd_filter_args a = {handle, alpha, xDesc, x, dyDesc, dy, convDesc, workSpace,
                                workSpaceSizeInBytes, beta, dwDesc, dw};
    struct conv_call c = {OP_BWD_FILTER, DS_HOOK_cudnnConvolutionBackwardFilter, bwd_filter_run,
                          bwd_filter_wsize, &a, (int)algo, workSpaceSizeInBytes};
    if (DS_LIKELY(!ds_hash_on())) return conv_policy(&c);
    struct ds_hcall hc;
    dsc_hash_begin(&hc, DS_HOOK_cudnnConvolutionBackwardFilter, handle, "convolution backward filter",
                   alpha, beta);
    dsc_hash_tensor(&hc, "dw", dw, dwDesc, true, true);
    dsc_hash_tensor(&hc, "x", x, xDesc, false, false);
    dsc_hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = conv_policy(&c);
    ds_hcall_post(&hc, (int)st);
    return st;
}

cudnnStatus_t ds_policy_cudnnConvolutionBackwardData(
    cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdDataAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    struct bwd_data_args a = {handle, alpha, wDesc, w, dyDesc, dy, convDesc, workSpace,
                              workSpaceSizeInBytes, beta, dxDesc, dx};
    struct conv_call c = {OP_BWD_DATA, DS_HOOK_cudnnConvolutionBackwardData, bwd_data_run, bwd_data_wsize,
                          &a, (int)algo, workSpaceSizeInBytes};
    if (DS_LIKELY(!ds_hash_on())) return conv_policy(&c);
    struct ds_hcall hc;
    dsc_hash_begin(&hc, DS_HOOK_cudnnConvolutionBackwardData, handle, "convolution backward data",
                   alpha, beta);
    dsc_hash_tensor(&hc, "dx", dx, dxDesc, false, true);
    dsc_hash_tensor(&hc, "w", w, wDesc, true, false);
    dsc_hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = conv_policy(&c);
    ds_hcall_post(&hc, (int)st);
    return st;
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
    struct swap_log s = {"algo", algo, -1, (long long)a->workSpaceSizeInBytes, -1, -1};
    char detail[384];
    if (!ds_enforcing()) {
        swap_event(hook, DS_ACT_OBSERVED, &s, "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC");
        return ctc_run(a, algo);
    }
    size_t need = 0;
    cudnnStatus_t st = ctc_wsize(a, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, &need);
    if (st == CUDNN_STATUS_SUCCESS) {
        s.needed = (long long)need;
        if (need <= a->workSpaceSizeInBytes) {
            st = ctc_run(a, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC);
            if (st == CUDNN_STATUS_SUCCESS) {
                s.replacement = CUDNN_CTC_LOSS_ALGO_DETERMINISTIC;
                snprintf(detail, sizeof detail,
                         "CTC loss asked for CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: ran "
                         "CUDNN_CTC_LOSS_ALGO_DETERMINISTIC instead (workspace %zu of %zu bytes)",
                         need, a->workSpaceSizeInBytes);
                swap_event(hook, DS_ACT_FORCED, &s, detail);
                return st;
            }
            if (!rejected(st)) return st;
            snprintf(detail, sizeof detail,
                     "CTC loss with CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: cuDNN refused the "
                     "deterministic algorithm for these inputs (status %d)", (int)st);
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
        swap_event(hook, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    swap_event(hook, DS_ACT_OBSERVED, &s, detail);
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
        struct swap_log s = {"algo", algo, CUDNN_CTC_LOSS_ALGO_DETERMINISTIC, -1, (long long)need,
                             (long long)need};
        char detail[384];
        snprintf(detail, sizeof detail,
                 "CTC workspace query for CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC: reported %zu bytes "
                 "(the deterministic algorithm's need) instead of %zu", need, *size);
        swap_event(hook, DS_ACT_FORCED, &s, detail);
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

struct pool_desc {
    cudnnPoolingMode_t mode;
    cudnnNanPropagation_t nan;
    int nb;
    int win[CUDNN_DIM_MAX], pad[CUDNN_DIM_MAX], stride[CUDNN_DIM_MAX];
};

static bool pool_read(cudnnPoolingDescriptor_t d, struct pool_desc *p)
{
    get_pool_nd_t get = (get_pool_nd_t)dsc_sym(&get_pool_nd_p, "cudnnGetPoolingNdDescriptor");
    return get && get(d, CUDNN_DIM_MAX, &p->mode, &p->nan, &p->nb, p->win, p->pad, p->stride) ==
                      CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t pool_bwd(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                              const void *alpha, const cudnnTensorDescriptor_t yDesc, const void *y,
                              const cudnnTensorDescriptor_t dyDesc, const void *dy,
                              const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta,
                              const cudnnTensorDescriptor_t dxDesc, void *dx);

cudnnStatus_t ds_policy_cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                                             const void *alpha, const cudnnTensorDescriptor_t yDesc,
                                             const void *y, const cudnnTensorDescriptor_t dyDesc,
                                             const void *dy, const cudnnTensorDescriptor_t xDesc,
                                             const void *x, const void *beta,
                                             const cudnnTensorDescriptor_t dxDesc, void *dx)
{
#define POOL_CALL() pool_bwd(handle, poolingDesc, alpha, yDesc, y, dyDesc, dy, xDesc, x, beta, dxDesc, dx)
    if (DS_LIKELY(!ds_hash_on())) return POOL_CALL();
    struct ds_hcall hc;
    dsc_hash_begin(&hc, DS_HOOK_cudnnPoolingBackward, handle, "pooling backward", alpha, beta);
    dsc_hash_tensor(&hc, "dx", dx, dxDesc, false, true);
    dsc_hash_tensor(&hc, "y", y, yDesc, false, false);
    dsc_hash_tensor(&hc, "dy", dy, dyDesc, false, false);
    dsc_hash_tensor(&hc, "x", x, xDesc, false, false);
    ds_hcall_pre(&hc);
    cudnnStatus_t st = POOL_CALL();
    ds_hcall_post(&hc, (int)st);
    return st;
#undef POOL_CALL
}

static cudnnStatus_t pool_bwd(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                              const void *alpha, const cudnnTensorDescriptor_t yDesc, const void *y,
                              const cudnnTensorDescriptor_t dyDesc, const void *dy,
                              const cudnnTensorDescriptor_t xDesc, const void *x, const void *beta,
                              const cudnnTensorDescriptor_t dxDesc, void *dx)
{
#define POOL_BWD(desc) \
    DS_REAL(cudnnPoolingBackward)(handle, desc, alpha, yDesc, y, dyDesc, dy, xDesc, x, beta, dxDesc, dx)
    struct pool_desc p;
    if (!poolingDesc || !pool_read(poolingDesc, &p) || p.mode != CUDNN_POOLING_MAX) return POOL_BWD(poolingDesc);
    struct swap_log s = {"pooling_mode", p.mode, -1, -1, -1, -1};
    if (!ds_enforcing()) {
        swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_OBSERVED, &s,
                   "max pooling backward in CUDNN_POOLING_MAX mode (nondeterministic)");
        return POOL_BWD(poolingDesc);
    }
    create_pool_t create = (create_pool_t)dsc_sym(&create_pool_p, "cudnnCreatePoolingDescriptor");
    set_pool_nd_t set = (set_pool_nd_t)dsc_sym(&set_pool_nd_p, "cudnnSetPoolingNdDescriptor");
    destroy_pool_t destroy = (destroy_pool_t)dsc_sym(&destroy_pool_p, "cudnnDestroyPoolingDescriptor");
    cudnnStatus_t st = CUDNN_STATUS_NOT_SUPPORTED;
    cudnnPoolingDescriptor_t tmp = NULL;
    if (create && set && destroy && create(&tmp) == CUDNN_STATUS_SUCCESS) {
        st = set(tmp, CUDNN_POOLING_MAX_DETERMINISTIC, p.nan, p.nb, p.win, p.pad, p.stride);
        if (st == CUDNN_STATUS_SUCCESS) st = POOL_BWD(tmp);
        destroy(tmp);
        if (st == CUDNN_STATUS_SUCCESS) {
            s.replacement = CUDNN_POOLING_MAX_DETERMINISTIC;
            swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_FORCED, &s,
                       "max pooling backward asked for CUDNN_POOLING_MAX: ran "
                       "CUDNN_POOLING_MAX_DETERMINISTIC instead");
            return st;
        }
        if (!rejected(st)) return st;
    }
    char detail[256];
    snprintf(detail, sizeof detail,
             "max pooling backward in CUDNN_POOLING_MAX mode: cuDNN refused "
             "CUDNN_POOLING_MAX_DETERMINISTIC for this descriptor (status %d)", (int)st);
    if (ds_cfg.mode == DS_MODE_STRICT) {
        swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_BLOCKED, &s, detail);
        return DSC_REFUSED;
    }
    swap_event(DS_HOOK_cudnnPoolingBackward, DS_ACT_OBSERVED, &s, detail);
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
