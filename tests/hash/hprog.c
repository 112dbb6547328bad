/* hprog: a chain of fake kernels, copies and memsets for hash mode (tests/hash). Linked
 * against the fake libcudart.so.13 and libcuda.so.1, whose kernels run their host bodies
 * on "device" memory that is host memory.
 *
 *   hprog clean     two steps of the chain; every call writes the same bits in every run
 *   hprog noisy     the same, but kernel `perturb` mixes the process id into its output:
 *                   it alone diverges between two runs; later calls inherit it
 *   hprog swap      as clean, but in the second step `scale` runs before `axpy` (another
 *                   call sequence)
 *   hprog fork      one step, then a forked child runs fill and perturb and exits
 *   hprog odd       odd sizes at unaligned addresses: 13 bytes uploaded to d_x + 1, copied
 *                   to d_y + 3, 11 bytes set at d_w + 5
 *   hprog bench N KIB   N launches of a kernel reaching one KIB-KiB buffer, timed
 *   hprog pt        the per-thread default stream twins (_ptds, _ptsz) of the hooked copies
 *                   and memsets, each once (t_ptds.sh lists them), then one on a created
 *                   stream and one plain memset
 *   hprog twod      pitched rectangles: the 2-D copies and memsets and their twins, the
 *                   16-bit driver memsets and theirs, each once (t_2d.sh lists them), then
 *                   a 2-D copy back to the host (not recorded)
 * Every step is its own exported function, so stacks name it. Prints a checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda.h>
#include <cuda_runtime_api.h>

#undef cuGetProcAddress

void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                            const char *deviceName, int thread_limit, uint3 *tid, uint3 *bid,
                            dim3 *bDim, dim3 *gDim, int *wSize);
cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun);
cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 g, dim3 b, void **args, size_t smem,
                               cudaStream_t s);
int fake_rt_kernel_define(const void *stub, void (*body)(void **), int nparams, const size_t *sizes);
int fake_drv_kernel_define(const char *name, void (*body)(void **), int nparams, const size_t *sizes);

/* per-thread default stream entry points (what the headers' macros name under
 * --default-stream per-thread) */
cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                                 cudaStream_t s);
cudaError_t cudaMemset_ptds(void *p, int v, size_t n);
cudaError_t cudaMemsetAsync_ptsz(void *p, int v, size_t n, cudaStream_t s);
CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n);
CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n);
CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n, CUstream s);
CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n);
CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
CUresult cuMemsetD8_v2_ptds(CUdeviceptr dst, unsigned char v, size_t n);
CUresult cuMemsetD32_v2_ptds(CUdeviceptr dst, unsigned int v, size_t n);
CUresult cuMemsetD8Async_ptsz(CUdeviceptr dst, unsigned char v, size_t n, CUstream s);
CUresult cuMemsetD32Async_ptsz(CUdeviceptr dst, unsigned int v, size_t n, CUstream s);
cudaError_t cudaMemcpy2D_ptds(void *dst, size_t dpitch, const void *src, size_t spitch, size_t w,
                              size_t h, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpy2DAsync_ptsz(void *dst, size_t dpitch, const void *src, size_t spitch,
                                   size_t w, size_t h, enum cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemset2D_ptds(void *p, size_t pitch, int v, size_t w, size_t h);
cudaError_t cudaMemset2DAsync_ptsz(void *p, size_t pitch, int v, size_t w, size_t h, cudaStream_t s);
CUresult cuMemsetD16_v2_ptds(CUdeviceptr dst, unsigned short v, size_t n);
CUresult cuMemsetD16Async_ptsz(CUdeviceptr dst, unsigned short v, size_t n, CUstream s);

#define NOINL __attribute__((noinline, visibility("default")))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")
#define N 4096

/* kernel names (mangled, as nvcc would name them) */
#define K_FILL "_Z9fill_iotaPji"
#define K_PERTURB "_Z7perturbPjPKji"
#define K_AXPY "_Z4axpyPjPKji"
#define K_SCALE "_Z5scalePjPKjj"
#define K_SUM "_Z6reducePjPKji"
#define K_SIDE "_Z4sidePji"

static int noisy;
static volatile int steps = 2; /* a loop the compiler cannot unroll: one call site per step */

/* bodies: args[i] points at parameter i */
static void b_fill(void **a)
{
    unsigned *x = *(unsigned **)a[0];
    int n = *(int *)a[1];
    for (int i = 0; i < n; i++) x[i] = (unsigned)i * 2654435761u;
}
static void b_perturb(void **a)
{
    unsigned *y = *(unsigned **)a[0];
    const unsigned *x = *(const unsigned **)a[1];
    int n = *(int *)a[2];
    for (int i = 0; i < n; i++) y[i] = x[i] ^ 0x5bd1e995u;
    if (noisy) y[7] += (unsigned)getpid(); /* the run-dependent bits */
}
static void b_axpy(void **a)
{
    unsigned *y = *(unsigned **)a[0];
    const unsigned *x = *(const unsigned **)a[1];
    int n = *(int *)a[2];
    for (int i = 0; i < n; i++) y[i] += 3u * x[i];
}
static void b_scale(void **a)
{
    unsigned *y = *(unsigned **)a[0];
    const unsigned *x = *(const unsigned **)a[1];
    unsigned f = *(unsigned *)a[2];
    for (int i = 0; i < N; i++) y[i] = x[i] * f;
}
static void b_sum(void **a)
{
    unsigned *out = *(unsigned **)a[0];
    const unsigned *x = *(const unsigned **)a[1];
    int n = *(int *)a[2];
    unsigned s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *out = s;
}
static void b_side(void **a)
{
    unsigned *z = *(unsigned **)a[0];
    int n = *(int *)a[1];
    for (int i = 0; i < n; i++) z[i] += 1;
}

/* stubs: distinct bodies so none are folded */
static volatile int touched;
static void s_fill(void) { touched = 1; }
static void s_perturb(void) { touched = 2; }
static void s_scale(void) { touched = 3; }
static void s_side(void) { touched = 4; }

static void *fatbin[1];
static cudaKernel_t h_perturb;
static CUfunction f_axpy, f_sum;
static unsigned *d_x, *d_y, *d_w, *d_v, *d_out, *d_side;
static const dim3 G = {16, 1, 1}, B = {256, 1, 1};

static void setup(void)
{
    static const size_t p_ptr_int[] = {8, 4}, p_ptr_ptr_int[] = {8, 8, 4},
                        p_ptr_ptr_uint[] = {8, 8, 4};
    struct { void (*stub)(void); const char *name; void (*body)(void **); int np; const size_t *sz; } rt[] = {
        {s_fill, K_FILL, b_fill, 2, p_ptr_int},
        {s_perturb, K_PERTURB, b_perturb, 3, p_ptr_ptr_int},
        {s_scale, K_SCALE, b_scale, 3, p_ptr_ptr_uint},
        {s_side, K_SIDE, b_side, 2, p_ptr_int},
    };
    for (size_t i = 0; i < sizeof rt / sizeof *rt; i++) {
        __cudaRegisterFunction(fatbin, (const char *)rt[i].stub, (char *)rt[i].name, rt[i].name,
                               -1, NULL, NULL, NULL, NULL, NULL);
        fake_rt_kernel_define((const void *)rt[i].stub, rt[i].body, rt[i].np, rt[i].sz);
    }
    __cudaGetKernel(&h_perturb, (const void *)s_perturb);
    fake_drv_kernel_define(K_AXPY, b_axpy, 3, p_ptr_ptr_int);
    fake_drv_kernel_define(K_SUM, b_sum, 3, p_ptr_ptr_int);
    cuModuleGetFunction(&f_axpy, NULL, K_AXPY);
    cuModuleGetFunction(&f_sum, NULL, K_SUM);
    cudaMalloc((void **)&d_x, N * 4);
    cudaMalloc((void **)&d_y, N * 4);
    cudaMalloc((void **)&d_w, N * 4);
    cudaMalloc((void **)&d_v, N * 4);
    cudaMalloc((void **)&d_out, 64);
    cudaMalloc((void **)&d_side, N * 4);
}

/* ---- the steps of the chain, each its own frame ------------------------------------------- */
NOINL int step_upload(void)
{
    static unsigned host[N];
    for (int i = 0; i < N; i++) host[i] = (unsigned)i;
    int r = cudaMemcpy(d_side, host, sizeof host, cudaMemcpyHostToDevice);
    KEEP_FRAME();
    return r;
}
NOINL int step_fill(void)
{
    int n = N;
    void *args[] = {&d_x, &n};
    int r = cudaLaunchKernel((const void *)s_fill, G, B, args, 0, NULL);
    KEEP_FRAME();
    return r;
}
NOINL int step_perturb(void)
{
    int n = N;
    void *args[] = {&d_y, &d_x, &n};
    int r = __cudaLaunchKernel(h_perturb, G, B, args, 0, NULL);
    KEEP_FRAME();
    return r;
}
NOINL int step_copy(void)
{
    int r = cudaMemcpy(d_w, d_y, N * 4, cudaMemcpyDeviceToDevice);
    KEEP_FRAME();
    return r;
}
NOINL int step_side(void)
{
    int n = N;
    void *args[] = {&d_side, &n};
    int r = cudaLaunchKernel((const void *)s_side, G, B, args, 0, NULL);
    KEEP_FRAME();
    return r;
}
NOINL int step_axpy(void)
{
    int n = N;
    void *params[] = {&d_w, &d_x, &n};
    int r = cuLaunchKernel(f_axpy, 16, 1, 1, 256, 1, 1, 0, NULL, params, NULL);
    KEEP_FRAME();
    return r;
}
NOINL int step_scale(void)
{
    unsigned f = 5;
    void *args[] = {&d_v, &d_w, &f};
    cudaLaunchConfig_t c = {.gridDim = G, .blockDim = B};
    int r = cudaLaunchKernelExC(&c, (const void *)s_scale, args);
    KEEP_FRAME();
    return r;
}
NOINL int step_memset(void)
{
    int r = cudaMemset(d_out, 0, 64);
    KEEP_FRAME();
    return r;
}
NOINL int step_sum(void)
{
    /* packed parameters, as Triton and hand-written driver code pass them */
    struct { unsigned *out; const unsigned *x; int n; } pk = {d_out, d_v, N};
    size_t sz = sizeof pk;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pk, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz,
                     CU_LAUNCH_PARAM_END};
    CUlaunchConfig c = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 256,
                        .blockDimY = 1, .blockDimZ = 1};
    int r = cuLaunchKernelEx(&c, f_sum, NULL, extra);
    KEEP_FRAME();
    return r;
}

