/* layer_cublas.c: cuBLAS (legacy API): workspaces per stream, atomics, math mode.
 *
 * cuBLAS is bitwise reproducible run to run only while each stream that runs its
 * routines has a workspace of its own (or CUBLAS_WORKSPACE_CONFIG is :4096:8 or :16:8),
 * and while the atomics implementations of symv/hemv are not allowed. The shim:
 *
 *  - tracks every handle (created through cublasCreate_v2) with its current stream and
 *    the workspace in force: cuBLAS's default pool, none, or a buffer;
 *  - enforce/strict: after each cublasSetStream_v2 (which resets the handle to the
 *    default pool) installs a workspace the shim owns for that (handle, stream) pair,
 *    allocated once with the real cudaMalloc (cuMemAlloc_v2 when libcudart is not
 *    loaded), DETSHIM_CUBLAS_WORKSPACE_SIZE bytes (32 MiB by default, NVIDIA's size for
 *    Hopper); a buffer the program sets on a second stream is replaced by the pair's own;
 *  - forces cublasSetAtomicsMode(ALLOWED) to NOT_ALLOWED (enforce and strict: it is
 *    always fixable), and, with DETSHIM_PEDANTIC_MATH=1, every math mode (and every new
 *    handle) to CUBLAS_PEDANTIC_MATH; reduced-precision math modes are recorded;
 *  - checks at each gemm-family routine whether the handle is running on a workspace
 *    another stream also uses, and at symv/hemv whether atomics are allowed; these
 *    checks change nothing (log: observed; enforce: observed when the fix above could
 *    not be applied; strict: the call is refused).
 *
 * Why the gemm family and not every routine: the policy itself lives in SetStream and
 * SetWorkspace and so covers every routine; the routine hooks only serve the check, and
 * the gemm family is where PyTorch, DeePMD-kit and most programs spend cuBLAS time and
 * where cuBLAS uses its workspace. symv/hemv are the routines NVIDIA names as having an
 * atomics implementation.
 *
 * Hot paths (SetStream, SetWorkspace, SetMathMode and the routines, which PyTorch calls
 * for every matmul) take no lock and allocate nothing once a (handle, stream) pair has
 * been seen: tables are fixed-size, read with atomic loads; the first sight of a pair
 * takes one mutex and allocates its workspace once. Events that a hot path would
 * repeat are logged once per handle (or pair) so that the stack is not unwound on every
 * call; the per-symbol call counts stay exact. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fast.h"
#include "hash.h"

/* ---- settings ----------------------------------------------------------------------- */
#define WS_SIZE_DEFAULT ((size_t)32 << 20)
#define WS_SIZE_MAX ((size_t)16 << 30)

static struct {
    bool pedantic;  /* DETSHIM_PEDANTIC_MATH */
    size_t ws_size; /* DETSHIM_CUBLAS_WORKSPACE_SIZE; 0: install none */
} cfg = {false, WS_SIZE_DEFAULT};
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
    const char *v = getenv("DETSHIM_PEDANTIC_MATH");
    if (v && *v && ds_parse_bool(v, &cfg.pedantic) != 0) {
        cfg.pedantic = false;
        ds_notice("cublas", true,
                  "DETSHIM_PEDANTIC_MATH='%.200s' is not valid; accepted values: 0, 1, yes, no, "
                  "true, false, on, off; using 0 (math modes are recorded, not changed)", v);
    }
    v = getenv("DETSHIM_CUBLAS_WORKSPACE_SIZE");
    if (v && *v && parse_size(v, &cfg.ws_size) != 0) {
        cfg.ws_size = WS_SIZE_DEFAULT;
        ds_notice("cublas", true,
                  "DETSHIM_CUBLAS_WORKSPACE_SIZE='%.200s' is not valid; accepted values: a size in "
                  "bytes up to 16G, with an optional K, M or G suffix (KiB, MiB, GiB), 0 to install "
                  "no workspaces; using 32M", v);
    }
    if (cfg.pedantic && !ds_enforcing())
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

/* Settings and runtime functions, read once. */
static inline void cfg_get(void) { pthread_once(&cfg_once, layer_init); }

