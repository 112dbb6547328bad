/* cudnn_prog: calls the (fake) cuDNN the way programs do, one pattern per command, and
 * prints what it received, one fact per line. Linked against libcudnn.so.9.
 *
 *   find R                 every legacy algorithm finder, requestedAlgoCount R
 *   bwdf ALGO WS [DIL [PADW]]  backward-filter workspace query, then the call with
 *                          workspace WS bytes (q: the size the query reported)
 *   bwdd ALGO WS [DIL]     the same for backward-data
 *   ctc ALGO WS [LABELLEN] / ctc8 ALGO WS    CTC loss (workspace query, then the call)
 *   pool MODE ND           pooling backward with an ND-dimensional descriptor
 *   sampler                spatial transformer sampler backward
 *   torch HEURMODE [REQ]   backend, as torch does: heuristics count, fetch (REQ results,
 *                          default the count), then finalise candidates in order until
 *                          one succeeds, and execute it (twice)
 *   plan E1[,E2...]        backend: a plan on engine E1 built by global index; on failure
 *                          the next; execute the first that finalises (twice)
 *   json E                 backend: a plan deserialised ("engine=E"), finalise, execute
 *   internal               cudnnConvolutionForward, which the fake builds on the backend
 *   threads T N            T threads, each N times "plan 1,2" (the plan table under contention)
 * Backend commands end with "live=N": descriptors left alive in the fake (0 expected).
 * With PROG_NULL_HANDLE=1 the legacy commands pass a NULL handle (cuDNN: BAD_PARAM). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

int fake_cudnn_live_descriptors(void);

static cudnnHandle_t H;
static cudnnTensorDescriptor_t X, DY;
static cudnnFilterDescriptor_t W;
static cudnnConvolutionDescriptor_t C;
static float one = 1.0f, zero = 0.0f;
static char buf[1 << 20], wsbuf[1 << 20];

static void setup(int dil, int padw)
{
    cudnnCreate(&H);
    cudnnCreateTensorDescriptor(&X);
    cudnnCreateTensorDescriptor(&DY);
    cudnnCreateFilterDescriptor(&W);
    cudnnCreateConvolutionDescriptor(&C);
    cudnnSetTensor4dDescriptor(X, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 8, 3, 32, 32);
    cudnnSetTensor4dDescriptor(DY, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 8, 16, 32, 32);
    cudnnSetFilter4dDescriptor(W, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 16, 3, 3, 3);
    cudnnSetConvolution2dDescriptor(C, 1, padw, 1, 1, dil, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    const char *nullh = getenv("PROG_NULL_HANDLE");
    if (nullh && *nullh == '1') {
        cudnnDestroy(H); /* (not leaked: ASan builds report leaks) */
        H = NULL;
    }
}

/* ---- legacy ------------------------------------------------------------------------------ */

#define SHOW(name, st, n, perf)                                                          \
    do {                                                                                 \
        printf("%s status=%d n=%d algos=", name, (int)(st), (st) == 0 ? (n) : -1);      \
        for (int i_ = 0; (st) == 0 && i_ < (n); i_++) printf("%s%d", i_ ? "," : "", (int)(perf)[i_].algo); \
        printf(" memory=");                                                              \
        for (int i_ = 0; (st) == 0 && i_ < (n); i_++) printf("%s%zu", i_ ? "," : "", (perf)[i_].memory); \
        printf("\n");                                                                    \
    } while (0)

static __attribute__((noinline)) void legacy_find_all(int req)
{
    cudnnConvolutionFwdAlgoPerf_t fp[16];
    cudnnConvolutionBwdDataAlgoPerf_t dp[16];
    cudnnConvolutionBwdFilterAlgoPerf_t bp[16];
    int n = -1;
    cudnnStatus_t st;
    st = cudnnFindConvolutionForwardAlgorithm(H, X, W, C, DY, req, &n, fp);
    SHOW("fwd_find", st, n, fp);
    st = cudnnFindConvolutionForwardAlgorithmEx(H, X, buf, W, buf, C, DY, buf, req, &n, fp, wsbuf, sizeof wsbuf);
    SHOW("fwd_findex", st, n, fp);
    st = cudnnGetConvolutionForwardAlgorithm_v7(H, X, W, C, DY, req, &n, fp);
    SHOW("fwd_get7", st, n, fp);
    st = cudnnFindConvolutionBackwardDataAlgorithm(H, W, DY, C, X, req, &n, dp);
    SHOW("bwdd_find", st, n, dp);
    st = cudnnFindConvolutionBackwardDataAlgorithmEx(H, W, buf, DY, buf, C, X, buf, req, &n, dp, wsbuf,
                                                     sizeof wsbuf);
    SHOW("bwdd_findex", st, n, dp);
    st = cudnnGetConvolutionBackwardDataAlgorithm_v7(H, W, DY, C, X, req, &n, dp);
    SHOW("bwdd_get7", st, n, dp);
    st = cudnnFindConvolutionBackwardFilterAlgorithm(H, X, DY, C, W, req, &n, bp);
    SHOW("bwdf_find", st, n, bp);
    st = cudnnFindConvolutionBackwardFilterAlgorithmEx(H, X, buf, DY, buf, C, W, buf, req, &n, bp, wsbuf,
                                                       sizeof wsbuf);
    SHOW("bwdf_findex", st, n, bp);
    st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(H, X, DY, C, W, req, &n, bp);
    SHOW("bwdf_get7", st, n, bp);
}