NOINL int step_odd(void)
{
    static const char text[13] = "hash me, odd";
    char *x = (char *)d_x, *y = (char *)d_y, *w = (char *)d_w;
    int r = cudaMemcpy(x + 1, text, sizeof text, cudaMemcpyHostToDevice);
    r |= cudaMemcpy(y + 3, x + 1, sizeof text, cudaMemcpyDeviceToDevice);
    r |= cudaMemset(w + 5, 0xab, 11);
    KEEP_FRAME();
    printf("hprog odd status=%d\n", r);
    return r;
}

/* Every twin once: uploads of 0..N-1 (uint32), device copies of it, memsets of 64 bytes. */
NOINL int step_pt(void)
{
    static unsigned host[N];
    for (int i = 0; i < N; i++) host[i] = (unsigned)i;
    CUdeviceptr x = (CUdeviceptr)(uintptr_t)d_x, y = (CUdeviceptr)(uintptr_t)d_y,
                v = (CUdeviceptr)(uintptr_t)d_v, w = (CUdeviceptr)(uintptr_t)d_w;
    cudaStream_t s1 = NULL;
    int r = cudaStreamCreate(&s1);
    r |= cudaMemcpy_ptds(d_x, host, sizeof host, cudaMemcpyHostToDevice);
    r |= cudaMemcpyAsync_ptsz(d_y, d_x, sizeof host, cudaMemcpyDeviceToDevice, NULL);
    r |= cudaMemset_ptds(d_w, 0x11, 64);
    r |= cudaMemsetAsync_ptsz(d_w, 0x22, 64, NULL);
    r |= cuMemcpy_ptds(v, x, sizeof host);
    r |= cuMemcpyAsync_ptsz(v, x, sizeof host, NULL);
    r |= cuMemcpyHtoD_v2_ptds(x, host, sizeof host);
    r |= cuMemcpyHtoDAsync_v2_ptsz(x, host, sizeof host, NULL);
    r |= cuMemcpyDtoD_v2_ptds(y, x, sizeof host);
    r |= cuMemcpyDtoDAsync_v2_ptsz(y, x, sizeof host, NULL);
    r |= cuMemsetD8_v2_ptds(w, 0x33, 64);
    r |= cuMemsetD32_v2_ptds(w, 0x01020304u, 16);
    r |= cuMemsetD8Async_ptsz(w, 0x44, 64, NULL);
    r |= cuMemsetD32Async_ptsz(w, 0x05060708u, 16, NULL);
    r |= cuMemsetD8Async_ptsz(w, 0x55, 64, (CUstream)s1); /* a stream of its own: kept */
    r |= cudaMemset(d_w, 0x66, 64);                       /* plain: the legacy stream */
    KEEP_FRAME();
    printf("hprog pt status=%d stream=%p\n", r, (void *)s1);
    cudaStreamDestroy(s1);
    return r;
}

