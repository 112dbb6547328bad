/* hash.c: hash mode (DETSHIM_HASH=1): after each intercepted call that writes device
 * memory, a digest of what it wrote (and, before it, of what it could read), one trace
 * record per call in a file of its own per process, for `detshim diff`.
 *
 * Digests of device memory are taken on the device (digest.h defines them, for both sides):
 * once per CUDA context the embedded PTX of digest_kernel.cu is loaded with the real driver
 * functions; a batch of k ranges on stream s is then one memset of k result slots, one
 * kernel launch per range, one copy of k * 8 bytes back and cuStreamSynchronize of s only.
 * The slots come from a small per-context pool of device buffers (one per thread digesting
 * at the same time). Where the kernel cannot run (the driver cannot JIT the PTX, a missing
 * function, any error; or DETSHIM_HASH=host) the same digest is computed on the host: each
 * range is copied back in 4 MiB chunks with the real cuMemcpyDtoHAsync_v2 on the call's
 * stream into a per-thread buffer of at most 4 MiB (freed when the thread exits). Either
 * way the bits are the same, so traces compare whichever path produced them; the log says
 * once when the device path is unavailable, and each trace record names its path.
 *
 * Kernels: the allocations reached by pointer-valued parameters. The parameter layout
 * comes from cudaFuncGetParamInfo / cuKernelGetParamInfo (runtime) or
 * cuFuncGetParamInfo (driver); each 8-byte parameter whose value lies in a device
 * allocation (cuMemGetAddressRange_v2) stands for that whole allocation. Without a
 * layout, only a driver launch's packed `extra` buffer is scanned (8-byte words); a
 * launch with neither is recorded without digests. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "digest.h"
#include "hash.h"
#include "kernel_table.h"
#include "pystack.h"

_Atomic int ds_hash_state;
static _Atomic bool hash_host_only; /* DETSHIM_HASH=host: never load the digest kernel */

/* ---- configuration ---------------------------------------------------------------------- */
int ds_hash_parse(const char *v, bool *on, bool *host, int err_fd)
{
    *on = *host = false;
    if (!v || !*v) return 0;
    if (ds_parse_bool(v, on) == 0) return 0;
    if (strcasecmp(v, "host") == 0) {
        *on = *host = true;
        return 0;
    }
    *on = false;
    if (err_fd >= 0) {
        char msg[512];
        int n = snprintf(msg, sizeof msg,
                         "detshim: DETSHIM_HASH='%.200s' is not valid; accepted values: 1, 0, "
                         "yes, no, true, false, on, off, host (on, digests taken on the host); "
                         "using off\n", v);
        if (n > 0) {
            ssize_t w = write(err_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
            (void)w;
        }
    }
    return -1;
}

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static void cfg_read(void)
{
    bool on = false, host = false;
    ds_hash_parse(getenv("DETSHIM_HASH"), &on, &host, STDERR_FILENO);
    hash_host_only = host;
    atomic_store(&ds_hash_state, on ? 2 : 1);
}

bool ds_hash_on_slow(void)
{
    pthread_once(&cfg_once, cfg_read);
    return atomic_load(&ds_hash_state) == 2;
}

/* Read at load time, so that a malformed value is reported even by a program that never
 * reaches a hook; the order among the library's constructors does not matter. */
__attribute__((constructor)) static void hash_ctor(void) { (void)ds_hash_on_slow(); }

/* ---- the digest ------------------------------------------------------------------------- */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t m = (__uint128_t)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}
static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define K0 0xa0761d6478bd642full
#define K1 0xe7037ed1a0b428dbull
#define K2 0x8ebc6af09c88c6e3ull
#define K3 0x589965cc75374cc3ull

/* Two 64x64->128 multiplications per 32 bytes, two independent lanes. */
uint64_t ds_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t a = seed ^ K0, b = (seed << 32 | seed >> 32) ^ K1;
    size_t left = n;
    while (left >= 32) {
        a = mix(rd64(p) ^ a, rd64(p + 8) ^ K2) ^ (a << 17 | a >> 47);
        b = mix(rd64(p + 16) ^ b, rd64(p + 24) ^ K3) ^ (b << 23 | b >> 41);
        p += 32;
        left -= 32;
    }
    if (left) {
        unsigned char tail[32] = {0};
        memcpy(tail, p, left);
        a = mix(rd64(tail) ^ a, rd64(tail + 8) ^ K2) ^ (a << 17 | a >> 47);
        b = mix(rd64(tail + 16) ^ b, rd64(tail + 24) ^ K3) ^ (b << 23 | b >> 41);
    }
    uint64_t h = mix(a ^ K1 ^ (uint64_t)n, b ^ K0);
    return mix(h ^ K3, h ^ K2 ^ seed);
}

/* ---- vendor functions, resolved once, never through a hook -------------------------------- */
/* All of them at once, by one thread (the others wait): a missing symbol makes the resolver
 * scan the loaded objects, and several threads doing that at once, with dlopen/dlclose in
 * between, is slow and trips ThreadSanitizer's interceptors. */
enum { V_RANGE, V_DTOH, V_SYNC, V_CAPTURING, V_FPARAM, V_KPARAM, V_RTPARAM, V_RTPEEK, V_RTGET,
       V_CTX, V_CTXID, V_MODLOAD, V_MODFN, V_LAUNCH, V_ALLOC, V_MEMSET, V_CAPMODE, V_N };