/* ---- the CUDA runtime (or driver) for the shim's own workspaces ---------------------- */
static struct {
    cudaError_t (*malloc)(void **, size_t);
    cudaError_t (*free)(void *);
    cudaError_t (*get_device)(int *);
    cudaError_t (*set_device)(int);
    cudaError_t (*get_last_error)(void);
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

/* Make `device` current (the handle's, for its workspaces); true when it was another one,
 * then in *prev, to go back to. */
static bool to_device(int device, int *prev)
{
    return device >= 0 && rt.get_device && rt.set_device && rt.get_device(prev) == cudaSuccess &&
           *prev != device && rt.set_device(device) == cudaSuccess;
}

/* Device memory on the handle's device; NULL (said once) when it cannot be had. */
static void *dev_alloc(int device, size_t n)
{
    rt_retry();
    if (rt.malloc && rt.free) {
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
        if (rt.get_last_error) rt.get_last_error();
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

static void dev_free(int device, void *p)
{
    if (rt.malloc && rt.free) {
        int cur = -1;
        bool moved = to_device(device, &cur);
        if (rt.free(p) != cudaSuccess && rt.get_last_error) rt.get_last_error();
        if (moved) rt.set_device(cur);
    } else if (rt.cu_free)
        rt.cu_free((CUdeviceptr)(uintptr_t)p);
}

/* ---- handles, streams, workspaces ---------------------------------------------------- */
#define MAX_HANDLES 256 /* live handles tracked (power of two) */
#define MAX_STREAMS 32  /* streams per handle */
#define MAX_GROW 4      /* sizes a pair's workspace may take (a program asking for more) */
#define MAX_BUFS 1024   /* program-set workspace buffers remembered (power of two) */

#define KEY_EMPTY ((uintptr_t)0)
#define KEY_DEAD ((uintptr_t)1)
/* what a handle runs on: cuBLAS's default pool, nothing, or a buffer (never 0 or 1) */
#define WS_DEFAULT ((uintptr_t)0)
#define WS_NONE ((uintptr_t)1)

struct wsrec {
    void *ptr;
    size_t size;
};

struct pair {
    cudaStream_t stream;         /* written once, before npairs publishes the pair */
    struct wsrec rec[MAX_GROW];  /* rec[nrec-1] is the pair's workspace; older ones are kept */
    _Atomic int nrec;            /* until the handle is destroyed (work may still use them) */
    bool failed;                 /* allocation failed once: not retried (under `slow`) */
    _Atomic bool said_shared;    /* the routine check logged this pair */
    _Atomic bool said_replaced;  /* SetWorkspace logged replacing a buffer on this pair */
};

struct hstate {
    _Atomic uintptr_t key;       /* the handle; KEY_EMPTY / KEY_DEAD */
    int device;                  /* current device at create (-1: unknown) */
    bool env_safe;               /* CUBLAS_WORKSPACE_CONFIG at create was :4096:8 or :16:8 */
    _Atomic int npairs;
    _Atomic int cur;             /* pair of the current stream; -1: not tracked */
    _Atomic uintptr_t ws;        /* the workspace in force (WS_DEFAULT, WS_NONE, a buffer) */
    _Atomic int default_pair;    /* first pair a routine ran on the default pool; -1 */
    _Atomic int atomics;         /* the atomics mode in force */
    _Atomic uint32_t math_said;  /* bit per math mode already logged for this handle */
    struct pair pairs[MAX_STREAMS];
};

static struct hstate handles[MAX_HANDLES];
/* The gemm fast check's view of handles[i] (fast.h): the same slots. */
struct ds_cublas_fast ds_cublas_fast[DS_CUBLAS_SLOTS];
_Static_assert(MAX_HANDLES == DS_CUBLAS_SLOTS, "one fast entry per handle slot");
static pthread_mutex_t slow = PTHREAD_MUTEX_INITIALIZER;
/* a fork child has only the forking thread: a lock another thread held is free again */
void ds_cublas_atfork_child(void) { pthread_mutex_init(&slow, NULL); }
static bool said_handles_full, said_streams_full, said_bufs_full, said_grow;

static inline unsigned hash_ptr(uintptr_t k, unsigned mask)
{
    return (unsigned)(((uint64_t)k >> 4) * 0x9e3779b97f4a7c15ull >> 40) & mask;
}

/* The handle's stream or workspace changed (or the slot changed hands): an answer the gemm
 * check published for the old state no longer holds. */
static void hchanged(struct hstate *h)
{
    atomic_fetch_add_explicit(&ds_cublas_fast[h - handles].ver, 1, memory_order_release);
}
static void hkey(struct hstate *h, uintptr_t k)
{
    atomic_store_explicit(&h->key, k, memory_order_release);
    atomic_store_explicit(&ds_cublas_fast[h - handles].key, k, memory_order_relaxed);
    hchanged(h);
}

static struct hstate *hfind(cublasHandle_t handle)
{
    uintptr_t k = (uintptr_t)handle;
    if (k <= KEY_DEAD) return NULL;
    for (unsigned i = 0, s = hash_ptr(k, MAX_HANDLES - 1); i < MAX_HANDLES;
         i++, s = (s + 1) & (MAX_HANDLES - 1)) {
        uintptr_t v = atomic_load_explicit(&handles[s].key, memory_order_acquire);
        if (v == k) return &handles[s];
        if (v == KEY_EMPTY) return NULL;
    }
    return NULL;
}

/* Under `slow`: the pair of stream s (added when new); -1 when the handle has too many. */
static int pair_get_locked(struct hstate *h, cudaStream_t s)
{
    int n = atomic_load_explicit(&h->npairs, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (h->pairs[i].stream == s) return i;
    if (n == MAX_STREAMS) {
        if (!said_streams_full) {
            said_streams_full = true;
            ds_notice("cublas", true,
                      "a cuBLAS handle was used on more than %d streams: further streams of a "
                      "handle are not tracked and keep cuBLAS's default workspace", MAX_STREAMS);
        }
        return -1;
    }
    struct pair *p = &h->pairs[n];
    memset(p->rec, 0, sizeof p->rec);
    p->stream = s;
    p->failed = false;
    atomic_store_explicit(&p->nrec, 0, memory_order_relaxed);
    atomic_store_explicit(&p->said_shared, false, memory_order_relaxed);
    atomic_store_explicit(&p->said_replaced, false, memory_order_relaxed);
    atomic_store_explicit(&h->npairs, n + 1, memory_order_release);
    return n;
}

/* Lock-free: the pair of stream s, or -1 when it is not there yet. */
static int pair_find(struct hstate *h, cudaStream_t s)
{
    int n = atomic_load_explicit(&h->npairs, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (h->pairs[i].stream == s) return i;
    return -1;
}

static bool wsconfig_safe(const char *v)
{
    return v && (strcmp(v, ":4096:8") == 0 || strcmp(v, ":16:8") == 0);
}

/* Track a new handle (its address may be a destroyed one's). */
static struct hstate *hadd(cublasHandle_t handle)
{
    uintptr_t k = (uintptr_t)handle;
    if (k <= KEY_DEAD) return NULL;
    int device = -1;
    pthread_mutex_lock(&slow);
    if (rt.get_device && rt.get_device(&device) != cudaSuccess) {
        device = -1;
        if (rt.get_last_error) rt.get_last_error();
    }
    struct hstate *h = hfind(handle), *slot = h;
    for (unsigned i = 0, s = hash_ptr(k, MAX_HANDLES - 1); !slot && i < MAX_HANDLES;
         i++, s = (s + 1) & (MAX_HANDLES - 1)) {
        uintptr_t v = atomic_load_explicit(&handles[s].key, memory_order_relaxed);
        if (v == KEY_EMPTY || v == KEY_DEAD) slot = &handles[s];
    }
    if (!slot) {
        if (!said_handles_full) {
            said_handles_full = true;
            ds_notice("cublas", true,
                      "more than %d live cuBLAS handles: further handles are not tracked (their "
                      "streams keep cuBLAS's default workspace)", MAX_HANDLES);
        }
        pthread_mutex_unlock(&slow);
        return NULL;
    }
    if (h) hkey(h, KEY_DEAD); /* a missed destroy */
    slot->device = device;
    slot->env_safe = wsconfig_safe(getenv("CUBLAS_WORKSPACE_CONFIG"));
    atomic_store_explicit(&slot->npairs, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->ws, WS_DEFAULT, memory_order_relaxed);
    atomic_store_explicit(&slot->default_pair, -1, memory_order_relaxed);
    atomic_store_explicit(&slot->atomics, CUBLAS_ATOMICS_NOT_ALLOWED, memory_order_relaxed);
    atomic_store_explicit(&slot->math_said, 0, memory_order_relaxed);
    /* a new handle runs on the legacy default stream */
    atomic_store_explicit(&slot->cur, pair_get_locked(slot, NULL), memory_order_relaxed);
    hkey(slot, k);
    pthread_mutex_unlock(&slow);
    return slot;
}

static void hdrop(cublasHandle_t handle)
{
    pthread_mutex_lock(&slow);
    struct hstate *h = hfind(handle);
    if (h) {
        hkey(h, KEY_DEAD);
        int n = atomic_load_explicit(&h->npairs, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            struct pair *p = &h->pairs[i];
            int r = atomic_load_explicit(&p->nrec, memory_order_relaxed);
            for (int j = 0; j < r; j++) dev_free(h->device, p->rec[j].ptr);
            atomic_store_explicit(&p->nrec, 0, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&slow);
}

/* The pair's own workspace of at least `need` bytes: lock-free when it exists, else
 * allocated under `slow`. *fresh tells the caller that it was just allocated. */
static bool pair_ws(struct hstate *h, int pi, size_t need, struct wsrec *out, bool *fresh)
{
    struct pair *p = &h->pairs[pi];
    *fresh = false;
    int r = atomic_load_explicit(&p->nrec, memory_order_acquire);
    if (r > 0 && p->rec[r - 1].size >= need) {
        *out = p->rec[r - 1];
        return true;
    }
    bool ok = false;
    pthread_mutex_lock(&slow);
    r = atomic_load_explicit(&p->nrec, memory_order_relaxed);
    if (r > 0 && p->rec[r - 1].size >= need) {
        *out = p->rec[r - 1];
        ok = true;
    } else if (r == MAX_GROW) {
        if (!said_grow) {
            said_grow = true;
            ds_notice("cublas", true,
                      "a program asked %d times for a larger cuBLAS workspace on one stream: the "
                      "shim keeps the program's buffer from now on", MAX_GROW);
        }
    } else if (!p->failed) {
        void *m = dev_alloc(h->device, need);
        if (m) {
            p->rec[r].ptr = m;
            p->rec[r].size = need;
            atomic_store_explicit(&p->nrec, r + 1, memory_order_release);
            *out = p->rec[r];
            *fresh = ok = true;
        } else if (r == 0)
            p->failed = true;
    }
    pthread_mutex_unlock(&slow);
    return ok;
}

/* Program-set workspace buffers: the stream each was first set for. Insert-only (a
 * destroyed handle's buffers may be freed and their addresses reused: a later buffer at
 * the same address on another stream then counts as shared, which costs a per-stream
 * workspace in enforce and an event in log mode, never a wrong result). */
struct buf {
    _Atomic uintptr_t key;
    _Atomic uintptr_t stream;
    _Atomic bool ready;
};
static struct buf bufs[MAX_BUFS];

/* Lock-free lookup; inserts (stream s) when absent. Returns false when the buffer is
 * new (or cannot be remembered); true with *owner set when it was already known. */
static bool buf_owner(void *ws, cudaStream_t s, bool insert, uintptr_t *owner)
{
    uintptr_t k = (uintptr_t)ws;
    for (unsigned i = 0, j = hash_ptr(k, MAX_BUFS - 1); i < MAX_BUFS; i++, j = (j + 1) & (MAX_BUFS - 1)) {
        struct buf *b = &bufs[j];
        uintptr_t v = atomic_load_explicit(&b->key, memory_order_acquire);
        if (v == KEY_EMPTY) {
            if (!insert) return false;
            uintptr_t expected = KEY_EMPTY;
            if (atomic_compare_exchange_strong(&b->key, &expected, k)) {
                atomic_store_explicit(&b->stream, (uintptr_t)s, memory_order_relaxed);
                atomic_store_explicit(&b->ready, true, memory_order_release);
                return false;
            }
            v = expected;
        }
        if (v == k) {
            if (!atomic_load_explicit(&b->ready, memory_order_acquire)) return false; /* racing */
            *owner = atomic_load_explicit(&b->stream, memory_order_relaxed);
            return true;
        }
    }
    if (insert && !__atomic_exchange_n(&said_bufs_full, true, __ATOMIC_RELAXED))
        ds_notice("cublas", true,
                  "more than %d cuBLAS workspace buffers seen: further buffers are not checked "
                  "for sharing between streams", MAX_BUFS);
    return false;
}

/* ---- event details ------------------------------------------------------------------ */
struct ws_info {
    cublasHandle_t handle;
    cudaStream_t stream, other;
    bool has_other;
    uintptr_t ws;
    size_t size;
    void *replaced;     /* the program's buffer the shim replaced */
    const char *wsconfig;
};

static void hexp(struct jbuf *jb, const char *key, const void *p) { jb_hex(jb, key, (uintptr_t)p); }

static void ws_extra(struct jbuf *jb, void *arg)
{
    const struct ws_info *w = arg;
    hexp(jb, "handle", w->handle);
    hexp(jb, "stream", w->stream);
    if (w->has_other) hexp(jb, "other_stream", w->other);
    if (w->ws == WS_DEFAULT)
        jb_str(jb, "workspace", "default");
    else if (w->ws == WS_NONE)
        jb_str(jb, "workspace", "none");
    else {
        jb_hex(jb, "workspace", w->ws);
        jb_uint(jb, "workspace_size", w->size);
    }
    if (w->replaced) hexp(jb, "replaced", w->replaced);
    jb_str(jb, "workspace_config", w->wsconfig);
}

/* ---- cublasCreate_v2 / cublasDestroy_v2 ---------------------------------------------- */
static void handle_extra(struct jbuf *jb, void *arg)
{
    const struct ws_info *w = arg;
    hexp(jb, "handle", w->handle);
}

static void create_extra(struct jbuf *jb, void *arg)
{
    struct ws_info *w = arg;
    if (w->handle) hexp(jb, "handle", w->handle);
    jb_str(jb, "workspace_config", w->wsconfig);
}

cublasStatus_t ds_policy_cublasCreate_v2(cublasHandle_t *handle)
{
    cfg_get();
    cublasStatus_t st = DS_REAL(cublasCreate_v2)(handle);
    cublasHandle_t h = st == CUBLAS_STATUS_SUCCESS && handle ? *handle : NULL;
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0)) {
        char detail[128];
        snprintf(detail, sizeof detail, "cuBLAS handle %p created (status %d)", (void *)h, (int)st);
        struct ws_info w = {.handle = h, .wsconfig = getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, create_extra, &w);
    }
    if (h) {
        hadd(h);
        if (ds_enforcing() && cfg.pedantic) {
            cublasStatus_t m = DS_REAL(cublasSetMathMode)(h, CUBLAS_PEDANTIC_MATH);
            if (ds_event_capture(&ev, DS_HOOK_cublasCreate_v2, DS_ACT_FORCED, CUBLAS_PEDANTIC_MATH)) {
                char detail[192];
                snprintf(detail, sizeof detail,
                         "new cuBLAS handle set to CUBLAS_PEDANTIC_MATH (DETSHIM_PEDANTIC_MATH=1; "
                         "status %d)", (int)m);
                struct ws_info w = {.handle = h, .wsconfig = getenv("CUBLAS_WORKSPACE_CONFIG")};
                ds_event_log(&ev, detail, create_extra, &w);
            }
        }
    }
    if (st == CUBLAS_STATUS_SUCCESS) ds_fingerprint_device();
    return st;
}

cublasStatus_t ds_policy_cublasDestroy_v2(cublasHandle_t handle)
{
    cublasStatus_t st = DS_REAL(cublasDestroy_v2)(handle);
    /* after the real destroy: cuBLAS no longer refers to the workspaces (cudaFree waits
     * for work still using them) */
    hdrop(handle);
    return st;
}

/* ---- cublasSetStream_v2 / cublasSetWorkspace_v2 -------------------------------------- */
/* Put the pair's own workspace on the handle (enforce). Returns false when there is none. */
static bool install_own(cublasHandle_t handle, struct hstate *h, int pi, size_t need, enum ds_hook hook,
                        void *replaced, cublasStatus_t *st)
{
    struct wsrec w;
    bool fresh;
    if (!pair_ws(h, pi, need, &w, &fresh)) return false;
    *st = DS_REAL(cublasSetWorkspace_v2)(handle, w.ptr, w.size);
    if (*st != CUBLAS_STATUS_SUCCESS) {
        static _Atomic bool said;
        if (!atomic_exchange(&said, true))
            ds_notice("cublas", true,
                      "cublasSetWorkspace_v2 refused the shim's %zu-byte workspace %p (status %d): "
                      "that stream keeps the workspace it had", w.size, w.ptr, (int)*st);
        return false;
    }
    atomic_store_explicit(&h->ws, (uintptr_t)w.ptr, memory_order_relaxed);
    hchanged(h);
    struct pair *p = &h->pairs[pi];
    /* once per pair: when its workspace is made, and the first time one replaces a
     * program's buffer */
    bool say = replaced ? !atomic_exchange_explicit(&p->said_replaced, true, memory_order_relaxed) : fresh;
    struct ds_event ev;
    if (say && ds_event_capture(&ev, hook, DS_ACT_FORCED, replaced ? 1 : 0)) {
        char detail[320];
        if (replaced)
            snprintf(detail, sizeof detail,
                     "workspace %p is already used on another stream: stream %p of cuBLAS handle %p "
                     "gets its own %zu-byte workspace instead", replaced, (void *)p->stream,
                     (void *)handle, w.size);
        else
            snprintf(detail, sizeof detail,
                     "stream %p of cuBLAS handle %p gets its own %zu-byte workspace (one workspace "
                     "per stream)", (void *)p->stream, (void *)handle, w.size);
        struct ws_info info = {.handle = handle, .stream = p->stream, .ws = (uintptr_t)w.ptr,
                               .size = w.size, .replaced = replaced,
                               .wsconfig = getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, ws_extra, &info);
    }
    return true;
}

cublasStatus_t ds_policy_cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    cublasStatus_t st = DS_REAL(cublasSetStream_v2)(handle, streamId);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    struct hstate *h = hfind(handle);
    if (!h) return st;
    int pi = pair_find(h, streamId);
    if (pi < 0) {
        pthread_mutex_lock(&slow);
        pi = pair_get_locked(h, streamId);
        pthread_mutex_unlock(&slow);
    }
    atomic_store_explicit(&h->cur, pi, memory_order_relaxed);
    atomic_store_explicit(&h->ws, WS_DEFAULT, memory_order_relaxed); /* what cuBLAS just did */
    hchanged(h);
    if (pi < 0 || !ds_enforcing()) return st;
    cfg_get();
    if (cfg.ws_size == 0) return st;
    cublasStatus_t ws_st;
    install_own(handle, h, pi, cfg.ws_size, DS_HOOK_cublasSetStream_v2, NULL, &ws_st);
    return st; /* the program asked for a stream and got it */
}

cublasStatus_t ds_policy_cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t size)
{
    struct hstate *h = hfind(handle);
    uintptr_t id = !workspace || size == 0 ? WS_NONE : (uintptr_t)workspace;
    int pi = h ? atomic_load_explicit(&h->cur, memory_order_relaxed) : -1;
    if (pi >= 0 && id != WS_NONE) {
        cudaStream_t s = h->pairs[pi].stream;
        uintptr_t owner;
        if (buf_owner(workspace, s, true, &owner) && owner != (uintptr_t)s && ds_enforcing()) {
            cfg_get();
            cublasStatus_t st;
            if (cfg.ws_size &&
                install_own(handle, h, pi, size > cfg.ws_size ? size : cfg.ws_size,
                            DS_HOOK_cublasSetWorkspace_v2, workspace, &st))
                return st;
            /* no workspace of our own: the program's goes on; the routine check says so */
        }
    }
    cublasStatus_t st = DS_REAL(cublasSetWorkspace_v2)(handle, workspace, size);
    if (st == CUBLAS_STATUS_SUCCESS && h) {
        atomic_store_explicit(&h->ws, id, memory_order_relaxed);
        hchanged(h);
    }
    return st;
}

/* ---- the routine check -------------------------------------------------------------- */
/* Returns false when strict mode refuses the call (st then holds the status to return).
 * Every answer but a refusal holds until the handle's stream or workspace changes (the
 * default pool's first pair, buffer owners and "already logged" are set once): it is
 * published for the fast check, stamped with the version it was computed at. */
static bool check_workspace_at(enum ds_hook hook, struct hstate *h, cublasHandle_t handle,
                               cublasStatus_t *st);
static bool check_workspace(enum ds_hook hook, cublasHandle_t handle, cublasStatus_t *st)
{
    struct hstate *h = hfind(handle);
    if (!h) return true;
    struct ds_cublas_fast *f = &ds_cublas_fast[h - handles];
    uint32_t v = atomic_load_explicit(&f->ver, memory_order_acquire);
    if (!check_workspace_at(hook, h, handle, st)) return false;
    atomic_store_explicit(&f->ok_ver, v, memory_order_relaxed);
    return true;
}

static bool check_workspace_at(enum ds_hook hook, struct hstate *h, cublasHandle_t handle,
                               cublasStatus_t *st)
{
    int pi = atomic_load_explicit(&h->cur, memory_order_relaxed);
    if (pi < 0) return true;
    struct pair *p = &h->pairs[pi];
    uintptr_t ws = atomic_load_explicit(&h->ws, memory_order_relaxed), other;
    if (ws == WS_NONE) return true;
    if (ws == WS_DEFAULT) {
        /* the default pool is per handle; with CUBLAS_WORKSPACE_CONFIG safe at create,
         * NVIDIA documents it as deterministic on any number of streams */
        if (h->env_safe) return true;
        int first = atomic_load_explicit(&h->default_pair, memory_order_relaxed);
        if (first < 0) {
            int expected = -1;
            if (atomic_compare_exchange_strong(&h->default_pair, &expected, pi)) return true;
            first = expected;
        }
        if (first == pi) return true;
        other = (uintptr_t)h->pairs[first].stream;
    } else if (!buf_owner((void *)ws, NULL, false, &other) || other == (uintptr_t)p->stream)
        return true;

    /* two streams, one workspace */
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    /* log/enforce: once per (handle, stream), so a hot gemm does not unwind its stack on
     * every call */
    if (!strict && atomic_exchange_explicit(&p->said_shared, true, memory_order_relaxed)) return true;
    struct ds_event ev;
    enum ds_action act = strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED;
    /* strict: every call is refused and counted, each new call site logged */
    bool log = ds_event_capture(&ev, hook, act, ws == WS_DEFAULT ? 0 : 1);
    if (log) {
        char detail[384];
        snprintf(detail, sizeof detail,
                 "cuBLAS handle %p runs on stream %p with %s workspace that stream %p also uses: "
                 "results may differ run to run%s", (void *)handle, (void *)p->stream,
                 ws == WS_DEFAULT ? "cuBLAS's default" : "a", (void *)other,
                 ds_enforcing() ? " (the shim could not give the stream a workspace of its own)" : "");
        struct ws_info info = {.handle = handle, .stream = p->stream, .other = (cudaStream_t)other,
                               .has_other = true, .ws = ws, .wsconfig = getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, ws_extra, &info);
    }
    if (!strict) return true;
    if (log)
        ds_refuse(&ev, "a cuBLAS routine on a workspace that another stream also uses",
                  "set CUBLAS_WORKSPACE_CONFIG=:4096:8 before the program creates cuBLAS handles, "
                  "or give each stream its own workspace (cublasSetWorkspace)");
    *st = CUBLAS_STATUS_NOT_SUPPORTED;
    return false;
}

static void check_atomics(enum ds_hook hook, cublasHandle_t handle)
{
    struct hstate *h = hfind(handle);
    if (!h || atomic_load_explicit(&h->atomics, memory_order_relaxed) == CUBLAS_ATOMICS_NOT_ALLOWED) return;
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, DS_ACT_OBSERVED, 0)) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "%s on cuBLAS handle %p with atomics allowed: this routine may accumulate with "
                 "atomics, and its results may differ run to run", ds_hooks[hook].name, (void *)handle);
        struct ws_info info = {.handle = handle};
        ds_event_log(&ev, detail, handle_extra, &info);
    }
}

