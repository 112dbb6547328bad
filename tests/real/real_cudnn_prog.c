/* real_cudnn_prog: calls the REAL cuDNN 9 (dlopen'ed: libcudnn.so.9 from LD_LIBRARY_PATH)
 * through the symbols a program links against (dlsym(RTLD_DEFAULT): the shim's wrappers
 * when it is preloaded), with what works without a GPU: descriptors, and calls with a NULL
 * handle, which cuDNN answers with CUDNN_STATUS_BAD_PARAM. Prints one fact per line; ends
 * with "done" (no crash). Exit 77 when libcudnn.so.9 cannot be loaded. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <cudnn.h>

static void *sym(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        printf("missing %s\n", name);
        exit(3);
    }
    return p;
}
#define F(name) ((__typeof__(&name))sym(#name))

static cudnnTensorDescriptor_t X, DY;
static cudnnFilterDescriptor_t W;
static cudnnConvolutionDescriptor_t C;
static float one = 1.0f, zero = 0.0f;
static char buf[4096], ws[1 << 16];

static void setup(void)
{
    F(cudnnCreateTensorDescriptor)(&X);
    F(cudnnCreateTensorDescriptor)(&DY);
    F(cudnnCreateFilterDescriptor)(&W);
    F(cudnnCreateConvolutionDescriptor)(&C);
    printf("setup %d %d %d %d\n",
           (int)F(cudnnSetTensor4dDescriptor)(X, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 4, 4),
           (int)F(cudnnSetTensor4dDescriptor)(DY, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 3, 3),
           (int)F(cudnnSetFilter4dDescriptor)(W, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 1, 1, 2, 2),
           (int)F(cudnnSetConvolution2dDescriptor)(C, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                                  CUDNN_DATA_FLOAT));
}

/* max pooling backward (nd: 2 or 3 spatial dimensions); then the caller's descriptor as
 * cuDNN gives it back */
static __attribute__((noinline)) void pool(int nd)
{
    cudnnPoolingDescriptor_t p;
    F(cudnnCreatePoolingDescriptor)(&p);
    int win[3] = {2, 2, 2}, pad[3] = {0, 0, 0}, stride[3] = {1, 1, 1};
    cudnnStatus_t st = F(cudnnSetPoolingNdDescriptor)(p, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN, nd, win,
                                                     pad, stride);
    printf("pool%d set status=%d\n", nd, (int)st);
    st = F(cudnnPoolingBackward)(NULL, p, &one, X, buf, X, buf, X, buf, &zero, X, buf);
    cudnnPoolingMode_t m = (cudnnPoolingMode_t)-1;
    cudnnNanPropagation_t nan;
    int nb = -1, w2[6], p2[6], s2[6];
    cudnnStatus_t gst = F(cudnnGetPoolingNdDescriptor)(p, 6, &m, &nan, &nb, w2, p2, s2);
    printf("pool%d status=%d after: get=%d mode=%d nb=%d\n", nd, (int)st, (int)gst, (int)m, nb);
    gst = F(cudnnGetPoolingNdDescriptor)(p, CUDNN_DIM_MAX, &m, &nan, &nb, w2, p2, s2);
    printf("pool%d get(CUDNN_DIM_MAX) status=%d\n", nd, (int)gst);
    F(cudnnDestroyPoolingDescriptor)(p);
}

static __attribute__((noinline)) void bwd_filter(int algo)
{
    size_t need = 0;
    cudnnStatus_t st = F(cudnnGetConvolutionBackwardFilterWorkspaceSize)(NULL, X, DY, C, W, algo, &need);
    printf("bwdf_ws algo=%d status=%d\n", algo, (int)st);
    st = F(cudnnConvolutionBackwardFilter)(NULL, &one, X, buf, DY, buf, C, algo, ws, sizeof ws, &zero, W, buf);
    printf("bwdf algo=%d status=%d\n", algo, (int)st);
}

static __attribute__((noinline)) void bwd_data(int algo)
{
    size_t need = 0;
    cudnnStatus_t st = F(cudnnGetConvolutionBackwardDataWorkspaceSize)(NULL, W, DY, C, X, algo, &need);
    printf("bwdd_ws algo=%d status=%d\n", algo, (int)st);
    st = F(cudnnConvolutionBackwardData)(NULL, &one, W, buf, DY, buf, C, algo, ws, sizeof ws, &zero, X, buf);
    printf("bwdd algo=%d status=%d\n", algo, (int)st);
}

static __attribute__((noinline)) void ctc(void)
{
    cudnnCTCLossDescriptor_t d;
    F(cudnnCreateCTCLossDescriptor)(&d);
    printf("ctc set status=%d\n", (int)F(cudnnSetCTCLossDescriptor)(d, CUDNN_DATA_FLOAT));
    int labels[2] = {1, 2}, lengths[1] = {2}, inputs[1] = {4};
    size_t need = 0;
    cudnnStatus_t st = F(cudnnGetCTCLossWorkspaceSize_v8)(NULL, CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC, d, X, X,
                                                          &need);
    printf("ctc8_ws status=%d\n", (int)st);
    st = F(cudnnCTCLoss_v8)(NULL, CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC, d, X, buf, labels, lengths, inputs, buf,
                            X, buf, sizeof ws, ws);
    printf("ctc8 status=%d\n", (int)st);
    st = F(cudnnCTCLoss)(NULL, X, buf, labels, lengths, inputs, buf, X, buf, CUDNN_CTC_LOSS_ALGO_NON_DETERMINISTIC,
                         d, ws, sizeof ws);
    printf("ctc status=%d\n", (int)st);
    F(cudnnDestroyCTCLossDescriptor)(d);
}

static __attribute__((noinline)) void backend(void)
{
    cudnnBackendDescriptor_t plan = NULL;
    cudnnStatus_t st = F(cudnnBackendCreateDescriptor)(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan);
    printf("plan create status=%d\n", (int)st);
    /* no engine config, no handle: cuDNN refuses to finalise, the shim passes its status */
    printf("plan finalize status=%d\n", (int)F(cudnnBackendFinalize)(plan));
    printf("plan destroy status=%d\n", (int)F(cudnnBackendDestroyDescriptor)(plan));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* every line out before a crash */
    if (!dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL)) {
        printf("no libcudnn.so.9: %s\n", dlerror());
        return 77;
    }
    printf("version %zu\n", F(cudnnGetVersion)());
    cudnnHandle_t h = NULL;
    cudnnStatus_t st = F(cudnnCreate)(&h);
    printf("create %s\n", st == CUDNN_STATUS_SUCCESS ? "ok" : "failed"); /* no GPU: fails */
    if (st == CUDNN_STATUS_SUCCESS) F(cudnnDestroy)(h);
    setup();
    pool(2);
    pool(3);
    bwd_filter(0);
    bwd_filter(1);
    bwd_data(0);
    /* (no algorithm search: cuDNN 9.19's finders crash on a NULL handle) */
    ctc();
    backend();
    printf("done\n");
    return 0;
}