static const struct {
    const char *name;
    enum ds_lib lib;
} vnames[V_N] = {
    [V_RANGE] = {"cuMemGetAddressRange_v2", DS_LIB_CUDA},
    [V_DTOH] = {"cuMemcpyDtoHAsync_v2", DS_LIB_CUDA},
    [V_SYNC] = {"cuStreamSynchronize", DS_LIB_CUDA},
    [V_CAPTURING] = {"cuStreamIsCapturing", DS_LIB_CUDA},
    [V_FPARAM] = {"cuFuncGetParamInfo", DS_LIB_CUDA},
    [V_KPARAM] = {"cuKernelGetParamInfo", DS_LIB_CUDA},
    [V_RTPARAM] = {"cudaFuncGetParamInfo", DS_LIB_CUDART},
    [V_RTPEEK] = {"cudaPeekAtLastError", DS_LIB_CUDART},
    [V_RTGET] = {"cudaGetLastError", DS_LIB_CUDART},
    /* the digest kernel (hooked names among them resolve to the driver's, never the shim's) */
    [V_CTX] = {"cuCtxGetCurrent", DS_LIB_CUDA},
    [V_CTXID] = {"cuCtxGetId", DS_LIB_CUDA},
    [V_MODLOAD] = {"cuModuleLoadData", DS_LIB_CUDA},
    [V_MODFN] = {"cuModuleGetFunction", DS_LIB_CUDA},
    [V_LAUNCH] = {"cuLaunchKernel", DS_LIB_CUDA},
    [V_ALLOC] = {"cuMemAlloc_v2", DS_LIB_CUDA},
    [V_MEMSET] = {"cuMemsetD8Async", DS_LIB_CUDA},
    [V_CAPMODE] = {"cuThreadExchangeStreamCaptureMode", DS_LIB_CUDA},
};
static void *vfn[V_N];
static pthread_once_t vfn_once = PTHREAD_ONCE_INIT;
static void vfn_resolve(void)
{
    ds_depth++; /* resolution may run library constructors: let hooked calls pass */
    for (int i = 0; i < V_N; i++) vfn[i] = ds_resolve_symbol(vnames[i].name, vnames[i].lib, NULL);
    ds_depth--;
}
static void *vget(int i)
{
    pthread_once(&vfn_once, vfn_resolve);
    return vfn[i];
}
#define LAZY(var, id, type) \
    static type var(void) { return (type)vget(id); }

typedef CUresult (*range_t)(CUdeviceptr *, size_t *, CUdeviceptr);
typedef CUresult (*dtoh_async_t)(void *, CUdeviceptr, size_t, CUstream);
typedef CUresult (*sync_t)(CUstream);
typedef CUresult (*capturing_t)(CUstream, CUstreamCaptureStatus *);
typedef CUresult (*fparam_t)(CUfunction, size_t, size_t *, size_t *);
typedef CUresult (*kparam_t)(CUkernel, size_t, size_t *, size_t *);
typedef cudaError_t (*rtparam_t)(const void *, size_t, size_t *, size_t *);
typedef cudaError_t (*rterr_t)(void);
typedef CUresult (*ctx_t)(CUcontext *);
typedef CUresult (*ctxid_t)(CUcontext, unsigned long long *);
typedef CUresult (*modload_t)(CUmodule *, const void *);
typedef CUresult (*modfn_t)(CUfunction *, CUmodule, const char *);
typedef CUresult (*launch_t)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
typedef CUresult (*alloc_t)(CUdeviceptr *, size_t);
typedef CUresult (*memset_t)(CUdeviceptr, unsigned char, size_t, CUstream);
typedef CUresult (*capmode_t)(CUstreamCaptureMode *);
LAZY(p_range, V_RANGE, range_t)
LAZY(p_dtoh, V_DTOH, dtoh_async_t)
LAZY(p_sync, V_SYNC, sync_t)
LAZY(p_capturing, V_CAPTURING, capturing_t)
LAZY(p_fparam, V_FPARAM, fparam_t)
LAZY(p_kparam, V_KPARAM, kparam_t)
LAZY(p_rtparam, V_RTPARAM, rtparam_t)
LAZY(p_rtpeek, V_RTPEEK, rterr_t)
LAZY(p_rtget, V_RTGET, rterr_t)
LAZY(p_ctx, V_CTX, ctx_t)
LAZY(p_ctxid, V_CTXID, ctxid_t)
LAZY(p_modload, V_MODLOAD, modload_t)
LAZY(p_modfn, V_MODFN, modfn_t)
LAZY(p_launch, V_LAUNCH, launch_t)
LAZY(p_alloc, V_ALLOC, alloc_t)
LAZY(p_memset, V_MEMSET, memset_t)
LAZY(p_capmode, V_CAPMODE, capmode_t)

CUstream ds_hash_rt_stream(cudaStream_t s, bool ptsz)
{
    if (s == NULL && ptsz) return CU_STREAM_PER_THREAD;
    return (CUstream)s;
}

/* The allocation holding p, or false. */
bool ds_hash_range_of(CUdeviceptr p, CUdeviceptr *base, size_t *size);
bool ds_hash_range_of(CUdeviceptr p, CUdeviceptr *base, size_t *size)
{
    range_t f = p_range();
    if (!f || p == 0) return false;
    CUdeviceptr b = 0;
    size_t n = 0;
    if (f(&b, &n, p) != CUDA_SUCCESS || n == 0) return false;
    *base = b;
    *size = n;
    return true;
}

