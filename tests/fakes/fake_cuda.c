/* A fake libcuda.so.1 (driver API), compiled from the real cuda.h. Device queries
 * answer as a pretend GPU once fake_cuInit-style context creation has happened. */
#include <string.h>

#include <cuda.h>

#include "fake_record.h"

static int ctx_current;

CUresult cuInit(unsigned int flags)
{
    fake_record("cuInit flags=%u", flags);
    ctx_current = 1;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *v)
{
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *dev)
{
    if (!ctx_current) return CUDA_ERROR_INVALID_CONTEXT;
    *dev = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    (void)dev;
    if (!name || len < 1) return CUDA_ERROR_INVALID_VALUE;
    strncpy(name, "Fake GPU H100-like", (size_t)len - 1);
    name[len - 1] = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute attr, CUdevice dev)
{
    (void)dev;
    switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
    default: *v = 0;
    }
    return CUDA_SUCCESS;
}

/* ---- kernels (for the kernels layer's tests) --------------------------------------------
 * cuModuleGetFunction hands out a CUfunction per name (any module); cuFuncGetName names
 * it; a launch records "launch <name> via <entry> grid=X,Y,Z block=X,Y,Z" and runs
 * nothing. cuGetProcAddress[_v2] returns internal functions (not the exported symbols, as
 * the real driver may), distinct ones for the per-thread-default-stream flag; for
 * "cuGetProcAddress" itself it returns the exported cuGetProcAddress_v2 (version >= 12000)
 * or cuGetProcAddress. Built with -DFAKE_NO_FUNCGETNAME it has no cuFuncGetName. */
#include <pthread.h>
#include <stdlib.h>

#undef cuGetProcAddress

struct CUfunc_st {
    char *name;
};

#define FAKE_FUNCS 256
static struct CUfunc_st fake_funcs[FAKE_FUNCS];
struct fake_mod;
static int fake_is_mod(const void *h);
static CUfunction fake_mod_get(struct fake_mod *m, const char *name);
static int fake_nfuncs;
static pthread_mutex_t fake_fmu = PTHREAD_MUTEX_INITIALIZER;
static void fake_drv_prefork(void) { pthread_mutex_lock(&fake_fmu); }
static void fake_drv_postfork(void) { pthread_mutex_unlock(&fake_fmu); }
/* usable in a child forked while another thread holds fake_fmu (as the real driver is) */
__attribute__((constructor)) static void fake_drv_atfork(void)
{
    pthread_atfork(fake_drv_prefork, fake_drv_postfork, fake_drv_postfork);
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    if (!hfunc || !name) return CUDA_ERROR_INVALID_VALUE;
    if (hmod && fake_is_mod(hmod)) {
        CUfunction f = fake_mod_get((struct fake_mod *)(void *)hmod, name);
        if (!f) return CUDA_ERROR_NOT_FOUND;
        *hfunc = f;
        return CUDA_SUCCESS;
    }
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&fake_fmu);
    int i;
    for (i = 0; i < fake_nfuncs; i++)
        if (!strcmp(fake_funcs[i].name, name)) break;
    if (i == fake_nfuncs) {
        if (i < FAKE_FUNCS)
            fake_funcs[fake_nfuncs++].name = strdup(name);
        else
            r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS) *hfunc = &fake_funcs[i];
    pthread_mutex_unlock(&fake_fmu);
    return r;
}

/* Modules of named functions (tests/layers/kernels: many kernels, unloads). cuModuleLoadData
 * takes an image "fake-module\n" followed by one kernel name a line; its functions live in
 * one array. cuModuleUnload frees the module and keeps the array for the next load that
 * fits (the most recently freed first): a kernel of the next module then has the address a
 * kernel of the unloaded one had, as a real driver's allocator may give it. cuLibrary* do
 * the same with a library (its kernels, CUkernel, may be launched as CUfunction). */
struct fake_mod {
    struct CUfunc_st *funcs;
    size_t n, cap;
    char *names; /* the image's text, split into names */
    int live;
    struct fake_mod *next;
};
static struct fake_mod *fake_mods;      /* every module ever made (live or not) */
static struct fake_mod *fake_free_mods; /* arrays to reuse: not live, funcs kept */