static size_t ws_arg(const char *s, size_t queried)
{
    return !strcmp(s, "q") ? queried : (size_t)strtoull(s, NULL, 0);
}

static __attribute__((noinline)) void legacy_bwd_filter(int algo, const char *ws)
{
    size_t need = 0;
    cudnnStatus_t st = cudnnGetConvolutionBackwardFilterWorkspaceSize(H, X, DY, C, W, algo, &need);
    printf("bwdf_ws algo=%d status=%d size=%zu\n", algo, (int)st, need);
    st = cudnnConvolutionBackwardFilter(H, &one, X, buf, DY, buf, C, algo, wsbuf, ws_arg(ws, need), &zero, W, buf);
    printf("bwdf algo=%d status=%d\n", algo, (int)st);
}

static __attribute__((noinline)) void legacy_bwd_data(int algo, const char *ws)
{
    size_t need = 0;
    cudnnStatus_t st = cudnnGetConvolutionBackwardDataWorkspaceSize(H, W, DY, C, X, algo, &need);
    printf("bwdd_ws algo=%d status=%d size=%zu\n", algo, (int)st, need);
    st = cudnnConvolutionBackwardData(H, &one, W, buf, DY, buf, C, algo, wsbuf, ws_arg(ws, need), &zero, X, buf);
    printf("bwdd algo=%d status=%d\n", algo, (int)st);
}

static __attribute__((noinline)) void legacy_ctc(int algo, const char *ws, int labellen)
{
    cudnnCTCLossDescriptor_t d;
    cudnnCreateCTCLossDescriptor(&d);
    cudnnSetCTCLossDescriptor(d, CUDNN_DATA_FLOAT);
    int labels[4] = {1, 2, 3, 4}, lengths[1] = {labellen}, inputs[1] = {32};
    size_t need = 0;
    cudnnStatus_t st = cudnnGetCTCLossWorkspaceSize(H, X, X, labels, lengths, inputs, algo, d, &need);
    printf("ctc_ws algo=%d status=%d size=%zu\n", algo, (int)st, need);
    st = cudnnCTCLoss(H, X, buf, labels, lengths, inputs, buf, X, buf, algo, d, wsbuf, ws_arg(ws, need));
    printf("ctc algo=%d status=%d\n", algo, (int)st);
    cudnnDestroyCTCLossDescriptor(d);
}

static __attribute__((noinline)) void legacy_ctc_v8(int algo, const char *ws)
{
    cudnnCTCLossDescriptor_t d;
    cudnnCreateCTCLossDescriptor(&d);
    cudnnSetCTCLossDescriptor(d, CUDNN_DATA_FLOAT);
    size_t need = 0;
    cudnnStatus_t st = cudnnGetCTCLossWorkspaceSize_v8(H, algo, d, X, X, &need);
    printf("ctc8_ws algo=%d status=%d size=%zu\n", algo, (int)st, need);
    st = cudnnCTCLoss_v8(H, algo, d, X, buf, (const int *)buf, (const int *)buf, (const int *)buf, buf, X, buf,
                         ws_arg(ws, need), wsbuf);
    printf("ctc8 algo=%d status=%d\n", algo, (int)st);
    cudnnDestroyCTCLossDescriptor(d);
}

