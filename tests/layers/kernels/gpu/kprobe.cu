// kprobe: the kernels layer on a real GPU (run.sh builds and runs it).
// nvcc --cudart shared -O2 -arch=sm_90 kprobe.cu -lcuda
//   kprobe check     launches force_deriv_wrt_neighbors_a<double> (built-in database),
//                    atomic_sum_kernel (flag it with DETSHIM_DENY or a scanner file) and a clean
//                    kernel, through <<<>>> and through a cuLaunchKernel pointer from
//                    cudaGetDriverEntryPointByVersion; prints each status and cudaGetLastError
//   kprobe bench N   N launches of an empty kernel each way; prints ns per launch
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

template <typename T> __global__ void force_deriv_wrt_neighbors_a(T *f, const T *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&f[i % 7], x[i]);
}
__global__ void atomic_sum_kernel(float *cell, const float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(cell, x[i]);
}
__global__ void empty_kernel() {}

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void **, void **);

static double now()
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline)) void launch_force(double *f, const double *x, int n)
{
    force_deriv_wrt_neighbors_a<double><<<4, 256>>>(f, x, n);
    printf("force <<<>>> lasterror=%d\n", (int)cudaGetLastError());
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    double *f, *x;
    float *cell, *xf;
    cudaMalloc(&f, 64 * sizeof(double));
    cudaMalloc(&x, 1024 * sizeof(double));
    cudaMalloc(&cell, sizeof(float));
    cudaMalloc(&xf, 1024 * sizeof(float));
    cudaMemset(x, 0, 1024 * sizeof(double));
    cudaMemset(xf, 0, 1024 * sizeof(float));
    void *p = NULL;
    cudaDriverEntryPointQueryResult q;
    cudaError_t st = cudaGetDriverEntryPointByVersion("cuLaunchKernel", &p, 12000, cudaEnableDefault, &q);
    launch_fn drv = (launch_fn)p;
    cudaFunction_t fe = NULL, ff = NULL;
    cudaGetFuncBySymbol(&fe, (const void *)empty_kernel);
    cudaGetFuncBySymbol(&ff, (const void *)force_deriv_wrt_neighbors_a<double>);
    printf("entrypoint status=%d ptr=%p funcs %p %p\n", (int)st, p, (void *)fe, (void *)ff);
    if (!strcmp(argv[1], "check")) {
        for (int i = 0; i < 2; i++) launch_force(f, x, 1024);
        atomic_sum_kernel<<<4, 256>>>(cell, xf, 1024);
        printf("atomic_sum <<<>>> lasterror=%d\n", (int)cudaGetLastError());
        empty_kernel<<<1, 1>>>();
        printf("empty <<<>>> lasterror=%d\n", (int)cudaGetLastError());
        int n = 1024;
        void *args[] = {&f, &x, &n};
        printf("force via cuLaunchKernel pointer status=%d\n",
               (int)drv((CUfunction)ff, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
        printf("empty via cuLaunchKernel pointer status=%d\n",
               (int)drv((CUfunction)fe, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        printf("sync=%d\n", (int)cudaDeviceSynchronize());
    } else if (!strcmp(argv[1], "bench") && argc == 3) {
        long n = atol(argv[2]);
        const int batch = 256; /* below the launch queue's depth: times the CPU side only */
        for (int w = 0; w < 1000; w++) empty_kernel<<<1, 1>>>();
        cudaDeviceSynchronize();
        double a = 0, b = 0;
        for (long i = 0; i < n; i += batch) {
            double t0 = now();
            for (int j = 0; j < batch; j++) empty_kernel<<<1, 1>>>();
            a += now() - t0;
            cudaDeviceSynchronize();
            t0 = now();
            for (int j = 0; j < batch; j++) drv((CUfunction)fe, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
            b += now() - t0;
            cudaDeviceSynchronize();
        }
        double t1 = a, t0 = 0, t3 = b, t2 = 0;
        printf("bench %s <<<>>> %.0f ns/launch (enqueue), cuLaunchKernel-pointer %.0f ns/launch\n",
               getenv("LD_PRELOAD") ? (getenv("DETSHIM_MODE") ? getenv("DETSHIM_MODE") : "shim")
                                    : "plain",
               (t1 - t0) / n * 1e9, (t3 - t2) / n * 1e9);
    }
    return 0;
}