static const char *fake_func_name(CUfunction f)
{
    for (int i = 0; i < FAKE_FUNCS; i++)
        if (f == &fake_funcs[i]) return f->name;
    for (struct fake_mod *m = fake_mods; m; m = m->next)
        if (m->live && f >= m->funcs && f < m->funcs + m->n) return f->name;
    return NULL;
}

static struct fake_mod *fake_mod_load(const char *image)
{
    const char *body = image + strlen("fake-module\n");
    size_t n = 0;
    for (const char *c = body; *c; c++) n += *c == '\n';
    if (*body && body[strlen(body) - 1] != '\n') n++;
    pthread_mutex_lock(&fake_fmu);
    struct fake_mod *m = NULL, **pp;
    for (pp = &fake_free_mods; *pp; pp = &(*pp)->next)
        if ((*pp)->cap >= n) break;
    if (*pp) {
        m = *pp;
        *pp = m->next;
    } else {
        m = calloc(1, sizeof *m);
        if (m) m->funcs = calloc(n ? n : 1, sizeof *m->funcs), m->cap = n;
        if (m && !m->funcs) free(m), m = NULL;
    }
    if (m) {
        m->names = strdup(body);
        m->n = 0;
        for (char *save = NULL, *t = strtok_r(m->names, "\n", &save); t && m->n < m->cap;
             t = strtok_r(NULL, "\n", &save))
            m->funcs[m->n++].name = t;
        m->live = 1;
        m->next = fake_mods;
        fake_mods = m;
    }
    pthread_mutex_unlock(&fake_fmu);
    return m;
}

static CUresult fake_mod_unload(struct fake_mod *m)
{
    pthread_mutex_lock(&fake_fmu);
    struct fake_mod **pp;
    for (pp = &fake_mods; *pp && *pp != m; pp = &(*pp)->next) {}
    if (!*pp || !m->live) {
        pthread_mutex_unlock(&fake_fmu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *pp = m->next;
    m->live = 0;
    free(m->names);
    m->names = NULL;
    m->next = fake_free_mods;
    fake_free_mods = m;
    pthread_mutex_unlock(&fake_fmu);
    return CUDA_SUCCESS;
}

static CUfunction fake_mod_get(struct fake_mod *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->funcs[i].name, name)) return &m->funcs[i];
    return NULL;
}

static int fake_is_mod(const void *h)
{
    for (struct fake_mod *m = fake_mods; m; m = m->next)
        if ((const void *)m == h) return m->live;
    return 0;
}

CUresult cuModuleUnload(CUmodule hmod)
{
    fake_record("cuModuleUnload");
    return fake_mod_unload((struct fake_mod *)(void *)hmod);
}

CUresult cuLibraryLoadData(CUlibrary *lib, const void *code, CUjit_option *jo, void **jv,
                           unsigned int njo, CUlibraryOption *lo, void **lv, unsigned int nlo)
{
    (void)jo, (void)jv, (void)njo, (void)lo, (void)lv, (void)nlo;
    if (!lib || !code || strncmp(code, "fake-module\n", 12) != 0) return CUDA_ERROR_INVALID_IMAGE;
    struct fake_mod *m = fake_mod_load(code);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    *lib = (CUlibrary)(void *)m;
    return CUDA_SUCCESS;
}

CUresult cuLibraryGetKernel(CUkernel *k, CUlibrary lib, const char *name)
{
    if (!k || !name || !fake_is_mod(lib)) return CUDA_ERROR_INVALID_HANDLE;
    CUfunction f = fake_mod_get((struct fake_mod *)(void *)lib, name);
    if (!f) return CUDA_ERROR_NOT_FOUND;
    *k = (CUkernel)(void *)f;
    return CUDA_SUCCESS;
}

CUresult cuLibraryUnload(CUlibrary lib)
{
    fake_record("cuLibraryUnload");
    return fake_mod_unload((struct fake_mod *)(void *)lib);
}

