/* libmiddle: stands where libtorch_cuda.so stands. It has libcublas as DT_NEEDED and
 * is itself opened RTLD_LOCAL by the program, so cuBLAS is invisible to RTLD_NEXT. */
#include <cublas_api.h>

int middle_create_handles(int n);
int middle_create_handles(int n)
{
    int st = 0;
    for (int i = 0; i < n; i++) {
        cublasHandle_t h;
        st = (int)cublasCreate_v2(&h);
        if (st == 0) cublasDestroy_v2(h);
    }
    return st;
}