bool ds_hash_capturing(CUstream s);
bool ds_hash_capturing(CUstream s)
{
    capturing_t f = p_capturing();
    CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
    return f && f(s, &cs) == CUDA_SUCCESS && cs != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* ---- per-thread state ------------------------------------------------------------------ */
/* One pointer of static TLS per thread (a dlopen()ed copy of the shim must fit in the small
 * static TLS surplus); the state itself is on the heap, freed when the thread exits. */
#define CHUNK ((size_t)4 << 20)
#define RECBUF 65536
#define FCACHE 256
struct hash_tls {
    unsigned char *stage; /* staging buffer for device reads, grows to CHUNK */
    size_t stage_size;
    unsigned paths;       /* PATH_* bits: how device memory was digested for the next record */
    char rec[RECBUF];     /* one trace record */
    struct {
        uintptr_t ip;
        uint64_t h;
    } frames[FCACHE];     /* stable frame hashes by return address */
};
static DS_TLS struct hash_tls *tls;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static void tls_free(void *p)
{
    struct hash_tls *t = p;
    if (t) free(t->stage);
    free(t);
}
static void tls_init(void) { (void)pthread_key_create(&tls_key, tls_free); }

static struct hash_tls *tls_get(void)
{
    if (DS_LIKELY(tls != NULL)) return tls;
    pthread_once(&tls_once, tls_init);
    struct hash_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    tls = t;
    (void)pthread_setspecific(tls_key, t);
    return t;
}

static unsigned char *stage_get(size_t want)
{
    struct hash_tls *t = tls_get();
    if (!t) return NULL;
    if (want > CHUNK) want = CHUNK;
    if (t->stage && t->stage_size >= want) return t->stage;
    size_t n = t->stage_size ? t->stage_size : 65536;
    while (n < want) n *= 2;
    if (n > CHUNK) n = CHUNK;
    unsigned char *b = realloc(t->stage, n);
    if (!b) return NULL;
    t->stage = b;
    t->stage_size = n;
    return b;
}

/* ---- digests of device memory (digest.h): on the device, else on the host ------------------ */
#define PATH_DEVICE 1u
#define PATH_HOST 2u
static const char *const path_names[4] = {NULL, "device", "host", "device+host"};

/* On the host: the range copied back in CHUNK pieces on stream s and digested as it comes
 * (CHUNK is a multiple of 8, so each piece's first word index is its offset / 8). */
static bool host_digest(CUdeviceptr p, size_t n, CUstream s, uint64_t *out)
{
    dtoh_async_t cp = p_dtoh();
    sync_t sy = p_sync();
    if (!cp || !sy) return false;
    uint64_t sum = 0;
    unsigned char *buf = n ? stage_get(n) : NULL;
    if (n && !buf) return false;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t c = n - off < CHUNK ? n - off : CHUNK;
        if (cp(buf, p + off, c, s) != CUDA_SUCCESS || sy(s) != CUDA_SUCCESS) return false;
        sum += ds_digest_sum(buf, c, off / 8);
    }
    *out = ds_digest_final(sum, n);
    return true;
}

/* On the device. Per context: the digest kernel (NULL where it cannot run) and a pool of
 * result-slot buffers, one per thread digesting at that moment, which then returns it (so
 * threads that come and go leave nothing behind); the driver frees them with the context.
 * Contexts are told apart by cuCtxGetId (a destroyed context's handle can come back for a
 * new one), else by handle. */
extern const char ds_digest_ptx[];
#define SLOTS DS_HASH_MAX_RANGES /* ranges per batch */
#define BLOCK 256                /* threads per block: digest_kernel.cu's __launch_bounds__ */
#define MAX_BLOCKS 1024          /* about one wave on a large GPU; the kernel loops over the rest */
#define DCTX_MAX 64
struct scratch {
    CUdeviceptr slots;
    struct scratch *next;
};
static struct dctx {
    unsigned long long id;
    CUfunction fn;
    struct scratch *pool;
} dctx[DCTX_MAX];
static int ndctx;
static pthread_mutex_t dev_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool said_host;

/* Once per process: device memory is digested on the host somewhere, and why. */
static void say_host(unsigned long long ctx, const char *why, CUresult st)
{
    if (atomic_exchange(&said_host, true)) return;
    ds_notice("hash", false,
              "hash mode: the digest kernel cannot run in CUDA context %#llx (%s, error %d): device "
              "memory there is digested on the host instead (copied back: the same digests, slower)",
              ctx, why, (int)st);
}

/* Allocation and module loading are refused while another thread captures a graph in the
 * global mode: this thread switches to the relaxed mode around them. */
static bool capture_relaxed(CUstreamCaptureMode *m)
{
    capmode_t x = p_capmode();
    *m = CU_STREAM_CAPTURE_MODE_RELAXED;
    return x && x(m) == CUDA_SUCCESS;
}
static void capture_restore(bool exchanged, CUstreamCaptureMode *m)
{
    if (exchanged) p_capmode()(m);
}

/* Load the PTX into the current context (once per context, under dev_mu; the driver
 * JIT-compiles it for the device). Returns what failed, or NULL. */
static const char *dev_load(struct dctx *d, CUresult *st)
{
    modload_t load = p_modload();
    modfn_t getfn = p_modfn();
    *st = CUDA_ERROR_NOT_FOUND;
    if (!load || !getfn || !p_launch() || !p_alloc() || !p_memset() || !p_dtoh() || !p_sync())
        return "a driver function it needs is missing";
    CUmodule m = NULL;
    CUstreamCaptureMode mode;
    bool x = capture_relaxed(&mode);
    *st = load(&m, ds_digest_ptx);
    capture_restore(x, &mode);
    if (*st != CUDA_SUCCESS) return "cuModuleLoadData";
    if ((*st = getfn(&d->fn, m, "detshim_digest")) != CUDA_SUCCESS) {
        d->fn = NULL;
        return "cuModuleGetFunction";
    }
    return NULL;
}