#ifndef FAKE_NO_FUNCGETNAME
CUresult cuFuncGetName(const char **name, CUfunction f)
{
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    const char *n = fake_func_name(f);
    if (!n) return CUDA_ERROR_INVALID_HANDLE;
    *name = n;
    return CUDA_SUCCESS;
}
#endif

/* hash mode tests: a function given a body runs it on the launch's parameters */
static __thread void **fake_cur_params, **fake_cur_extra;
static void fake_drv_run_body(CUfunction f, void **params, void **extra);

static __thread unsigned fake_cur_smem;
static __thread CUstream fake_cur_stream;
static CUresult fake_drv_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                unsigned by, unsigned bz, const char *entry)
{
    const char *n = fake_func_name(f);
    if (!n) {
        fake_record("launch ? via %s", entry);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    fake_record("launch %s via %s grid=%u,%u,%u block=%u,%u,%u smem=%u stream=%p args=%p", n, entry, gx, gy,
                gz, bx, by, bz, fake_cur_smem, (void *)fake_cur_stream, (void *)fake_cur_params);
    fake_drv_run_body(f, fake_cur_params, fake_cur_extra);
    fake_cur_params = fake_cur_extra = NULL;
    return CUDA_SUCCESS;
}

/* The implementations (what cuGetProcAddress hands out) and the exported names. */
#define FAKE_LAUNCH(name)                                                                    \
    static CUresult impl_##name(CUfunction f, unsigned gx, unsigned gy, unsigned gz,         \
                                unsigned bx, unsigned by, unsigned bz, unsigned smem,        \
                                CUstream s, void **p, void **e)                              \
    {                                                                                        \
        fake_cur_smem = smem, fake_cur_stream = s;                                           \
        fake_cur_params = p, fake_cur_extra = e;                                             \
        return fake_drv_launch(f, gx, gy, gz, bx, by, bz, #name);                            \
    }                                                                                        \
    CUresult name(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,          \
                  unsigned by, unsigned bz, unsigned smem, CUstream s, void **p, void **e);  \
    CUresult name(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,          \
                  unsigned by, unsigned bz, unsigned smem, CUstream s, void **p, void **e)   \
    {                                                                                        \
        return impl_##name(f, gx, gy, gz, bx, by, bz, smem, s, p, e);                        \
    }
FAKE_LAUNCH(cuLaunchKernel)
FAKE_LAUNCH(cuLaunchKernel_ptsz)

#define FAKE_LAUNCH_COOP(name)                                                               \
    static CUresult impl_##name(CUfunction f, unsigned gx, unsigned gy, unsigned gz,         \
                                unsigned bx, unsigned by, unsigned bz, unsigned smem,        \
                                CUstream s, void **p)                                        \
    {                                                                                        \
        fake_cur_smem = smem, fake_cur_stream = s;                                           \
        fake_cur_params = p;                                                                 \
        return fake_drv_launch(f, gx, gy, gz, bx, by, bz, #name);                            \
    }                                                                                        \
    CUresult name(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,          \
                  unsigned by, unsigned bz, unsigned smem, CUstream s, void **p);            \
    CUresult name(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,          \
                  unsigned by, unsigned bz, unsigned smem, CUstream s, void **p)             \
    {                                                                                        \
        return impl_##name(f, gx, gy, gz, bx, by, bz, smem, s, p);                           \
    }
FAKE_LAUNCH_COOP(cuLaunchCooperativeKernel)
FAKE_LAUNCH_COOP(cuLaunchCooperativeKernel_ptsz)

/* every kernel of the list, recorded as a launch each (entry: the function's name) */
static CUresult impl_cuLaunchCooperativeKernelMultiDevice(CUDA_LAUNCH_PARAMS *l, unsigned n,
                                                          unsigned flags)
{
    (void)flags;
    if (!l) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < n; i++) {
        fake_cur_smem = l[i].sharedMemBytes, fake_cur_stream = l[i].hStream;
        fake_cur_params = l[i].kernelParams;
        CUresult r = fake_drv_launch(l[i].function, l[i].gridDimX, l[i].gridDimY, l[i].gridDimZ,
                                     l[i].blockDimX, l[i].blockDimY, l[i].blockDimZ,
                                     "cuLaunchCooperativeKernelMultiDevice");
        if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
}
CUresult cuLaunchCooperativeKernelMultiDevice(CUDA_LAUNCH_PARAMS *l, unsigned n, unsigned flags)
{
    return impl_cuLaunchCooperativeKernelMultiDevice(l, n, flags);
}
static CUresult impl_cuModuleUnload(CUmodule m) { return cuModuleUnload(m); }
static CUresult impl_cuLibraryUnload(CUlibrary l) { return cuLibraryUnload(l); }

#define FAKE_LAUNCH_EX(name)                                                                 \
    static CUresult impl_##name(const CUlaunchConfig *c, CUfunction f, void **p, void **e)  \
    {                                                                                        \
        if (!c) return CUDA_ERROR_INVALID_VALUE;                                             \
        fake_cur_params = p, fake_cur_extra = e;                                             \
        fake_cur_smem = c->sharedMemBytes, fake_cur_stream = c->hStream;                     \
        return fake_drv_launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX,       \
                               c->blockDimY, c->blockDimZ, #name);                           \
    }                                                                                        \
    CUresult name(const CUlaunchConfig *c, CUfunction f, void **p, void **e);                \
    CUresult name(const CUlaunchConfig *c, CUfunction f, void **p, void **e)                 \
    {                                                                                        \
        return impl_##name(c, f, p, e);                                                      \
    }
FAKE_LAUNCH_EX(cuLaunchKernelEx)
FAKE_LAUNCH_EX(cuLaunchKernelEx_ptsz)

#define FAKE_GRAPH(name)                                                                     \
    static CUresult impl_##name(CUgraphExec g, CUstream s)                                   \
    {                                                                                        \
        (void)s;                                                                             \
        fake_record("graphlaunch %p via %s", (void *)g, #name);                              \
        return CUDA_SUCCESS;                                                                 \
    }                                                                                        \
    CUresult name(CUgraphExec g, CUstream s);                                                \
    CUresult name(CUgraphExec g, CUstream s) { return impl_##name(g, s); }
FAKE_GRAPH(cuGraphLaunch)
FAKE_GRAPH(cuGraphLaunch_ptsz)

CUresult cuGetProcAddress(const char *symbol, void **pfn, int ver, cuuint64_t flags);
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *st);
/* this library's own definitions, whatever a preloaded object interposes */
extern __typeof__(cuGetProcAddress) fake_gpa1_self __attribute__((alias("cuGetProcAddress"),
                                                                  visibility("hidden")));
extern __typeof__(cuGetProcAddress_v2) fake_gpa2_self __attribute__((alias("cuGetProcAddress_v2"),
                                                                     visibility("hidden")));
extern __typeof__(cuDriverGetVersion) fake_dgv_self __attribute__((alias("cuDriverGetVersion"),
                                                                   visibility("hidden")));

static void *fake_lookup(const char *symbol, int ver, cuuint64_t flags)
{
    int pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    if (!strcmp(symbol, "cuLaunchKernel"))
        return pt ? (void *)impl_cuLaunchKernel_ptsz : (void *)impl_cuLaunchKernel;
    if (!strcmp(symbol, "cuLaunchKernelEx"))
        return pt ? (void *)impl_cuLaunchKernelEx_ptsz : (void *)impl_cuLaunchKernelEx;
    if (!strcmp(symbol, "cuLaunchCooperativeKernel"))
        return pt ? (void *)impl_cuLaunchCooperativeKernel_ptsz
                  : (void *)impl_cuLaunchCooperativeKernel;
    if (!strcmp(symbol, "cuGraphLaunch"))
        return pt ? (void *)impl_cuGraphLaunch_ptsz : (void *)impl_cuGraphLaunch;
    if (!strcmp(symbol, "cuGetProcAddress"))
        return ver >= 12000 ? (void *)fake_gpa2_self : (void *)fake_gpa1_self;
    if (!strcmp(symbol, "cuDriverGetVersion")) return (void *)fake_dgv_self;
    if (!strcmp(symbol, "cuLaunchCooperativeKernelMultiDevice"))
        return (void *)impl_cuLaunchCooperativeKernelMultiDevice;
    if (!strcmp(symbol, "cuModuleUnload")) return (void *)impl_cuModuleUnload;
    if (!strcmp(symbol, "cuLibraryUnload")) return (void *)impl_cuLibraryUnload;
    return NULL;
}

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int ver, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *st)
{
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    *pfn = fake_lookup(symbol, ver, flags);
    if (st) *st = *pfn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    fake_record("cuGetProcAddress_v2 symbol=%s version=%d flags=%llu ptr=%p", symbol, ver,
                (unsigned long long)flags, *pfn);
    return *pfn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int ver, cuuint64_t flags)
{
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    *pfn = fake_lookup(symbol, ver, flags);
    fake_record("cuGetProcAddress symbol=%s version=%d flags=%llu ptr=%p", symbol, ver,
                (unsigned long long)flags, *pfn);
    return *pfn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/* ---- hash mode (tests/hash) ------------------------------------------------------------
 * Memory is host memory: copies are memmove, memsets memset, streams finish at once.
 * cuMemGetAddressRange_v2 answers from the fake runtime's allocation table
 * (fake_cudart_addr_range, found in the global scope). A function can be given a host
 * body and a parameter layout (fake_drv_kernel_define, by name): a launch then runs the
 * body on its kernelParams, or on pointers into its packed `extra` buffer. */
#include <dlfcn.h>

typedef int (*fake_range_fn)(const void *, void **, size_t *);

CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr p);
CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr p)
{
    static fake_range_fn rf;
    if (!rf) rf = (fake_range_fn)dlsym(RTLD_DEFAULT, "fake_cudart_addr_range");
    void *b = NULL;
    size_t n = 0;
    if (!rf || !rf((const void *)(uintptr_t)p, &b, &n)) return CUDA_ERROR_NOT_FOUND;
    if (base) *base = (CUdeviceptr)(uintptr_t)b;
    if (size) *size = n;
    return CUDA_SUCCESS;
}