/* ---- hash mode: what a gemm reads and writes ------------------------------------------ */
static CUstream handle_stream(cublasHandle_t handle)
{
    typedef cublasStatus_t (*get_t)(cublasHandle_t, cudaStream_t *);
    static _Atomic(get_t) get;
    get_t f = atomic_load(&get);
    if (!f) {
        f = (get_t)ds_lookup_soname("cublasGetStream_v2", DS_LIB_CUBLAS);
        atomic_store(&get, f);
    }
    cudaStream_t s = NULL;
    if (f && f(handle, &s) != CUBLAS_STATUS_SUCCESS) s = NULL;
    return (CUstream)s;
}

/* alpha and beta have the compute type (complex when C is) */
static size_t scalar_size(cublasComputeType_t ct, cudaDataType ctype)
{
    size_t n;
    switch (ct) {
    case CUBLAS_COMPUTE_16F: case CUBLAS_COMPUTE_16F_PEDANTIC: n = 2; break;
    case CUBLAS_COMPUTE_64F: case CUBLAS_COMPUTE_64F_PEDANTIC: n = 8; break;
    default: n = 4; break; /* 32F (all its variants) and 32I */
    }
    switch (ctype) {
    case CUDA_C_16F: case CUDA_C_16BF: case CUDA_C_32F: case CUDA_C_64F: return 2 * n;
    default: return n;
    }
}