static __attribute__((noinline)) void legacy_pool(int mode, int nd)
{
    cudnnPoolingDescriptor_t p;
    cudnnCreatePoolingDescriptor(&p);
    int win[3] = {3, 3, 3}, pad[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
    cudnnSetPoolingNdDescriptor(p, (cudnnPoolingMode_t)mode, CUDNN_NOT_PROPAGATE_NAN, nd, win, pad, stride);
    cudnnStatus_t st = cudnnPoolingBackward(H, p, &one, X, buf, X, buf, X, buf, &zero, X, buf);
    cudnnPoolingMode_t after = (cudnnPoolingMode_t)-1;
    cudnnNanPropagation_t nan;
    int nb, w2[3], p2[3], s2[3];
    /* looked up: the minimal fake library lacks it */
    typedef cudnnStatus_t (*get_t)(const cudnnPoolingDescriptor_t, int, cudnnPoolingMode_t *,
                                   cudnnNanPropagation_t *, int *, int[], int[], int[]);
    get_t get = (get_t)dlsym(RTLD_DEFAULT, "cudnnGetPoolingNdDescriptor");
    if (get) get(p, 3, &after, &nan, &nb, w2, p2, s2);
    printf("pool mode=%d status=%d desc_mode_after=%d\n", mode, (int)st, (int)after);
    cudnnDestroyPoolingDescriptor(p);
}

static __attribute__((noinline)) void legacy_sampler(void)
{
    cudnnSpatialTransformerDescriptor_t d;
    cudnnCreateSpatialTransformerDescriptor(&d);
    int dims[4] = {8, 3, 32, 32};
    cudnnSetSpatialTransformerNdDescriptor(d, CUDNN_SAMPLER_BILINEAR, CUDNN_DATA_FLOAT, 4, dims);
    cudnnStatus_t st = cudnnSpatialTfSamplerBackward(H, d, &one, X, buf, &zero, X, buf, &one, DY, buf, buf, &zero,
                                                     buf);
    printf("sampler status=%d\n", (int)st);
    cudnnDestroySpatialTransformerDescriptor(d);
}

/* ---- backend ----------------------------------------------------------------------------- */

static cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t)
{
    cudnnBackendDescriptor_t d = NULL;
    if (cudnnBackendCreateDescriptor(t, &d) != CUDNN_STATUS_SUCCESS) {
        printf("create type=%d failed\n", (int)t);
        exit(3);
    }
    return d;
}

/* The engine behind an engine config, as the caller sees it. */
static long long engine_of(cudnnBackendDescriptor_t cfg)
{
    cudnnBackendDescriptor_t eng = make(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    int64_t n = 0, idx = -1;
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng) == 0)
        cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &idx);
    cudnnBackendDestroyDescriptor(eng);
    return (long long)idx;
}

static cudnnBackendDescriptor_t plan_on(cudnnBackendDescriptor_t cfg)
{
    cudnnBackendDescriptor_t plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &H);
    cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    return plan;
}

static __attribute__((noinline)) void run_plan(cudnnBackendDescriptor_t plan, long long engine)
{
    cudnnBackendDescriptor_t vp = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    volatile int runs = 2; /* one call site, run twice (no unrolling) */
    for (int i = 0; i < runs; i++) {
        cudnnStatus_t st = cudnnBackendExecute(H, plan, vp);
        printf("execute engine=%lld status=%d\n", engine, (int)st);
    }
    cudnnBackendDestroyDescriptor(vp);
}

static __attribute__((noinline)) void torch_like_conv(int mode, int req)
{
    cudnnBackendDescriptor_t graph = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    cudnnBackendDescriptor_t heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    cudnnBackendHeurMode_t hm = (cudnnBackendHeurMode_t)mode;
    cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
    cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    cudnnBackendFinalize(heur);
    int64_t count = -1;
    cudnnStatus_t st = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL);
    printf("heur_count status=%d count=%lld\n", (int)st, (long long)count);
    if (req < 0) req = (int)count;
    if (st == 0 && req > 0) {
        cudnnBackendDescriptor_t cfgs[64];
        for (int i = 0; i < req; i++) cfgs[i] = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        int64_t got = -1;
        st = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, req,
                                      &got, cfgs);
        printf("heur_fetch status=%d returned=%lld engines=", (int)st, (long long)got);
        for (int64_t i = 0; st == 0 && i < got; i++) printf("%s%lld", i ? "," : "", engine_of(cfgs[i]));
        printf("\n");
        for (int64_t i = 0; st == 0 && i < got; i++) {
            cudnnBackendDescriptor_t plan = plan_on(cfgs[i]);
            long long e = engine_of(cfgs[i]);
            cudnnStatus_t fs = cudnnBackendFinalize(plan);
            printf("finalize engine=%lld status=%d\n", e, (int)fs);
            if (fs == 0) run_plan(plan, e);
            cudnnBackendDestroyDescriptor(plan);
            if (fs == 0) break;
        }
        for (int i = 0; i < req; i++) cudnnBackendDestroyDescriptor(cfgs[i]);
    }
    cudnnBackendDestroyDescriptor(heur);
    cudnnBackendDestroyDescriptor(graph);
}