#define DP(x) ((void *)(uintptr_t)(x))
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n);
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) { memmove(dst, DP(src), n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s);
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    fake_record("cuMemcpyDtoHAsync_v2 bytes=%zu", n);
    memmove(dst, DP(src), n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n);
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) { memmove(DP(dst), src, n); return CUDA_SUCCESS; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s);
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    (void)s;
    memmove(DP(dst), src, n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n);
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) { memmove(DP(dst), DP(src), n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    memmove(DP(dst), DP(src), n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) { memmove(DP(dst), DP(src), n); return CUDA_SUCCESS; }
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    memmove(DP(dst), DP(src), n);
    return CUDA_SUCCESS;
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n);
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) { memset(DP(dst), v, n); return CUDA_SUCCESS; }
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
    (void)s;
    memset(DP(dst), v, n);
    return CUDA_SUCCESS;
}
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t n);
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t n)
{
    unsigned int *p = DP(dst);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return CUDA_SUCCESS;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s)
{
    (void)s;
    return cuMemsetD32_v2(dst, v, n);
}
/* Per-thread default stream twins (cuda.h with CUDA_API_PER_THREAD_DEFAULT_STREAM): the
 * same copies and memsets, each recorded as "<name> stream=<s>" (tests/hash). They do the
 * work themselves: a call to the plain name would go through the preloaded shim's hook. */