/* cuBLAS's documented operands: column-major, op(A) m x k, op(B) k x n, C m x n; batch
 * matrices `stride` elements apart. Element sizes of 0 (a type the shim does not know)
 * leave the call undigested; so do pointer arrays (`arrays`: the matrices are wherever a
 * device array says). */
struct gemm_shape {
    bool arrays;
    int ta, tb;
    int64_t m, n, k, batch;
    const void *A, *B, *C, *alpha, *beta;
    int64_t lda, ldb, ldc, sa, sb, sc;
    size_t ea, eb, ec, es;
};
static void gemm_ranges(struct ds_hcall *c, const struct gemm_shape *g)
{
    int64_t v[] = {g->ta, g->tb, g->m, g->n, g->k, g->batch, g->lda, g->ldb, g->ldc, g->sa, g->sb,
                   g->sc, (int64_t)g->ea, (int64_t)g->eb, (int64_t)g->ec};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) ds_hcall_scalar(c, (uint64_t)v[i]);
    if (!g->ea || !g->eb || !g->ec || !g->es) {
        ds_hcall_skip(c, "a data type hash mode does not know the size of: no digest");
        return;
    }
    bool na = g->ta == CUBLAS_OP_N, nb = g->tb == CUBLAS_OP_N;
    ds_hcall_out(c, "C", g->C, ds_matrix_bytes(g->m, g->n, g->ldc, g->batch, g->sc, g->ec));
    ds_hcall_in(c, "A", g->A, ds_matrix_bytes(na ? g->m : g->k, na ? g->k : g->m, g->lda, g->batch,
                                             g->sa, g->ea));
    ds_hcall_in(c, "B", g->B, ds_matrix_bytes(nb ? g->k : g->n, nb ? g->n : g->k, g->ldb, g->batch,
                                             g->sb, g->eb));
    ds_hcall_scalar_ptr(c, "alpha", g->alpha, g->es);
    ds_hcall_scalar_ptr(c, "beta", g->beta, g->es);
}

