/* A fake libcudart.so.13 (runtime API), compiled from the real cuda_runtime_api.h. */
#include <cuda_runtime_api.h>

#include "fake_record.h"

cudaError_t cudaRuntimeGetVersion(int *v)
{
    if (!v) return cudaErrorInvalidValue;
    *v = 13000;
    return cudaSuccess;
}

/* Memory and streams: "device" memory is host memory here, so tests can look at what
 * a call wrote. */
#include <stdlib.h>
#include <string.h>

/* allocation ranges, for the fake driver's cuMemGetAddressRange_v2 (hash mode tests) */
static void fake_track(void *p, size_t n);
static void fake_untrack(void *p);
static __thread cudaError_t fake_last_error; /* cudaGetLastError */

cudaError_t cudaMalloc(void **p, size_t n)
{
    if (!p) return cudaErrorInvalidValue;
    if (getenv("FAKE_CUDART_MALLOC_FAIL_FROM") && n >= strtoull(getenv("FAKE_CUDART_MALLOC_FAIL_FROM"), NULL, 10)) {
        fake_record("cudaMalloc size=%zu failed", n);
        return fake_last_error = cudaErrorMemoryAllocation;
    }
    *p = calloc(1, n ? n : 1);
    fake_track(*p, n ? n : 1);
    fake_record("cudaMalloc ptr=%p size=%zu", *p, n);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void *p)
{
    fake_record("cudaFree ptr=%p", p);
    fake_untrack(p);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    (void)kind;
    memmove(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    memset(p, v, n);
    return cudaSuccess;
}

struct CUstream_st { int id; };
static int next_stream = 1;

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    if (!s) return cudaErrorInvalidValue;
    *s = calloc(1, sizeof **s);
    (*s)->id = __atomic_fetch_add(&next_stream, 1, __ATOMIC_RELAXED);
    fake_record("cudaStreamCreate stream=%p id=%d", (void *)*s, (*s)->id);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    free(s);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

cudaError_t cudaGetDevice(int *d)
{
    if (!d) return cudaErrorInvalidValue;
    *d = 0;
    return cudaSuccess;
}

/* ---- kernels (for the kernels layer's tests) -------------------------------------------
 * A fake kernel is a host function registered under a device name with
 * __cudaRegisterFunction, as nvcc's registration code does. __cudaGetKernel hands out a
 * kernel handle for a stub; cudaFuncGetName names a stub or a handle; a launch records
 * "launch <name> via <entry> grid=X,Y,Z block=X,Y,Z" and runs nothing.
 * Built with -DFAKE_NO_FUNCGETNAME it has no cudaFuncGetName (a runtime before 12.3). */
#include <dlfcn.h>
#include <pthread.h>

#include <cuda.h>

struct CUkern_st {
    const void *stub;
    char *name;
};

#define FAKE_KERNELS 256
static struct CUkern_st fake_kernels[FAKE_KERNELS];
static int fake_nkernels;
static pthread_mutex_t fake_kmu = PTHREAD_MUTEX_INITIALIZER;

void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                            const char *deviceName, int thread_limit, uint3 *tid, uint3 *bid,
                            dim3 *bDim, dim3 *gDim, int *wSize);
void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                            const char *deviceName, int thread_limit, uint3 *tid, uint3 *bid,
                            dim3 *bDim, dim3 *gDim, int *wSize)
{
    (void)fatCubinHandle, (void)deviceName, (void)thread_limit, (void)tid, (void)bid, (void)bDim,
        (void)gDim, (void)wSize;
    pthread_mutex_lock(&fake_kmu);
    if (fake_nkernels < FAKE_KERNELS) {
        fake_kernels[fake_nkernels].stub = hostFun;
        fake_kernels[fake_nkernels].name = strdup(deviceFun);
        fake_nkernels++;
    }
    pthread_mutex_unlock(&fake_kmu);
    fake_record("__cudaRegisterFunction name=%s", deviceFun);
}

/* The kernel of a stub or of a handle, or NULL. */
static struct CUkern_st *fake_kernel_of(const void *p)
{
    struct CUkern_st *k = NULL;
    pthread_mutex_lock(&fake_kmu);
    for (int i = 0; i < fake_nkernels && !k; i++)
        if (fake_kernels[i].stub == p || (const void *)&fake_kernels[i] == p) k = &fake_kernels[i];
    pthread_mutex_unlock(&fake_kmu);
    return k;
}

cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun);
cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *hostFun)
{
    struct CUkern_st *k = fake_kernel_of(hostFun);
    if (!kernel || !k) return fake_last_error = cudaErrorInvalidDeviceFunction;
    *kernel = k;
    return cudaSuccess;
}