static void fake_set32(CUdeviceptr dst, unsigned int v, size_t n)
{
    unsigned int *p = DP(dst);
    for (size_t i = 0; i < n; i++) p[i] = v;
}
#define FAKE_PT(name, params, s, body)                    \
    CUresult name params;                                 \
    CUresult name params                                  \
    {                                                     \
        fake_record(#name " stream=%p", (void *)(s));     \
        body;                                             \
        return CUDA_SUCCESS;                              \
    }
FAKE_PT(cuMemcpy_ptds, (CUdeviceptr dst, CUdeviceptr src, size_t n), NULL,
        memmove(DP(dst), DP(src), n))
FAKE_PT(cuMemcpyAsync_ptsz, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), s,
        memmove(DP(dst), DP(src), n))
FAKE_PT(cuMemcpyHtoD_v2_ptds, (CUdeviceptr dst, const void *src, size_t n), NULL,
        memmove(DP(dst), src, n))
FAKE_PT(cuMemcpyHtoDAsync_v2_ptsz, (CUdeviceptr dst, const void *src, size_t n, CUstream s), s,
        memmove(DP(dst), src, n))
FAKE_PT(cuMemcpyDtoD_v2_ptds, (CUdeviceptr dst, CUdeviceptr src, size_t n), NULL,
        memmove(DP(dst), DP(src), n))
