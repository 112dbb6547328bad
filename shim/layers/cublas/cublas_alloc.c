/* cublas_alloc.c: the cuBLAS layer's settings (DETSHIM_PEDANTIC_MATH,
 * DETSHIM_CUBLAS_WORKSPACE_SIZE) and the device memory of the workspaces the shim owns:
 * the real cudaMalloc (cuMemAlloc_v2 when libcudart is not loaded), on the handle's device,
 * legal during stream capture, never leaving an error of ours for the program to find. */
#include <strings.h>

#include "cublas_layer.h"

/* ---- settings ----------------------------------------------------------------------- */
#define WS_SIZE_DEFAULT ((size_t)32 << 20)
#define WS_SIZE_MAX ((size_t)16 << 30)

struct cb_cfg cb_cfg = {false, WS_SIZE_DEFAULT};
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

/* "33554432", "32M", "32MiB", "4096K", "1G" (binary units, case-insensitive). */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        end++;
        if (*end && strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0) return -1;
    }
    if (v > (WS_SIZE_MAX >> shift)) return -1;
    *out = (size_t)v << shift;
    return 0;
}

static void cfg_read(void)
{
    const char *v = secure_getenv("DETSHIM_PEDANTIC_MATH");
    if (v && *v && ds_parse_bool(v, &cb_cfg.pedantic) != 0) {
        cb_cfg.pedantic = false;
        ds_notice("cublas", true,
                  "DETSHIM_PEDANTIC_MATH='%.200s' is not valid; accepted values: 0, 1, yes, no, "
                  "true, false, on, off; using 0 (math modes are recorded, not changed)", v);
    }
    v = secure_getenv("DETSHIM_CUBLAS_WORKSPACE_SIZE");
    if (v && *v && parse_size(v, &cb_cfg.ws_size) != 0) {
        cb_cfg.ws_size = WS_SIZE_DEFAULT;
        ds_notice("cublas", true,
                  "DETSHIM_CUBLAS_WORKSPACE_SIZE='%.200s' is not valid; accepted values: a size in "
                  "bytes up to 16G, with an optional K, M or G suffix (KiB, MiB, GiB), 0 to install "
                  "no workspaces; using 32M", v);
    }
    if (cb_cfg.pedantic && !ds_enforcing())
        ds_notice("cublas", false,
                  "DETSHIM_PEDANTIC_MATH=1 changes nothing in %s mode: math modes are only recorded",
                  ds_mode_name(ds_cfg.mode));
}

static void rt_resolve_all(void);
static void layer_init(void)
{
    cfg_read();
    rt_resolve_all();
}

void cb_cfg_get(void) { pthread_once(&cfg_once, layer_init); }

/* ---- the CUDA runtime (or driver) for the shim's own workspaces ---------------------- */
static struct {
    cudaError_t (*malloc)(void **, size_t);
    cudaError_t (*free)(void *);
    cudaError_t (*get_device)(int *);
    cudaError_t (*set_device)(int);
    cudaError_t (*get_last_error)(void);
    cudaError_t (*peek_last_error)(void);
    cudaError_t (*exchange_capture)(enum cudaStreamCaptureMode *);
    CUresult (*cu_alloc)(CUdeviceptr *, size_t);
    CUresult (*cu_free)(CUdeviceptr);
    bool said_missing, said_failed;
} rt;

#define RESOLVE(field, name, lib) \
    if (!rt.field) *(void **)&rt.field = ds_resolve_symbol(name, lib, NULL)

/* Once, on the first hooked call (so that no thread of the program is inside cuBLAS
 * yet): every runtime function the layer may use. */
static void rt_resolve_all(void)
{
    RESOLVE(malloc, "cudaMalloc", DS_LIB_CUDART);
    RESOLVE(free, "cudaFree", DS_LIB_CUDART);
    RESOLVE(get_device, "cudaGetDevice", DS_LIB_CUDART);
    RESOLVE(set_device, "cudaSetDevice", DS_LIB_CUDART);
    RESOLVE(get_last_error, "cudaGetLastError", DS_LIB_CUDART);
    RESOLVE(peek_last_error, "cudaPeekAtLastError", DS_LIB_CUDART);
    RESOLVE(exchange_capture, "cudaThreadExchangeStreamCaptureMode", DS_LIB_CUDART);
    if (!rt.malloc || !rt.free) {
        RESOLVE(cu_alloc, "cuMemAlloc_v2", DS_LIB_CUDA);
        RESOLVE(cu_free, "cuMemFree_v2", DS_LIB_CUDA);
    }
}