#ifndef FAKE_NO_FUNCGETNAME
cudaError_t cudaFuncGetName(const char **name, const void *func)
{
    if (!name) return fake_last_error = cudaErrorInvalidValue;
    struct CUkern_st *k = fake_kernel_of(func);
    if (!k) return fake_last_error = cudaErrorInvalidDeviceFunction;
    *name = k->name;
    return cudaSuccess;
}
#endif

/* hash mode tests: a kernel given a body runs it on the launch's arguments */
static __thread void **fake_cur_args;
static void fake_run_body(const struct CUkern_st *k, void **args);

static cudaError_t fake_launch(const void *func, dim3 g, dim3 b, size_t smem, cudaStream_t s,
                               const char *entry)
{
    struct CUkern_st *k = fake_kernel_of(func);
    if (!k) {
        fake_record("launch ? via %s", entry);
        return fake_last_error = cudaErrorInvalidDeviceFunction;
    }
    fake_record("launch %s via %s grid=%u,%u,%u block=%u,%u,%u smem=%zu stream=%p args=%p", k->name,
                entry, g.x, g.y, g.z, b.x, b.y, b.z, smem, (void *)s, (void *)fake_cur_args);
    fake_run_body(k, fake_cur_args);
    fake_cur_args = NULL;
    return cudaSuccess;
}

#define FAKE_RT_LAUNCH(name, ktype)                                                          \
    cudaError_t name(ktype func, dim3 g, dim3 b, void **args, size_t smem, cudaStream_t s); \
    cudaError_t name(ktype func, dim3 g, dim3 b, void **args, size_t smem, cudaStream_t s)  \
    {                                                                                        \
        fake_cur_args = args;                                                                \
        return fake_launch((const void *)func, g, b, smem, s, #name);                        \
    }
FAKE_RT_LAUNCH(__cudaLaunchKernel, cudaKernel_t)
FAKE_RT_LAUNCH(__cudaLaunchKernel_ptsz, cudaKernel_t)
FAKE_RT_LAUNCH(cudaLaunchKernel, const void *)
FAKE_RT_LAUNCH(cudaLaunchKernel_ptsz, const void *)
FAKE_RT_LAUNCH(cudaLaunchCooperativeKernel, const void *)
FAKE_RT_LAUNCH(cudaLaunchCooperativeKernel_ptsz, const void *)

cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t *c, const void *func, void **args)
{
    fake_cur_args = args;
    return fake_launch(func, c->gridDim, c->blockDim, c->dynamicSmemBytes, c->stream, "cudaLaunchKernelExC");
}

cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t *c, const void *func, void **args);
cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t *c, const void *func, void **args)
{
    fake_cur_args = args;
    return fake_launch(func, c->gridDim, c->blockDim, c->dynamicSmemBytes, c->stream,
                       "cudaLaunchKernelExC_ptsz");
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s)
{
    (void)s;
    fake_record("graphlaunch %p via cudaGraphLaunch", (void *)e);
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t e, cudaStream_t s);
cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t e, cudaStream_t s)
{
    (void)s;
    fake_record("graphlaunch %p via cudaGraphLaunch_ptsz", (void *)e);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = fake_last_error;
    fake_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return fake_last_error; }

/* Driver entry points: like the real runtime, ask libcuda's cuGetProcAddress_v2 through
 * a handle of our own (never through the global scope, so no preload hook sees it). */
typedef CUresult (*fake_gpa2_t)(const char *, void **, int, cuuint64_t,
                                CUdriverProcAddressQueryResult *);

static cudaError_t fake_entry(const char *symbol, void **fp, int ver, unsigned long long flags,
                              int ptsz_entry, enum cudaDriverEntryPointQueryResult *qr,
                              const char *entry)
{
    static fake_gpa2_t gpa;
    if (!gpa) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (h) gpa = (fake_gpa2_t)dlsym(h, "cuGetProcAddress_v2");
    }
    if (!gpa || !fp) return fake_last_error = cudaErrorInvalidValue;
    cuuint64_t f = 0;
    if (flags & cudaEnablePerThreadDefaultStream)
        f = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    else if (flags & cudaEnableLegacyStream)
        f = CU_GET_PROC_ADDRESS_LEGACY_STREAM;
    else if (ptsz_entry)
        f = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    CUdriverProcAddressQueryResult q = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    CUresult r = gpa(symbol, fp, ver, f, &q);
    if (qr) *qr = q == CU_GET_PROC_ADDRESS_SUCCESS ? cudaDriverEntryPointSuccess
                                                    : cudaDriverEntryPointSymbolNotFound;
    fake_record("%s symbol=%s flags=%llu ptr=%p", entry, symbol, flags, *fp);
    return r == CUDA_SUCCESS ? cudaSuccess : (fake_last_error = cudaErrorSymbolNotFound);
}

cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **fp, unsigned long long flags,
                                    enum cudaDriverEntryPointQueryResult *qr)
{
    return fake_entry(symbol, fp, 13000, flags, 0, qr, "cudaGetDriverEntryPoint");
}

cudaError_t cudaGetDriverEntryPoint_ptsz(const char *symbol, void **fp, unsigned long long flags,
                                         enum cudaDriverEntryPointQueryResult *qr);
cudaError_t cudaGetDriverEntryPoint_ptsz(const char *symbol, void **fp, unsigned long long flags,
                                         enum cudaDriverEntryPointQueryResult *qr)
{
    return fake_entry(symbol, fp, 13000, flags, 1, qr, "cudaGetDriverEntryPoint_ptsz");
}

cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **fp, unsigned int ver,
                                             unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult *qr)
{
    return fake_entry(symbol, fp, (int)ver, flags, 0, qr, "cudaGetDriverEntryPointByVersion");
}

cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char *symbol, void **fp, unsigned int ver,
                                                  unsigned long long flags,
                                                  enum cudaDriverEntryPointQueryResult *qr);
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char *symbol, void **fp, unsigned int ver,
                                                  unsigned long long flags,
                                                  enum cudaDriverEntryPointQueryResult *qr)
{
    return fake_entry(symbol, fp, (int)ver, flags, 1, qr, "cudaGetDriverEntryPointByVersion_ptsz");
}

/* ---- hash mode (tests/hash) ------------------------------------------------------------
 * Allocations are tracked so the fake driver can answer cuMemGetAddressRange_v2
 * (fake_cudart_addr_range); a kernel can be given a host body and a parameter layout
 * (fake_rt_kernel_define): a launch then runs the body on its arguments, and
 * cudaFuncGetParamInfo reports the layout (offsets packed in order, each aligned to its
 * size). A kernel without a layout has no cudaFuncGetParamInfo answer. */
#define FAKE_ALLOCS 4096
static struct { char *p; size_t n; } fake_allocs[FAKE_ALLOCS];
static pthread_mutex_t fake_amu = PTHREAD_MUTEX_INITIALIZER;

/* A real runtime is usable in a child forked while other threads launch: so must the fake
 * be. Without these, a child forked while another thread held fake_kmu (a launch looking up
 * its kernel) waited on it forever (kernels_threads' fork+exec part hung 1 run in ~100). */
static void fake_rt_prefork(void)
{
    pthread_mutex_lock(&fake_kmu);
    pthread_mutex_lock(&fake_amu);
}
static void fake_rt_postfork(void)
{
    pthread_mutex_unlock(&fake_amu);
    pthread_mutex_unlock(&fake_kmu);
}
__attribute__((constructor)) static void fake_rt_atfork(void)
{
    pthread_atfork(fake_rt_prefork, fake_rt_postfork, fake_rt_postfork);
}

static void fake_track(void *p, size_t n)
{
    pthread_mutex_lock(&fake_amu);
    for (int i = 0; i < FAKE_ALLOCS; i++)
        if (!fake_allocs[i].p) {
            fake_allocs[i].p = p;
            fake_allocs[i].n = n;
            break;
        }
    pthread_mutex_unlock(&fake_amu);
}

static void fake_untrack(void *p)
{
    pthread_mutex_lock(&fake_amu);
    for (int i = 0; i < FAKE_ALLOCS && p; i++)
        if (fake_allocs[i].p == p) fake_allocs[i].p = NULL;
    pthread_mutex_unlock(&fake_amu);
}

int fake_cudart_addr_range(const void *p, void **base, size_t *size);
int fake_cudart_addr_range(const void *p, void **base, size_t *size)
{
    int found = 0;
    pthread_mutex_lock(&fake_amu);
    for (int i = 0; i < FAKE_ALLOCS && !found; i++)
        if (fake_allocs[i].p && (const char *)p >= fake_allocs[i].p &&
            (const char *)p < fake_allocs[i].p + fake_allocs[i].n) {
            *base = fake_allocs[i].p;
            *size = fake_allocs[i].n;
            found = 1;
        }
    pthread_mutex_unlock(&fake_amu);
    return found;
}

#define FAKE_MAXP 32
static struct fake_body {
    void (*body)(void **args);
    int nparams;
    size_t off[FAKE_MAXP], size[FAKE_MAXP];
} fake_bodies[FAKE_KERNELS];

int fake_rt_kernel_define(const void *stub, void (*body)(void **), int nparams, const size_t *sizes);
int fake_rt_kernel_define(const void *stub, void (*body)(void **), int nparams, const size_t *sizes)
{
    struct CUkern_st *k = fake_kernel_of(stub);
    if (!k || nparams > FAKE_MAXP) return -1;
    struct fake_body *b = &fake_bodies[k - fake_kernels];
    size_t off = 0;
    for (int i = 0; i < nparams; i++) {
        off = (off + sizes[i] - 1) / sizes[i] * sizes[i];
        b->off[i] = off;
        b->size[i] = sizes[i];
        off += sizes[i];
    }
    b->nparams = nparams;
    b->body = body;
    return 0;
}