FAKE_PT(cuMemcpyDtoDAsync_v2_ptsz, (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), s,
        memmove(DP(dst), DP(src), n))
FAKE_PT(cuMemsetD8_v2_ptds, (CUdeviceptr dst, unsigned char v, size_t n), NULL, memset(DP(dst), v, n))
/* the 16-bit memsets, the plain ones too, are recorded the same way (tests/hash/t_2d.sh) */
static void fake_set16(CUdeviceptr dst, unsigned short v, size_t n)
{
    unsigned short *p = DP(dst);
    for (size_t i = 0; i < n; i++) p[i] = v;
}
FAKE_PT(cuMemsetD16_v2, (CUdeviceptr dst, unsigned short v, size_t n), NULL, fake_set16(dst, v, n))
FAKE_PT(cuMemsetD16Async, (CUdeviceptr dst, unsigned short v, size_t n, CUstream s), s,
        fake_set16(dst, v, n))
FAKE_PT(cuMemsetD16_v2_ptds, (CUdeviceptr dst, unsigned short v, size_t n), NULL, fake_set16(dst, v, n))
FAKE_PT(cuMemsetD16Async_ptsz, (CUdeviceptr dst, unsigned short v, size_t n, CUstream s), s,
        fake_set16(dst, v, n))
FAKE_PT(cuMemsetD32_v2_ptds, (CUdeviceptr dst, unsigned int v, size_t n), NULL, fake_set32(dst, v, n))
FAKE_PT(cuMemsetD8Async_ptsz, (CUdeviceptr dst, unsigned char v, size_t n, CUstream s), s,
        memset(DP(dst), v, n))
FAKE_PT(cuMemsetD32Async_ptsz, (CUdeviceptr dst, unsigned int v, size_t n, CUstream s), s,
        fake_set32(dst, v, n))
CUresult cuStreamSynchronize(CUstream s)
{
    (void)s;
    return CUDA_SUCCESS;
}
/* $FAKE_CAPTURING=1: every stream is being captured into a graph */
CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *st)
{
    (void)s;
    const char *v = getenv("FAKE_CAPTURING");
    if (!st) return CUDA_ERROR_INVALID_VALUE;
    *st = v && *v == '1' ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
}

#define FAKE_MAXP 32
static struct fake_dbody {
    void (*body)(void **args);
    int nparams;
    size_t off[FAKE_MAXP], size[FAKE_MAXP];
} fake_dbodies[FAKE_FUNCS];