/* The current context's entry and its kernel (*fn NULL: not usable there), loading it on
 * first use; NULL when the thread has no current context (the host path fails there too). */
static struct dctx *dev_ctx(CUfunction *fn)
{
    ctx_t cur = p_ctx();
    ctxid_t getid = p_ctxid();
    CUcontext c = NULL;
    *fn = NULL;
    if (atomic_load(&hash_host_only) || !cur || cur(&c) != CUDA_SUCCESS || !c) return NULL;
    unsigned long long id = 0;
    if (!getid || getid(c, &id) != CUDA_SUCCESS) id = (uintptr_t)c;
    const char *failed = NULL;
    CUresult st = CUDA_SUCCESS;
    pthread_mutex_lock(&dev_mu);
    struct dctx *d = NULL;
    for (int i = 0; i < ndctx && !d; i++)
        if (dctx[i].id == id) d = &dctx[i];
    if (!d && ndctx < DCTX_MAX) {
        d = &dctx[ndctx++];
        d->id = id;
        failed = dev_load(d, &st);
    } else if (!d) {
        failed = "the shim's table of contexts is full";
    }
    if (d) *fn = d->fn;
    pthread_mutex_unlock(&dev_mu);
    if (failed) say_host(id, failed, st);
    return d;
}

/* The device path stays off in a context where a step failed. */
static void dev_off(struct dctx *d, const char *what, CUresult st)
{
    pthread_mutex_lock(&dev_mu);
    d->fn = NULL;
    pthread_mutex_unlock(&dev_mu);
    say_host(d->id, what, st);
}

static struct scratch *slots_get(struct dctx *d, CUresult *st)
{
    pthread_mutex_lock(&dev_mu);
    struct scratch *sc = d->pool;
    if (sc) d->pool = sc->next;
    pthread_mutex_unlock(&dev_mu);
    if (sc) return sc;
    *st = CUDA_ERROR_OUT_OF_MEMORY;
    if (!(sc = malloc(sizeof *sc))) return NULL;
    CUstreamCaptureMode mode;
    bool x = capture_relaxed(&mode);
    *st = p_alloc()(&sc->slots, SLOTS * sizeof(uint64_t));
    capture_restore(x, &mode);
    if (*st != CUDA_SUCCESS) {
        free(sc);
        return NULL;
    }
    return sc;
}

static void slots_put(struct dctx *d, struct scratch *sc)
{
    pthread_mutex_lock(&dev_mu);
    sc->next = d->pool;
    d->pool = sc;
    pthread_mutex_unlock(&dev_mu);
}

/* Up to SLOTS ranges on the device: one memset of the slots, one launch per range, one copy of
 * the sums back, one synchronisation of s. False: digest them on the host. */
static bool dev_batch(const CUdeviceptr *p, const size_t *n, int k, CUstream s, uint64_t *out)
{
    CUfunction fn;
    struct dctx *d = dev_ctx(&fn);
    if (!d || !fn) return false;
    /* The kernel reads all of [p, p + n): only a range inside one allocation the driver knows
     * is read there (a bad range faults the whole context; the host path's copy just fails). */
    for (int r = 0; r < k; r++) {
        CUdeviceptr b;
        size_t sz;
        if (n[r] && (!ds_hash_range_of(p[r], &b, &sz) || n[r] > sz - (p[r] - b))) return false;
    }
    uint64_t sums[SLOTS];
    launch_t launch = p_launch();
    const char *what = "cuMemAlloc_v2";
    CUresult st;
    struct scratch *sc = slots_get(d, &st);
    if (!sc) goto fail;
    what = "cuMemsetD8Async";
    if ((st = p_memset()(sc->slots, 0, (size_t)k * sizeof(uint64_t), s)) != CUDA_SUCCESS) goto fail;
    what = "cuLaunchKernel";
    for (int r = 0; r < k; r++) {
        if (!n[r]) continue;
        CUdeviceptr src = p[r], slot = sc->slots + (CUdeviceptr)r * sizeof(uint64_t);
        unsigned long long bytes = n[r], want = ((bytes + 7) / 8 + BLOCK - 1) / BLOCK;
        unsigned blocks = want < MAX_BLOCKS ? (unsigned)want : MAX_BLOCKS;
        void *args[] = {&src, &bytes, &slot};
        if ((st = launch(fn, blocks, 1, 1, BLOCK, 1, 1, 0, s, args, NULL)) != CUDA_SUCCESS) goto fail;
    }
    what = "cuMemcpyDtoHAsync_v2";
    if ((st = p_dtoh()(sums, sc->slots, (size_t)k * sizeof(uint64_t), s)) != CUDA_SUCCESS) goto fail;
    what = "cuStreamSynchronize";
    if ((st = p_sync()(s)) != CUDA_SUCCESS) goto fail;
    slots_put(d, sc);
    for (int r = 0; r < k; r++) out[r] = ds_digest_final(sums[r], n[r]);
    return true;
fail:
    free(sc); /* not its slots: a kernel may still write them */
    dev_off(d, what, st);
    return false;
}

bool ds_hash_dev_many(const CUdeviceptr *p, const size_t *n, int k, CUstream s, uint64_t *out)
{
    if (k <= 0) return k == 0;
    if (ds_hash_capturing(s)) return false; /* nothing may be enqueued on a capturing stream */
    struct hash_tls *t = tls_get();
    for (int b = 0; b < k; b += SLOTS) {
        int m = k - b < SLOTS ? k - b : SLOTS;
        unsigned path = PATH_DEVICE;
        if (!dev_batch(p + b, n + b, m, s, out + b)) {
            path = PATH_HOST;
            for (int r = b; r < b + m; r++)
                if (!host_digest(p[r], n[r], s, &out[r])) return false;
        }
        if (t) t->paths |= path;
    }
    return true;
}