/* Under `slow`, when no allocator was found: libcudart may have been loaded since. The
 * allocator found first stays (what it allocated, it frees). */
static void rt_retry(void)
{
    if ((rt.malloc && rt.free) || (rt.cu_alloc && rt.cu_free)) return;
    rt_resolve_all();
}

/* The runtime keeps one "last error" per thread. Before a runtime call of ours: is one of
 * the program's pending? (peeked, never cleared) */
static cudaError_t pending(void)
{
    return rt.peek_last_error ? rt.peek_last_error() : cudaSuccess;
}
/* After a failed runtime call of ours: clear the error it left, unless the program had one
 * pending before (then the program's next cudaGetLastError still reports an error, and the
 * one it had is not wiped by us). */
static void drop_ours(cudaError_t before)
{
    if (before == cudaSuccess && rt.get_last_error) rt.get_last_error();
}

/* Make `device` current (the handle's, for its workspaces); true when it was another one,
 * then in *prev, to go back to. */
static bool to_device(int device, int *prev)
{
    return device >= 0 && rt.get_device && rt.set_device && rt.get_device(prev) == cudaSuccess &&
           *prev != device && rt.set_device(device) == cudaSuccess;
}

void *cb_dev_alloc(int device, size_t n, bool *retry)
{
    *retry = false;
    rt_retry();
    if (rt.malloc && rt.free) {
        cudaError_t before = pending();
        /* the program has an error pending: a failure of ours would replace it, so not now
         * (the next routine on this stream tries again) */
        if (before != cudaSuccess) {
            *retry = true;
            return NULL;
        }
        int cur = -1;
        bool moved = to_device(device, &cur);
        /* legal while the thread's stream is being captured into a CUDA graph */
        enum cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
        bool exchanged = rt.exchange_capture && rt.exchange_capture(&mode) == cudaSuccess;
        void *p = NULL;
        cudaError_t e = rt.malloc(&p, n);
        if (exchanged) rt.exchange_capture(&mode);
        if (moved) rt.set_device(cur);
        if (e == cudaSuccess && p) return p;
        /* the program must not find our failure as its "last error" */
        drop_ours(before);
        if (!rt.said_failed) {
            rt.said_failed = true;
            ds_notice("cublas", true,
                      "cudaMalloc(%zu) for a per-stream cuBLAS workspace failed (error %d): that "
                      "stream keeps cuBLAS's default workspace (lower DETSHIM_CUBLAS_WORKSPACE_SIZE "
                      "to use less memory)", n, (int)e);
        }
        return NULL;
    }
    if (rt.cu_alloc && rt.cu_free) {
        CUdeviceptr d = 0;
        if (rt.cu_alloc(&d, n) == CUDA_SUCCESS && d) return (void *)(uintptr_t)d;
        if (!rt.said_failed) {
            rt.said_failed = true;
            ds_notice("cublas", true,
                      "cuMemAlloc_v2(%zu) for a per-stream cuBLAS workspace failed: that stream "
                      "keeps cuBLAS's default workspace", n);
        }
        return NULL;
    }
    if (!rt.said_missing) {
        rt.said_missing = true;
        ds_notice("cublas", true,
                  "neither cudaMalloc (libcudart) nor cuMemAlloc_v2 (libcuda) is loaded: streams "
                  "keep cuBLAS's default workspace, made deterministic only by "
                  "CUBLAS_WORKSPACE_CONFIG");
    }
    return NULL;
}

int cb_current_device(void)
{
    int device = -1;
    cudaError_t before = pending();
    if (rt.get_device && rt.get_device(&device) != cudaSuccess) {
        device = -1;
        drop_ours(before);
    }
    return device;
}

void cb_dev_free(int device, void *p)
{
    if (rt.malloc && rt.free) {
        cudaError_t before = pending();
        int cur = -1;
        bool moved = to_device(device, &cur);
        if (rt.free(p) != cudaSuccess) drop_ours(before);
        if (moved) rt.set_device(cur);
    } else if (rt.cu_free)
        rt.cu_free((CUdeviceptr)(uintptr_t)p);
}