int fake_drv_kernel_define(const char *name, void (*body)(void **), int nparams, const size_t *sizes);
int fake_drv_kernel_define(const char *name, void (*body)(void **), int nparams, const size_t *sizes)
{
    CUfunction f;
    if (nparams > FAKE_MAXP || cuModuleGetFunction(&f, NULL, name) != CUDA_SUCCESS) return -1;
    struct fake_dbody *b = &fake_dbodies[f - fake_funcs];
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

static void fake_drv_run_body(CUfunction f, void **params, void **extra)
{
    if (f < fake_funcs || f >= fake_funcs + FAKE_FUNCS) return;
    const struct fake_dbody *b = &fake_dbodies[f - fake_funcs];
    if (!b->body) return;
    if (params || !extra) {
        b->body(params);
        return;
    }
    char *buf = NULL;
    for (void **e = extra; *e != CU_LAUNCH_PARAM_END; e += 2)
        if (*e == CU_LAUNCH_PARAM_BUFFER_POINTER) buf = e[1];
    void *args[FAKE_MAXP];
    for (int i = 0; i < b->nparams && buf; i++) args[i] = buf + b->off[i];
    if (buf) b->body(args);
}

CUresult cuFuncGetParamInfo(CUfunction f, size_t i, size_t *off, size_t *size)
{
    if (f < fake_funcs || f >= fake_funcs + FAKE_FUNCS || !fake_dbodies[f - fake_funcs].body)
        return CUDA_ERROR_INVALID_HANDLE;
    const struct fake_dbody *b = &fake_dbodies[f - fake_funcs];
    if (!off || !size || i >= (size_t)b->nparams) return CUDA_ERROR_INVALID_VALUE;
    *off = b->off[i];
    *size = b->size[i];
    return CUDA_SUCCESS;
}

/* ---- hash mode's digest kernel (tests/hash) ----------------------------------------------
 * One context, current on every thread. cuModuleLoadData accepts a PTX image with the entry
 * `detshim_digest` (recorded: "cuModuleLoadData entry=detshim_digest bytes=N"), or refuses it
 * with CUDA_ERROR_NO_BINARY_FOR_GPU under $FAKE_NO_MODULE=1, as a driver that cannot JIT the
 * PTX does (recorded too). The kernel's launch runs a host imitation of it: the fake imitates
 * the device (digest.h's sum over the range, added into the slot); the tests check the
 * plumbing around it. cuMemAlloc_v2 records its size. */
#include "../../shim/hash/digest.h"

struct CUctx_st {
    int id;
};
struct CUmod_st {
    int id;
};
static struct CUctx_st fake_ctx = {1};
static struct CUmod_st fake_digest_module = {1};

CUresult cuCtxGetCurrent(CUcontext *c)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    *c = &fake_ctx;
    return CUDA_SUCCESS;
}

static void fake_digest_body(void **a)
{
    const unsigned char *p = (const unsigned char *)(uintptr_t)*(const CUdeviceptr *)a[0];
    unsigned long long n = *(const unsigned long long *)a[1];
    unsigned long long *slot = (unsigned long long *)(uintptr_t)*(const CUdeviceptr *)a[2];
    int whole_loads = ((uintptr_t)p & 7) == 0; /* as the kernel reads it */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < (n + 7) / 8; i++) sum += ds_digest_term(ds_digest_word(p, n, i, whole_loads), i);
    *slot += sum;
}

CUresult cuModuleLoadData(CUmodule *m, const void *image)
{
    const char *no = getenv("FAKE_NO_MODULE");
    if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
    if (strncmp(image, "fake-module\n", 12) == 0) {
        struct fake_mod *fm = fake_mod_load(image);
        if (!fm) return CUDA_ERROR_OUT_OF_MEMORY;
        *m = (CUmodule)(void *)fm;
        return CUDA_SUCCESS;
    }
    if (no && *no == '1') {
        fake_record("cuModuleLoadData refused (FAKE_NO_MODULE=1)");
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    if (!strstr(image, ".entry detshim_digest")) return CUDA_ERROR_INVALID_IMAGE;
    static const size_t sizes[] = {8, 8, 8};
    if (fake_drv_kernel_define("detshim_digest", fake_digest_body, 3, sizes) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    fake_record("cuModuleLoadData entry=detshim_digest bytes=%zu", strlen(image));
    *m = &fake_digest_module;
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n);
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    void *m = calloc(1, n ? n : 1);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    *p = (CUdeviceptr)(uintptr_t)m;
    fake_record("cuMemAlloc_v2 bytes=%zu", n);
    return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr p);
CUresult cuMemFree_v2(CUdeviceptr p)
{
    free(DP(p));
    return CUDA_SUCCESS;
}