bool ds_hash_dev(CUdeviceptr p, size_t n, CUstream s, uint64_t *out)
{
    return ds_hash_dev_many(&p, &n, 1, s, out);
}

/* ---- kernels: names and parameter layouts, once per kernel --------------------------------- */
#define MAXPARAMS 1024
struct kmeta {
    const char *mangled, *demangled;
    int nparams;            /* -1: unknown */
    unsigned short *off, *size;
};
#define KM_SLOTS 16384
static struct {
    uintptr_t key;
    struct kmeta *m;
} kmeta_tab[KM_SLOTS];
static pthread_mutex_t kmeta_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kmeta kmeta_unknown = {"?", "?", -1, NULL, NULL};

static int params_rt(const void *fn, bool kernel_handle, size_t *off, size_t *sz)
{
    rtparam_t f = p_rtparam();
    int n = -1;
    if (f) {
        rterr_t peek = p_rtpeek(), clear = p_rtget();
        cudaError_t before = peek ? peek() : cudaSuccess;
        cudaError_t st = cudaSuccess;
        for (n = 0; n < MAXPARAMS; n++) {
            st = f(fn, (size_t)n, &off[n], &sz[n]);
            if (st != cudaSuccess) break;
        }
        if (st != cudaSuccess && before == cudaSuccess && clear) (void)clear();
        if (n == 0 && st != cudaErrorInvalidValue) n = -1;
    }
    if (n < 0 && kernel_handle && p_kparam()) {
        kparam_t k = p_kparam();
        CUresult st = CUDA_SUCCESS;
        for (n = 0; n < MAXPARAMS; n++) {
            st = k((CUkernel)(uintptr_t)fn, (size_t)n, &off[n], &sz[n]);
            if (st != CUDA_SUCCESS) break;
        }
        if (n == 0 && st != CUDA_ERROR_INVALID_VALUE) n = -1;
    }
    return n;
}

static int params_drv(const void *fn, size_t *off, size_t *sz)
{
    fparam_t f = p_fparam();
    if (!f) return -1;
    CUresult st = CUDA_SUCCESS;
    int n;
    for (n = 0; n < MAXPARAMS; n++) {
        st = f((CUfunction)(uintptr_t)fn, (size_t)n, &off[n], &sz[n]);
        if (st != CUDA_SUCCESS) break;
    }
    if (n == 0 && st != CUDA_ERROR_INVALID_VALUE) return -1;
    return n;
}

static struct kmeta *kmeta_make(const struct ds_hlaunch *l)
{
    struct kmeta *m = calloc(1, sizeof *m);
    size_t *off = malloc(sizeof *off * MAXPARAMS), *sz = malloc(sizeof *sz * MAXPARAMS);
    if (!m || !off || !sz) {
        free(m), free(off), free(sz);
        return &kmeta_unknown;
    }
    const char *name = ds_kernel_name((enum ds_kkind)l->kind, l->fn);
    m->mangled = strdup(name ? name : "?");
    char *dem = name ? ds_demangle(name) : NULL;
    m->demangled = dem ? dem : m->mangled;
    bool handle = l->hook == DS_HOOK___cudaLaunchKernel || l->hook == DS_HOOK___cudaLaunchKernel_ptsz;
    m->nparams = l->kind == DS_KK_RT ? params_rt(l->fn, handle, off, sz) : params_drv(l->fn, off, sz);
    if (m->nparams > 0) {
        m->off = malloc(sizeof *m->off * (size_t)m->nparams);
        m->size = malloc(sizeof *m->size * (size_t)m->nparams);
        if (!m->off || !m->size) {
            m->nparams = -1;
        } else {
            for (int i = 0; i < m->nparams; i++) {
                m->off[i] = (unsigned short)off[i];
                m->size[i] = (unsigned short)sz[i];
            }
        }
    }
    if (!m->mangled) m->mangled = m->demangled = "?";
    free(off);
    free(sz);
    return m;
}

static struct kmeta *kmeta_get(const struct ds_hlaunch *l)
{
    uintptr_t key = ds_kkey((enum ds_kkind)l->kind, l->fn);
    unsigned s = ds_kslot_of(key) & (KM_SLOTS - 1);
    pthread_mutex_lock(&kmeta_mu);
    struct kmeta *m = &kmeta_unknown;
    for (unsigned i = 0; i < KM_SLOTS; i++, s = (s + 1) & (KM_SLOTS - 1)) {
        if (kmeta_tab[s].key == key) {
            m = kmeta_tab[s].m;
            break;
        }
        if (kmeta_tab[s].key == 0) {
            m = kmeta_make(l);
            kmeta_tab[s].key = key;
            kmeta_tab[s].m = m;
            break;
        }
    }
    pthread_mutex_unlock(&kmeta_mu);
    return m;
}

/* ---- per-kind counters and call sites ---------------------------------------------------- */
#define CNT_SLOTS 65536
static struct {
    uint64_t key, count;
} counters[CNT_SLOTS];
#define SITE_SLOTS 16384
static uint64_t sites_seen[SITE_SLOTS];
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;