/* Pitched rectangles (t_2d.sh computes the same memory and checks every digest). */
NOINL int step_twod(void)
{
    static unsigned char host[32 * 8], back[24 * 8];
    for (int i = 0; i < (int)sizeof host; i++) host[i] = (unsigned char)(i * 7 + 1);
    char *x = (char *)d_x, *y = (char *)d_y, *w = (char *)d_w;
    CUdeviceptr wd = (CUdeviceptr)(uintptr_t)d_w;
    cudaStream_t s1 = NULL;
    int r = cudaStreamCreate(&s1);
    r |= cudaMemset(x, 0, N * 4) | cudaMemset(y, 0, N * 4) | cudaMemset(w, 0, N * 4);
    r |= cudaMemcpy2D(x, 64, host, 32, 24, 8, cudaMemcpyHostToDevice);
    r |= cudaMemcpy2DAsync(y, 48, x, 64, 24, 8, cudaMemcpyDeviceToDevice, NULL);
    r |= cudaMemcpy2D_ptds(y + 512, 40, x, 64, 24, 8, cudaMemcpyDeviceToDevice);
    r |= cudaMemcpy2DAsync_ptsz(y + 1024, 24, host, 32, 24, 8, cudaMemcpyHostToDevice, s1);
    r |= cudaMemset2D(w, 64, 0x5a, 40, 4);
    r |= cudaMemset2DAsync(w + 256, 32, 0x5b, 16, 4, NULL);
    r |= cudaMemset2D_ptds(w + 512, 16, 0x5c, 8, 4);
    r |= cudaMemset2DAsync_ptsz(w + 1024, 16, 0x5d, 16, 2, NULL);
    r |= cuMemsetD16_v2(wd + 2048, 0x0102, 8);
    r |= cuMemsetD16Async(wd + 2064, 0x0304, 8, NULL);
    r |= cuMemsetD16_v2_ptds(wd + 2080, 0x0506, 8);
    r |= cuMemsetD16Async_ptsz(wd + 2096, 0x0708, 8, NULL);
    r |= cudaMemcpy2D(back, 24, y, 48, 24, 8, cudaMemcpyDeviceToHost);
    unsigned sum = 0;
    for (int i = 0; i < (int)sizeof back; i++) sum = sum * 31 + back[i];
    KEEP_FRAME();
    printf("hprog twod status=%d sum=%u stream=%p\n", r, sum, (void *)s1);
    cudaStreamDestroy(s1);
    return r;
}

static int bench(long n, long kib)
{
    unsigned *buf;
    size_t bytes = (size_t)kib << 10;
    if (cudaMalloc((void **)&buf, bytes ? bytes : 4) != cudaSuccess) return 1;
    int cnt = bytes >= 256 ? 64 : 1;
    void *args[] = {&buf, &cnt};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) cudaLaunchKernel((const void *)s_side, G, B, args, 0, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
    printf("bench launches=%ld kib=%ld ns_per_launch=%.0f\n", n, kib, ns);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    noisy = !strcmp(mode, "noisy");
    int swap = !strcmp(mode, "swap");
    setup();
    if (!strcmp(mode, "bench")) return bench(argc > 2 ? atol(argv[2]) : 1000, argc > 3 ? atol(argv[3]) : 0);
    if (!strcmp(mode, "odd")) return step_odd() ? 1 : 0;
    if (!strcmp(mode, "pt")) return step_pt() ? 1 : 0;
    if (!strcmp(mode, "twod")) return step_twod() ? 1 : 0;
    int bad = 0;
    if (!strcmp(mode, "fork")) {
        bad |= step_fill();
        pid_t pid = fork();
        if (pid == 0) _exit(step_fill() | step_perturb());
        int ws = 1;
        waitpid(pid, &ws, 0);
        printf("hprog fork status=%d child=%d\n", bad, ws);
        return bad || ws;
    }
    for (int step = 0; step < steps; step++) {
        bad |= step_upload();
        bad |= step_fill();
        bad |= step_perturb();
        bad |= step_copy();
        bad |= step_side();
        if (swap && step == 1) {
            bad |= step_scale();
            bad |= step_axpy();
        } else {
            bad |= step_axpy();
            bad |= step_scale();
        }
        bad |= step_memset();
        bad |= step_sum();
    }
    unsigned out;
    cudaMemcpy(&out, d_out, 4, cudaMemcpyDeviceToHost);
    printf("hprog %s status=%d sum=%u\n", mode, bad, out);
    return bad ? 1 : 0;
}