static __attribute__((noinline)) void manual_plan(const char *list)
{
    for (const char *p = list; p && *p;) {
        long long e = strtoll(p, NULL, 10);
        cudnnBackendDescriptor_t eng = make(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
        int64_t idx = e;
        cudnnBackendSetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &idx);
        cudnnBackendFinalize(eng);
        cudnnBackendDescriptor_t cfg = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        cudnnBackendSetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng);
        cudnnBackendFinalize(cfg);
        cudnnBackendDescriptor_t plan = plan_on(cfg);
        cudnnStatus_t fs = cudnnBackendFinalize(plan);
        printf("finalize engine=%lld status=%d\n", e, (int)fs);
        if (fs == 0) run_plan(plan, e);
        cudnnBackendDestroyDescriptor(plan);
        cudnnBackendDestroyDescriptor(cfg);
        cudnnBackendDestroyDescriptor(eng);
        if (fs == 0) break;
        p = strchr(p, ',');
        if (p) p++;
    }
}

static __attribute__((noinline)) void json_plan(int e)
{
    char text[32];
    int n = snprintf(text, sizeof text, "engine=%d", e);
    cudnnBackendDescriptor_t plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, text);
    cudnnStatus_t fs = cudnnBackendFinalize(plan);
    printf("finalize engine=%d status=%d\n", e, (int)fs);
    if (fs == 0) run_plan(plan, e);
    cudnnBackendDestroyDescriptor(plan);
}

static int per_thread;
static void *plan_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < per_thread; i++) manual_plan("1,2");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    const char *a1 = argc > 2 ? argv[2] : "0", *a2 = argc > 3 ? argv[3] : "0";
    int a3 = argc > 4 ? atoi(argv[4]) : 1, a4 = argc > 5 ? atoi(argv[5]) : 1;
    bool backend = false;
    if (!strcmp(cmd, "find")) {
        setup(1, 1);
        legacy_find_all(atoi(a1));
    } else if (!strcmp(cmd, "bwdf")) {
        setup(a3, a4);
        legacy_bwd_filter(atoi(a1), a2);
    } else if (!strcmp(cmd, "bwdd")) {
        setup(a3, 1);
        legacy_bwd_data(atoi(a1), a2);
    } else if (!strcmp(cmd, "ctc")) {
        setup(1, 1);
        legacy_ctc(atoi(a1), a2, argc > 4 ? a3 : 4);
    } else if (!strcmp(cmd, "ctc8")) {
        setup(1, 1);
        legacy_ctc_v8(atoi(a1), a2);
    } else if (!strcmp(cmd, "pool")) {
        setup(1, 1);
        legacy_pool(atoi(a1), atoi(a2));
    } else if (!strcmp(cmd, "sampler")) {
        setup(1, 1);
        legacy_sampler();
    } else if (!strcmp(cmd, "torch")) {
        setup(1, 1);
        backend = true;
        torch_like_conv(atoi(a1), argc > 3 ? atoi(a2) : -1);
    } else if (!strcmp(cmd, "plan")) {
        setup(1, 1);
        backend = true;
        manual_plan(a1);
    } else if (!strcmp(cmd, "json")) {
        setup(1, 1);
        backend = true;
        json_plan(atoi(a1));
    } else if (!strcmp(cmd, "internal")) {
        setup(1, 1);
        backend = true;
        cudnnStatus_t st = cudnnConvolutionForward(H, &one, X, buf, W, buf, C, 0, wsbuf, 0, &zero, DY, buf);
        printf("internal status=%d\n", (int)st);
    } else if (!strcmp(cmd, "threads")) {
        setup(1, 1);
        backend = true;
        pthread_t t[32];
        int n = atoi(a1) > 32 ? 32 : atoi(a1);
        per_thread = atoi(a2);
        for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, plan_thread, NULL);
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    } else {
        return 2;
    }
    if (backend) printf("live=%d\n", fake_cudnn_live_descriptors());
    return 0;
}