/* How many calls of this kind came before this one. */
static uint64_t count_kind(uint64_t key)
{
    uint64_t c = 0;
    pthread_mutex_lock(&tab_mu);
    for (unsigned i = 0, s = (unsigned)key & (CNT_SLOTS - 1); i < CNT_SLOTS;
         i++, s = (s + 1) & (CNT_SLOTS - 1)) {
        if (counters[s].key == key || counters[s].key == 0) {
            counters[s].key = key;
            c = counters[s].count++;
            break;
        }
    }
    pthread_mutex_unlock(&tab_mu);
    return c;
}

static bool site_first(uint64_t site)
{
    bool first = false;
    pthread_mutex_lock(&tab_mu);
    for (unsigned i = 0, s = (unsigned)site & (SITE_SLOTS - 1); i < SITE_SLOTS;
         i++, s = (s + 1) & (SITE_SLOTS - 1)) {
        if (sites_seen[s] == site) break;
        if (sites_seen[s] == 0) {
            sites_seen[s] = site;
            first = true;
            break;
        }
    }
    pthread_mutex_unlock(&tab_mu);
    return first;
}

/* A call site that is the same in every run of the program: the first frames as (module
 * name, offset), never raw addresses (ASLR). Frames are looked up through a small
 * per-thread cache. */
#define SITE_FRAMES 8
static uint64_t frame_hash(struct hash_tls *t, void *ip)
{
    unsigned s = (unsigned)(((uintptr_t)ip * 0x9e3779b97f4a7c15ull) >> 56) & (FCACHE - 1);
    if (t->frames[s].ip == (uintptr_t)ip) return t->frames[s].h;
    Dl_info di;
    uint64_t h;
    if (dladdr(ip, &di) && di.dli_fname) {
        const char *base = strrchr(di.dli_fname, '/');
        base = base ? base + 1 : di.dli_fname;
        uint64_t off = (uint64_t)((uintptr_t)ip - (uintptr_t)di.dli_fbase);
        h = ds_hash64(base, strlen(base), off);
    } else {
        h = 0x756e6b6e6f776eull; /* an anonymous frame (JIT code): only its presence counts */
    }
    t->frames[s].ip = (uintptr_t)ip;
    t->frames[s].h = h;
    return h;
}

struct site {
    void *ips[SITE_FRAMES];
    int n;
    uint64_t id;
};
static void site_capture(struct hash_tls *t, struct site *st, enum ds_hook hook)
{
    st->n = ds_bt_capture(st->ips, SITE_FRAMES);
    uint64_t h = ds_hash64(ds_hooks[hook].name, strlen(ds_hooks[hook].name), 0x73697465ull);
    /* called from Python with the GIL held, the native frames are the interpreter's, the
     * same for every Python line: the Python frames tell such sites apart */
    uint64_t py = ds_pystack_hash_stable(SITE_FRAMES);
    if (py) h = ds_hash64(&py, sizeof py, h);
    for (int i = 0; i < st->n; i++) {
        uint64_t f = frame_hash(t, st->ips[i]);
        h = ds_hash64(&f, sizeof f, h);
    }
    st->id = h;
}

/* ---- the trace file ------------------------------------------------------------------------ */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static pid_t trace_pid;
static bool trace_failed;
static _Atomic uint64_t trace_seq;
static char trace_path[DS_PATH_MAX];

static void trace_header(void)
{
    char buf[8192];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    jb_obj_begin(&jb);
    jb_str(&jb, "type", "trace_header");
    jb_str(&jb, "format", "detshim-hash-trace");
    jb_int(&jb, "version", 2);
    jb_int(&jb, "pid", (long long)getpid());
    char host[256] = "unknown";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    jb_str(&jb, "host", host);
    jb_str(&jb, "digest", DS_DIGEST_NAME);
    jb_str(&jb, "digest_path", atomic_load(&hash_host_only) ? "host" : "device");
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    jb_str(&jb, "exe", exe[0] ? exe : NULL);
    jb_obj_end(&jb);
    if (jb_finish(&jb)) {
        ssize_t w = write(trace_fd, buf, jb.len);
        (void)w;
    }
}

/* The trace of this process: the log's path with ".jsonl" replaced by ".trace.jsonl"
 * (".trace.jsonl" appended when the log's name has no ".jsonl"). */
/* A fork child has only the forking thread: locks another thread held are free again, and
 * its trace (a file of its own, seq from 1) counts calls afresh. */
void ds_hash_atfork_child(void)
{
    pthread_mutex_init(&trace_mu, NULL);
    pthread_mutex_init(&tab_mu, NULL);
    pthread_mutex_init(&kmeta_mu, NULL);
    pthread_mutex_init(&dev_mu, NULL);
    atomic_store(&said_host, false); /* its own log says it again */
    memset(counters, 0, sizeof counters);
    memset(sites_seen, 0, sizeof sites_seen);
}

static bool trace_open_locked(void)
{
    pid_t me = getpid();
    if (trace_fd >= 0 && trace_pid == me) return true;
    if (trace_pid != me) { /* first use, or a fork child: a file of its own */
        if (trace_fd >= 0) close(trace_fd);
        trace_fd = -1;
        trace_failed = false;
        atomic_store(&trace_seq, 0);
        trace_pid = me;
    }
    if (trace_failed) return false;
    char tmpl[DS_PATH_MAX], host[256] = "unknown", log[DS_PATH_MAX];
    const char *rank = ds_rank(ds_libc_getenv);
    if (ds_cfg.log_template_set)
        snprintf(tmpl, sizeof tmpl, "%s", ds_cfg.log_template);
    else
        snprintf(tmpl, sizeof tmpl, "%s", rank ? "detshim-%h-r%r-%p.jsonl" : "detshim-%h-%p.jsonl");
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    trace_failed = true;
    if (ds_expand_template(tmpl, log, sizeof log, host, (long)me, rank) != 0) return false;
    size_t n = strlen(log);
    if (n > 6 && strcmp(log + n - 6, ".jsonl") == 0) log[n - 6] = 0;
    if ((size_t)snprintf(trace_path, sizeof trace_path, "%s.trace.jsonl", log) >= sizeof trace_path)
        return false;
    int fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        ds_notice("hash", true, "cannot open the hash trace %s: hash mode records nothing",
                  trace_path);
        return false;
    }
    trace_fd = fd;
    trace_failed = false;
    trace_header();
    ds_notice("hash", false, "hash mode: trace %s", trace_path);
    return true;
}

