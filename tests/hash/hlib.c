/* hlib: library calls in hash mode (tests/hash), against the fake cuBLAS and cuBLASLt, which
 * compute with FAKE_BLAS_COMPUTE=1 (and, with FAKE_BLAS_NOISE=1, put the process id into the
 * first element of each result: a nondeterministic routine).
 *
 *   hlib chain    upload A and B; C = A B (cublasSgemm_v2); D = C B + C (cublasLtMatmul);
 *                 E = D + 1 (a kernel); read E back; prints a checksum
 *   hlib odd      two cublasGemmEx on a data type hash mode cannot size (4-bit integers), in
 *                 the inputs, then in the output
 *   hlib conv     upload x and dy; dw = convolution backward filter (ALGO_0, which the fake
 *                 makes nondeterministic under FAKE_BLAS_NOISE=1); copy dw to another buffer
 * Every step is its own exported function, so stacks name it. */
#include <stdio.h>
#include <string.h>

#include <cuda.h>
#include <cublasLt.h>
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#define NOINL __attribute__((noinline, visibility("default")))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")
#define M 16

static float *A, *B, *C, *D;
static cublasHandle_t h;
static cudaStream_t s;

NOINL int step_upload(void)
{
    static float a[M * M], b[M * M];
    for (int i = 0; i < M * M; i++) a[i] = (float)(i % 7), b[i] = (float)(i % 5) - 2;
    int r = cudaMemcpy(A, a, sizeof a, cudaMemcpyHostToDevice) |
            cudaMemcpy(B, b, sizeof b, cudaMemcpyHostToDevice);
    KEEP_FRAME();
    return r;
}

NOINL int step_gemm(void)
{
    const float one = 1, zero = 0;
    int r = cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, M, M, M, &one, A, M, B, M, &zero, C, M);
    KEEP_FRAME();
    return r;
}

NOINL int step_matmul(void)
{
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t l;
    const float one = 1;
    int r = cublasLtCreate(&lt) | cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) |
            cublasLtMatrixLayoutCreate(&l, CUDA_R_32F, M, M, M);
    if (r) return r;
    r = cublasLtMatmul(lt, desc, &one, C, l, B, l, &one, C, l, D, l, NULL, NULL, 0, s);
    cublasLtMatrixLayoutDestroy(l);
    cublasLtMatmulDescDestroy(desc);
    cublasLtDestroy(lt);
    KEEP_FRAME();
    return r;
}

NOINL int step_download(float *out)
{
    int r = cudaMemcpy(out, D, M * M * sizeof *out, cudaMemcpyDeviceToHost);
    KEEP_FRAME();
    return r;
}

NOINL int step_gemmex_odd(void)
{
    const float one = 1, zero = 0;
    /* 4-bit inputs, then a 4-bit output */
    int r = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, M, M, M, &one, A, CUDA_R_4I, M, B, CUDA_R_4I, M,
                         &zero, C, CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    r |= cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, M, M, M, &one, A, CUDA_R_32F, M, B, CUDA_R_32F, M,
                      &zero, C, CUDA_R_4I, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    KEEP_FRAME();
    return r;
}

NOINL int step_bwd_filter(void)
{
    cudnnHandle_t dh;
    cudnnTensorDescriptor_t x, dy;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    void *ws;
    const float one = 1, zero = 0;
    int r = cudnnCreate(&dh) | cudnnSetStream(dh, s) | cudnnCreateTensorDescriptor(&x) |
            cudnnCreateTensorDescriptor(&dy) | cudnnCreateFilterDescriptor(&w) |
            cudnnCreateConvolutionDescriptor(&conv) | cudaMalloc(&ws, 1 << 20);
    if (r) return r;
    cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, M, M);
    cudnnSetTensor4dDescriptor(dy, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, M, M);
    cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 1, 1, M, M);
    cudnnSetConvolution2dDescriptor(conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    r = cudnnConvolutionBackwardFilter(dh, &one, x, A, dy, B, conv, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, ws,
                                       1 << 20, &zero, w, C);
    cudaFree(ws);
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(dy);
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroy(dh);
    KEEP_FRAME();
    return r;
}

NOINL int step_copy(void)
{
    int r = cudaMemcpy(D, C, M * M * 4, cudaMemcpyDeviceToDevice);
    KEEP_FRAME();
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    cuInit(0); /* a real runtime loads the driver; linking it keeps the fake one loaded */
    if (cudaMalloc((void **)&A, M * M * 4) || cudaMalloc((void **)&B, M * M * 4) ||
        cudaMalloc((void **)&C, M * M * 4) || cudaMalloc((void **)&D, M * M * 4) ||
        cudaStreamCreate(&s) || cublasCreate_v2(&h) || cublasSetStream_v2(h, s))
        return 1;
    int bad = step_upload();
    if (!strcmp(argv[1], "chain")) {
        float out[M * M];
        bad |= step_gemm() | step_matmul() | step_download(out);
        double sum = 0;
        for (int i = 0; i < M * M; i++) sum += out[i] * (i + 1);
        printf("checksum %.1f\n", sum);
    } else if (!strcmp(argv[1], "conv")) {
        bad |= step_bwd_filter() | step_copy();
    } else if (!strcmp(argv[1], "odd")) {
        bad |= step_gemmex_odd();
    } else {
        return 2;
    }
    cublasDestroy_v2(h);
    cudaStreamDestroy(s);
    cudaFree(A), cudaFree(B), cudaFree(C), cudaFree(D);
    printf("failed %d\n", bad);
    return bad != 0;
}