static void fake_run_body(const struct CUkern_st *k, void **args)
{
    const struct fake_body *b = &fake_bodies[k - fake_kernels];
    if (b->body) b->body(args);
}

cudaError_t cudaFuncGetParamInfo(const void *func, size_t i, size_t *off, size_t *size)
{
    struct CUkern_st *k = fake_kernel_of(func);
    if (!k || !fake_bodies[k - fake_kernels].body)
        return fake_last_error = cudaErrorInvalidDeviceFunction;
    const struct fake_body *b = &fake_bodies[k - fake_kernels];
    if (!off || !size || i >= (size_t)b->nparams) return fake_last_error = cudaErrorInvalidValue;
    *off = b->off[i];
    *size = b->size[i];
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                            cudaStream_t s)
{
    (void)kind, (void)s;
    memmove(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
    (void)s;
    memset(p, v, n);
    return cudaSuccess;
}

/* Per-thread default stream twins (nvcc --default-stream per-thread): the same copies and
 * memsets, each recorded as "<name> stream=<s>" so that tests see which entry point ran.
 * They do the work themselves: a call to the plain name would go through the shim's hook. */
cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    (void)kind;
    fake_record("cudaMemcpy_ptds stream=%p", NULL);
    memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                                 cudaStream_t s);
cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                                 cudaStream_t s)
{
    (void)kind;
    fake_record("cudaMemcpyAsync_ptsz stream=%p", (void *)s);
    memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemset_ptds(void *p, int v, size_t n);
cudaError_t cudaMemset_ptds(void *p, int v, size_t n)
{
    fake_record("cudaMemset_ptds stream=%p", NULL);
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync_ptsz(void *p, int v, size_t n, cudaStream_t s);
cudaError_t cudaMemsetAsync_ptsz(void *p, int v, size_t n, cudaStream_t s)
{
    fake_record("cudaMemsetAsync_ptsz stream=%p", (void *)s);
    memset(p, v, n);
    return cudaSuccess;
}

/* Pitched rectangles (2-D): height rows of width bytes, each recorded as
 * "<name> stream=<s> w=<width> h=<height>" so that tests see which entry point ran. */
static void fake_copy2d(void *dst, size_t dpitch, const void *src, size_t spitch, size_t w, size_t h)
{
    for (size_t r = 0; r < h; r++) memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, w);
}
static void fake_set2d(void *p, size_t pitch, int v, size_t w, size_t h)
{
    for (size_t r = 0; r < h; r++) memset((char *)p + r * pitch, v, w);
}
#define FAKE_COPY2D(name, params, s)                                                   \
    cudaError_t name params;                                                           \
    cudaError_t name params                                                            \
    {                                                                                  \
        (void)kind;                                                                    \
        fake_record(#name " stream=%p w=%zu h=%zu", (void *)(s), width, height);      \
        fake_copy2d(dst, dpitch, src, spitch, width, height);                          \
        return cudaSuccess;                                                            \
    }
#define FAKE_SET2D(name, params, s)                                                    \
    cudaError_t name params;                                                           \
    cudaError_t name params                                                            \
    {                                                                                  \
        fake_record(#name " stream=%p w=%zu h=%zu", (void *)(s), width, height);      \
        fake_set2d(p, pitch, v, width, height);                                        \
        return cudaSuccess;                                                            \
    }
#define COPY2D_P void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, \
    enum cudaMemcpyKind kind
FAKE_COPY2D(cudaMemcpy2D, (COPY2D_P), NULL)
FAKE_COPY2D(cudaMemcpy2DAsync, (COPY2D_P, cudaStream_t s), s)
FAKE_COPY2D(cudaMemcpy2D_ptds, (COPY2D_P), NULL)
FAKE_COPY2D(cudaMemcpy2DAsync_ptsz, (COPY2D_P, cudaStream_t s), s)
FAKE_SET2D(cudaMemset2D, (void *p, size_t pitch, int v, size_t width, size_t height), NULL)
FAKE_SET2D(cudaMemset2DAsync, (void *p, size_t pitch, int v, size_t width, size_t height, cudaStream_t s), s)
FAKE_SET2D(cudaMemset2D_ptds, (void *p, size_t pitch, int v, size_t width, size_t height), NULL)
FAKE_SET2D(cudaMemset2DAsync_ptsz, (void *p, size_t pitch, int v, size_t width, size_t height, cudaStream_t s), s)