static void trace_write(const char *rec, size_t len)
{
    pthread_mutex_lock(&trace_mu);
    if (trace_open_locked()) {
        ssize_t w = write(trace_fd, rec, len);
        if (w != (ssize_t)len && !trace_failed) {
            trace_failed = true;
            ds_notice("hash", true, "cannot write the hash trace %s: later records are missing",
                      trace_path);
        }
    }
    pthread_mutex_unlock(&trace_mu);
}

/* Records are built in the per-thread state (names and stacks can be long). */
static bool rec_begin(struct hash_tls *t, struct jbuf *jb, const char *call, const struct site *st)
{
    pthread_mutex_lock(&trace_mu);
    bool ok = trace_open_locked();
    pthread_mutex_unlock(&trace_mu);
    if (!ok) {
        t->paths = 0;
        return false;
    }
    jb_init(jb, t->rec, RECBUF);
    jb_obj_begin(jb);
    jb_str(jb, "type", "call");
    jb_uint(jb, "seq", atomic_fetch_add(&trace_seq, 1) + 1);
    jb_int(jb, "tid", (long long)gettid());
    jb_str(jb, "call", call);
    jb_hex(jb, "site", st->id);
    return true;
}

static void rec_end(struct jbuf *jb, const struct site *st)
{
    struct hash_tls *t = tls_get();
    if (t && t->paths) { /* how this record's digests of device memory were taken */
        jb_str(jb, "path", path_names[t->paths & 3]);
        t->paths = 0;
    }
    if (site_first(st->id)) {
        ds_bt_render(jb, "stack", st->ips, st->n);
        ds_pystack_render(jb); /* pystack, or pystack_note */
    }
    jb_obj_end(jb);
    if (jb_finish(jb)) trace_write(jb->p, jb->len);
}

/* ---- kernel launches ---------------------------------------------------------------------- */
static void combine(uint64_t *h, uint64_t v) { *h = ds_hash64(&v, sizeof v, *h); }

void ds_hash_launch_pre(struct ds_hlaunch *l)
{
    l->nranges = 0;
    l->skip = false;
    l->nparams = -1;
    uint64_t h = 0x696e707574ull;
    for (int i = 0; i < 3; i++) {
        combine(&h, l->grid[i]);
        combine(&h, l->block[i]);
    }
    combine(&h, l->smem);
    if (ds_hash_capturing(l->stream)) {
        l->skip = true; /* a stream being captured into a graph: no copy, no sync allowed */
        l->in_digest = h;
        return;
    }
    const struct kmeta *m = kmeta_get(l);
    /* the parameter bytes: from kernelParams (one pointer per parameter), or from the
     * packed extra buffer */
    const unsigned char *packed = NULL;
    size_t packed_size = 0;
    if (l->extra) {
        for (void **e = l->extra; *e != CU_LAUNCH_PARAM_END; e += 2) {
            if (*e == CU_LAUNCH_PARAM_BUFFER_POINTER)
                packed = e[1];
            else if (*e == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (e[1]) packed_size = *(size_t *)e[1];
            } else
                break; /* an option this layer does not know: stop reading */
        }
    }
    int np = m->nparams;
    bool from_params = l->params != NULL;
    if (np < 0 && packed) np = (int)(packed_size / 8); /* no layout: 8-byte words */
    if (np < 0 || (np > 0 && !from_params && !packed)) {
        l->nparams = -1;
        l->in_digest = h;
        return;
    }
    l->nparams = np;
    for (int i = 0; i < np; i++) {
        const unsigned char *v;
        size_t sz;
        if (m->nparams >= 0) {
            sz = m->size[i];
            v = from_params ? l->params[i] : packed + m->off[i];
            if (!from_params && (size_t)m->off[i] + sz > packed_size) break;
        } else {
            sz = 8;
            v = packed + 8 * (size_t)i;
        }
        if (!v) continue;
        if (sz == 8) {
            CUdeviceptr p, base;
            size_t size;
            memcpy(&p, v, 8);
            if (ds_hash_range_of(p, &base, &size)) {
                combine(&h, (uint64_t)i << 32 | 0x70);
                combine(&h, p - base); /* where it points, not the address itself */
                int dup = -1;
                for (int r = 0; r < l->nranges; r++)
                    if (l->base[r] == base) dup = r;
                if (dup < 0 && l->nranges < DS_HASH_MAX_RANGES) {
                    int r = l->nranges++;
                    l->arg[r] = i;
                    l->base[r] = base;
                    l->size[r] = size;
                    combine(&h, (uint64_t)r); /* its contents: below */
                } else if (dup >= 0) {
                    combine(&h, (uint64_t)dup);
                }
                continue;
            }
        }
        combine(&h, ds_hash_bytes(v, sz, (uint64_t)i));
    }
    /* the contents of every allocation reached, in one batch */
    if (!ds_hash_dev_many(l->base, l->size, l->nranges, l->stream, l->in))
        memset(l->in, 0, sizeof l->in);
    for (int r = 0; r < l->nranges; r++) combine(&h, l->in[r]);
    l->in_digest = h;
}

