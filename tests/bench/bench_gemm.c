/* bench_gemm N: N cublasSgemm_v2 calls on one handle and one stream against the fake
 * cuBLAS (which does no arithmetic), so that callgrind counts what the shim adds per
 * call on the gemm path. */
#include <stdio.h>
#include <stdlib.h>

#include <cublas_api.h>
#include <cuda_runtime_api.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    cublasHandle_t h;
    cudaStream_t s;
    if (cublasCreate_v2(&h) != CUBLAS_STATUS_SUCCESS || cudaStreamCreate(&s) != cudaSuccess) return 1;
    cublasSetStream_v2(h, s);
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {0};
    const float one = 1, zero = 0;
    int bad = 0;
    for (long i = 0; i < n; i++)
        bad += cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a, 2, b, 2, &zero, c, 2) != 0;
    cublasDestroy_v2(h);
    printf("gemms %ld failed %d\n", n, bad);
    return bad != 0;
}