/* Each family says where its operands are (the parameter names of hooks.def). */
#define SHAPE_TYPED                                                                            \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0, sizeof *A,      \
     sizeof *B, sizeof *C, sizeof *alpha}
#define SHAPE_SGEMMEX                                                                          \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0,                 \
     ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype), sizeof(float)}
#define SHAPE_GEMMEX                                                                           \
    {false, transa, transb, m, n, k, 1, A, B, C, alpha, beta, lda, ldb, ldc, 0, 0, 0,                 \
     ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype),                         \
     scalar_size(computeType, Ctype)}
#define SHAPE_STRIDED                                                                          \
    {false, transa, transb, m, n, k, batchCount, A, B, C, alpha, beta, lda, ldb, ldc, strideA,        \
     strideB, strideC, sizeof *A, sizeof *B, sizeof *C, sizeof *alpha}
#define SHAPE_STRIDED_EX                                                                       \
    {false, transa, transb, m, n, k, batchCount, A, B, C, alpha, beta, lda, ldb, ldc, strideA,        \
     strideB, strideC, ds_dtype_size(Atype), ds_dtype_size(Btype), ds_dtype_size(Ctype),       \
     scalar_size(computeType, Ctype)}
#define SHAPE_ARRAYS {.arrays = true}

/* The routine policies, generated: every cuBLAS hook whose name is listed below gets
 * check -> real call (with digests around it in hash mode). A name listed here but missing
 * from hooks.def, or a routine in hooks.def missing here, does not compile. */