void ds_hash_launch_post(struct ds_hlaunch *l, int st)
{
    struct hash_tls *t = tls_get();
    if (!t) return;
    struct site site;
    site_capture(t, &site, l->hook);
    const struct kmeta *m = kmeta_get(l);
    struct jbuf jb;
    if (!rec_begin(t, &jb, ds_hooks[l->hook].name, &site)) return;
    jb_str(&jb, "kernel", m->demangled);
    jb_str(&jb, "kernel_mangled", m->mangled);
    jb_uint(&jb, "count", count_kind(ds_hash64(m->mangled, strlen(m->mangled), 0x6b696e64ull)));
    jb_arr_begin(&jb, "grid");
    for (int i = 0; i < 3; i++) jb_uint(&jb, NULL, l->grid[i]);
    jb_arr_end(&jb);
    jb_arr_begin(&jb, "block");
    for (int i = 0; i < 3; i++) jb_uint(&jb, NULL, l->block[i]);
    jb_arr_end(&jb);
    jb_int(&jb, "status", st);
    if (l->skip) {
        jb_str(&jb, "skipped", "stream capture in progress: no digest");
    } else if (l->nparams < 0) {
        jb_str(&jb, "skipped", "parameter layout unknown: no digest");
    } else {
        uint64_t out = 0x6f7574ull, d[DS_HASH_MAX_RANGES];
        bool ok = ds_hash_dev_many(l->base, l->size, l->nranges, l->stream, d);
        jb_int(&jb, "params", l->nparams);
        jb_hex(&jb, "in", l->in_digest);
        jb_arr_begin(&jb, "ranges");
        for (int r = 0; r < l->nranges; r++) {
            combine(&out, (uint64_t)l->arg[r]);
            combine(&out, ok ? d[r] : 0);
            jb_obj_begin(&jb);
            jb_int(&jb, "arg", l->arg[r]);
            jb_uint(&jb, "bytes", l->size[r]);
            jb_hex(&jb, "in", l->in[r]);
            if (ok) jb_hex(&jb, "out", d[r]); else jb_null(&jb, "out");
            jb_obj_end(&jb);
        }
        jb_arr_end(&jb);
        if (ok) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    rec_end(&jb, &site);
}

/* ---- copies and memsets (hash_hooks.c) ------------------------------------------------------ */
/* The opening of a copy's, memset's or library call's record (counted by symbol); false
 * when no record can be written. */
static bool rec_call_begin(struct jbuf *jb, struct site *site, enum ds_hook hook, const char *what,
                           size_t bytes, int st)
{
    struct hash_tls *t = tls_get();
    if (!t) return false;
    site_capture(t, site, hook);
    const char *name = ds_hooks[hook].name;
    if (!rec_begin(t, jb, name, site)) return false;
    jb_uint(jb, "count", count_kind(ds_hash64(name, strlen(name), 0x6b696e64ull)));
    jb_str(jb, "what", what);
    jb_uint(jb, "bytes", bytes);
    jb_int(jb, "status", st);
    return true;
}

void ds_hash_write_record(enum ds_hook hook, CUstream s, CUdeviceptr dst, size_t n, uint64_t in,
                          bool in_ok, int st, const char *what);
void ds_hash_write_record(enum ds_hook hook, CUstream s, CUdeviceptr dst, size_t n, uint64_t in,
                          bool in_ok, int st, const char *what)
{
    struct site site;
    struct jbuf jb;
    if (!rec_call_begin(&jb, &site, hook, what, n, st)) return;
    if (ds_hash_capturing(s)) {
        jb_str(&jb, "skipped", "stream capture in progress: no digest");
    } else {
        uint64_t out = 0;
        if (in_ok) jb_hex(&jb, "in", in); else jb_null(&jb, "in");
        if (st == 0 && ds_hash_dev(dst, n, s, &out)) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    rec_end(&jb, &site);
}

/* ---- library calls (hash_libs.c) --------------------------------------------------------- */
void ds_hash_write_lib(const struct ds_hcall *c, const uint64_t *after, bool after_ok, int st);
void ds_hash_write_lib(const struct ds_hcall *c, const uint64_t *after, bool after_ok, int st)
{
    size_t written = 0;
    for (int i = 0; i < c->nout; i++) written += c->bytes[i];
    struct site site;
    struct jbuf jb;
    if (!rec_call_begin(&jb, &site, c->hook, c->what, written, st)) return;
    if (c->skip) {
        jb_str(&jb, "skipped", c->skip);
    } else {
        if (c->in_ok) jb_hex(&jb, "in", c->in); else jb_null(&jb, "in");
        uint64_t out = 0x6f7574ull;
        jb_arr_begin(&jb, "ranges");
        for (int i = 0; i < c->n; i++) {
            jb_obj_begin(&jb);
            jb_str(&jb, "arg", c->name[i]);
            jb_uint(&jb, "bytes", c->bytes[i]);
            if (c->in_ok) jb_hex(&jb, "in", c->before[i]); else jb_null(&jb, "in");
            if (i < c->nout) {
                if (after_ok) jb_hex(&jb, "out", after[i]); else jb_null(&jb, "out");
                combine(&out, after_ok ? after[i] : 0);
            }
            jb_obj_end(&jb);
        }
        jb_arr_end(&jb);
        if (after_ok && st == 0) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    rec_end(&jb, &site);
}
