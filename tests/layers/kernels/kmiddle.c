/* libkmiddle: stands where libtorch_cuda.so stands. It needs libcudart and libcuda
 * (DT_NEEDED) and is itself opened RTLD_LOCAL by klocal_prog, so neither library is in
 * the global scope. It registers its own kernels and launches them four ways. */
#include <stddef.h>
#include <string.h>

#include "kernels_common.h"

int kmiddle_run(int n);

static volatile int touched;
static void stub_index(void) { touched = 1; }
static void stub_axpy(void) { touched = 2; }
static void *fatbin_handle[1];
/* after a call: keeps the caller's frame (no tail call), so stacks show it */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

__attribute__((noinline)) static int kmiddle_stub_launch(cudaKernel_t k)
{
    dim3 g = {8, 1, 1}, b = {64, 1, 1};
    int r = __cudaLaunchKernel(k, g, b, NULL, 0, NULL);
    KEEP_FRAME();
    return r;
}

__attribute__((noinline)) static int kmiddle_exc_launch(const void *stub)
{
    cudaLaunchConfig_t c;
    memset(&c, 0, sizeof c);
    c.gridDim.x = c.gridDim.y = c.gridDim.z = 1;
    c.blockDim.x = c.blockDim.y = c.blockDim.z = 1;
    int r = cudaLaunchKernelExC(&c, stub, NULL);
    KEEP_FRAME();
    return r;
}

__attribute__((noinline)) static int kmiddle_ptr_launch(launch_fn fn, CUfunction f)
{
    int r = fn(f, 2, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL);
    KEEP_FRAME();
    return r;
}

int kmiddle_run(int n)
{
    __cudaRegisterFunction(fatbin_handle, (const char *)stub_index, (char *)K_INDEX, K_INDEX, -1,
                           NULL, NULL, NULL, NULL, NULL);
    __cudaRegisterFunction(fatbin_handle, (const char *)stub_axpy, (char *)K_AXPY, K_AXPY, -1,
                           NULL, NULL, NULL, NULL, NULL);
    cudaKernel_t k_index = NULL;
    CUfunction f_index = NULL;
    void *p1 = NULL, *p2 = NULL;
    CUdriverProcAddressQueryResult q;
    enum cudaDriverEntryPointQueryResult qr;
    if (__cudaGetKernel(&k_index, (const void *)stub_index) != cudaSuccess ||
        cuModuleGetFunction(&f_index, NULL, K_INDEX) != CUDA_SUCCESS ||
        cuGetProcAddress_v2("cuLaunchKernel", &p1, 13000, 0, &q) != CUDA_SUCCESS ||
        cudaGetDriverEntryPointByVersion("cuLaunchKernel", &p2, 13000, cudaEnableDefault, &qr) !=
            cudaSuccess)
        return -1;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        bad += kmiddle_stub_launch(k_index) != 0;
        bad += kmiddle_exc_launch((const void *)stub_index) != 0;
        bad += kmiddle_ptr_launch((launch_fn)p1, f_index) != 0;
        bad += kmiddle_ptr_launch((launch_fn)p2, f_index) != 0;
        bad += kmiddle_exc_launch((const void *)stub_axpy) != 0;
    }
    return bad;
}