#define GEMM_WITH(shape, ret, name, params, args)                                            \
    ret ds_policy_##name params                                                              \
    {                                                                                        \
        cublasStatus_t st_;                                                                  \
        if (!check_workspace(DS_HOOK_##name, handle, &st_)) return st_;                      \
        if (DS_LIKELY(!ds_hash_on())) return DS_REAL(name) args;                             \
        struct ds_hcall hc_;                                                                 \
        struct gemm_shape g_ = shape;                                                        \
        ds_hcall_begin(&hc_, DS_HOOK_##name, handle_stream(handle), "gemm");                 \
        if (g_.arrays)                                                                       \
            ds_hcall_skip(&hc_, "batched gemm through pointer arrays: outputs not digested"); \
        else                                                                                 \
            gemm_ranges(&hc_, &g_);                                                          \
        ds_hcall_pre(&hc_);                                                                  \
        st_ = DS_REAL(name) args;                                                            \
        ds_hcall_post(&hc_, (int)st_);                                                       \
        return st_;                                                                          \
    }
#define GEMM_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_TYPED, ret, name, params, args)
#define SGEMMEX_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_SGEMMEX, ret, name, params, args)
#define GEMMEX_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_GEMMEX, ret, name, params, args)
#define STRIDED_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_STRIDED, ret, name, params, args)
#define STRIDED_EX_POLICY(ret, name, params, args) \
    GEMM_WITH(SHAPE_STRIDED_EX, ret, name, params, args)
#define ARRAYS_POLICY(ret, name, params, args) GEMM_WITH(SHAPE_ARRAYS, ret, name, params, args)
#define ATOMICS_POLICY(ret, name, params, args)                               \
    ret ds_policy_##name params                                               \
    {                                                                         \
        check_atomics(DS_HOOK_##name, handle);                                \
        return DS_REAL(name) args;                                            \
    }
#define NO_POLICY(ret, name, params, args) /* written by hand above or below */

#define DS_R_cublasCreate_v2 NO_POLICY
#define DS_R_cublasDestroy_v2 NO_POLICY
#define DS_R_cublasSetStream_v2 NO_POLICY
#define DS_R_cublasSetWorkspace_v2 NO_POLICY
#define DS_R_cublasSetAtomicsMode NO_POLICY
#define DS_R_cublasSetMathMode NO_POLICY
#define DS_R_cublasSgemm_v2 GEMM_POLICY
#define DS_R_cublasSgemm_v2_64 GEMM_POLICY
#define DS_R_cublasDgemm_v2 GEMM_POLICY
#define DS_R_cublasDgemm_v2_64 GEMM_POLICY
#define DS_R_cublasCgemm_v2 GEMM_POLICY
#define DS_R_cublasCgemm_v2_64 GEMM_POLICY
#define DS_R_cublasZgemm_v2 GEMM_POLICY
#define DS_R_cublasZgemm_v2_64 GEMM_POLICY
#define DS_R_cublasSgemmEx SGEMMEX_POLICY
#define DS_R_cublasSgemmEx_64 SGEMMEX_POLICY
#define DS_R_cublasGemmEx GEMMEX_POLICY
#define DS_R_cublasGemmEx_64 GEMMEX_POLICY
#define DS_R_cublasSgemmBatched ARRAYS_POLICY
#define DS_R_cublasSgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasDgemmBatched ARRAYS_POLICY
#define DS_R_cublasDgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasCgemmBatched ARRAYS_POLICY
#define DS_R_cublasCgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasZgemmBatched ARRAYS_POLICY
#define DS_R_cublasZgemmBatched_64 ARRAYS_POLICY
#define DS_R_cublasGemmBatchedEx ARRAYS_POLICY
#define DS_R_cublasGemmBatchedEx_64 ARRAYS_POLICY
#define DS_R_cublasSgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasSgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasDgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasDgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasCgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasCgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasZgemmStridedBatched STRIDED_POLICY
#define DS_R_cublasZgemmStridedBatched_64 STRIDED_POLICY
#define DS_R_cublasGemmStridedBatchedEx STRIDED_EX_POLICY
#define DS_R_cublasGemmStridedBatchedEx_64 STRIDED_EX_POLICY
#define DS_R_cublasSsymv_v2 ATOMICS_POLICY
#define DS_R_cublasSsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasDsymv_v2 ATOMICS_POLICY
#define DS_R_cublasDsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasCsymv_v2 ATOMICS_POLICY
#define DS_R_cublasCsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasZsymv_v2 ATOMICS_POLICY
#define DS_R_cublasZsymv_v2_64 ATOMICS_POLICY
#define DS_R_cublasChemv_v2 ATOMICS_POLICY
#define DS_R_cublasChemv_v2_64 ATOMICS_POLICY
#define DS_R_cublasZhemv_v2 ATOMICS_POLICY
#define DS_R_cublasZhemv_v2_64 ATOMICS_POLICY

#define DS_LAYER_GEN_CUBLAS(ret, name, params, args) DS_R_##name(ret, name, params, args)
#define DS_LAYER_GEN_KERNELS(ret, name, params, args)
#define DS_LAYER_GEN_CUBLASLT(ret, name, params, args)
#define DS_LAYER_GEN_CUDNN(ret, name, params, args)
#define DS_LAYER_GEN_TORCH(ret, name, params, args)
#define DS_LAYER_GEN_TF(ret, name, params, args)
#define DS_LAYER_GEN_ENV(ret, name, params, args)
#define HOOK(layer, lib, ret, name, params, args) DS_LAYER_GEN_##layer(ret, name, params, args)
#define HOOK_VOID(layer, lib, name, params, args)
#include "hooks.def"

/* ---- cublasSetAtomicsMode ------------------------------------------------------------- */
cublasStatus_t ds_policy_cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode)
{
    struct hstate *h = hfind(handle);
    if (mode == CUBLAS_ATOMICS_NOT_ALLOWED) {
        cublasStatus_t st = DS_REAL(cublasSetAtomicsMode)(handle, mode);
        if (st == CUBLAS_STATUS_SUCCESS && h) atomic_store(&h->atomics, (int)mode);
        return st;
    }
    bool force = ds_enforcing();
    cublasAtomicsMode_t use = force ? CUBLAS_ATOMICS_NOT_ALLOWED : mode;
    cublasStatus_t st = DS_REAL(cublasSetAtomicsMode)(handle, use);
    if (st == CUBLAS_STATUS_SUCCESS && h) atomic_store(&h->atomics, (int)use);
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasSetAtomicsMode, force ? DS_ACT_FORCED : DS_ACT_OBSERVED, 0)) {
        char detail[320];
        if (force)
            snprintf(detail, sizeof detail,
                     "cublasSetAtomicsMode(%d = CUBLAS_ATOMICS_ALLOWED) on handle %p forced to "
                     "CUBLAS_ATOMICS_NOT_ALLOWED: atomics implementations (symv, hemv) are not "
                     "reproducible run to run", (int)mode, (void *)handle);
        else
            snprintf(detail, sizeof detail,
                     "cublasSetAtomicsMode(%d = CUBLAS_ATOMICS_ALLOWED) on handle %p: routines with "
                     "an atomics implementation (symv, hemv) may differ run to run", (int)mode,
                     (void *)handle);
        struct ws_info info = {.handle = handle};
        ds_event_log(&ev, detail, handle_extra, &info);
    }
    return st;
}

/* ---- cublasSetMathMode ---------------------------------------------------------------- */
static const char *math_base_name(unsigned base)
{
    switch (base) {
    case CUBLAS_DEFAULT_MATH: return "CUBLAS_DEFAULT_MATH";
    case CUBLAS_TENSOR_OP_MATH: return "CUBLAS_TENSOR_OP_MATH";
    case CUBLAS_PEDANTIC_MATH: return "CUBLAS_PEDANTIC_MATH";
    case CUBLAS_TF32_TENSOR_OP_MATH: return "CUBLAS_TF32_TENSOR_OP_MATH";
    case CUBLAS_FP32_EMULATED_BF16X9_MATH: return "CUBLAS_FP32_EMULATED_BF16X9_MATH";
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH: return "CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH";
    default: return NULL;
    }
}

static const char *math_base_why(unsigned base)
{
    switch (base) {
    case CUBLAS_DEFAULT_MATH: return "";
    case CUBLAS_TENSOR_OP_MATH: return "; half-precision tensor cores may be used for single precision";
    case CUBLAS_TF32_TENSOR_OP_MATH: return "; single-precision routines may use TF32 tensor cores";
    case CUBLAS_FP32_EMULATED_BF16X9_MATH: return "; single precision may be emulated with BF16x9";
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH: return "; double precision may be emulated in fixed point";
    default: return "; an unknown math mode";
    }
}

struct math_info {
    cublasHandle_t handle;
    unsigned mode, forced_to;
    bool forced;
};

static void math_extra(struct jbuf *jb, void *arg)
{
    const struct math_info *m = arg;
    hexp(jb, "handle", m->handle);
    jb_uint(jb, "math_mode", m->mode);
    char name[128];
    const char *b = math_base_name(m->mode & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
    snprintf(name, sizeof name, "%s%s", b ? b : "unknown",
             m->mode & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                 ? "|CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION" : "");
    jb_str(jb, "math_mode_name", name);
    if (m->forced) jb_uint(jb, "forced_to", m->forced_to);
}

/* Once per handle and mode: PyTorch sets the math mode before every matmul. */
static bool math_first(struct hstate *h, unsigned mode)
{
    if (!h) return true;
    uint32_t bit = 1u << (mode < 31 ? mode : 31);
    return !(atomic_fetch_or_explicit(&h->math_said, bit, memory_order_relaxed) & bit);
}

cublasStatus_t ds_policy_cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    cfg_get();
    unsigned m = (unsigned)mode;
    unsigned base = m & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    struct math_info info = {.handle = handle, .mode = m};
    struct ds_event ev;
    if (ds_enforcing() && cfg.pedantic && base != CUBLAS_PEDANTIC_MATH) {
        cublasStatus_t st = DS_REAL(cublasSetMathMode)(handle, CUBLAS_PEDANTIC_MATH);
        if (math_first(hfind(handle), m) &&
            ds_event_capture(&ev, DS_HOOK_cublasSetMathMode, DS_ACT_FORCED, m)) {
            char detail[320];
            const char *b = math_base_name(base);
            snprintf(detail, sizeof detail,
                     "cublasSetMathMode(%u%s%s) on handle %p forced to CUBLAS_PEDANTIC_MATH "
                     "(DETSHIM_PEDANTIC_MATH=1)", m, b ? " = " : "", b ? b : "", (void *)handle);
            info.forced = true;
            info.forced_to = CUBLAS_PEDANTIC_MATH;
            ds_event_log(&ev, detail, math_extra, &info);
        }
        return st;
    }
    cublasStatus_t st = DS_REAL(cublasSetMathMode)(handle, mode);
    bool reduced = base != CUBLAS_PEDANTIC_MATH &&
                   !(base == CUBLAS_DEFAULT_MATH && (m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (reduced && math_first(hfind(handle), m) &&
        ds_event_capture(&ev, DS_HOOK_cublasSetMathMode, DS_ACT_OBSERVED, m)) {
        char detail[384];
        const char *b = math_base_name(base);
        snprintf(detail, sizeof detail,
                 "cuBLAS handle %p set to math mode %u (%s%s)%s%s: results can differ between GPU "
                 "models (DETSHIM_PEDANTIC_MATH=1 forces CUBLAS_PEDANTIC_MATH)", (void *)handle, m,
                 b ? b : "unknown",
                 m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                     ? "|CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION" : "",
                 math_base_why(base),
                 m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                     ? "" : "; reduced-precision reductions allowed (no "
                            "CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)");
        ds_event_log(&ev, detail, math_extra, &info);
    }
    return st;
}
