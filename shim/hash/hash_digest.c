/* hash_digest.c: hash mode's digests. Of device memory (digest.h defines them, for both
 * sides), and of host bytes that are not device memory (ds_hash_bytes: scalars, call sites).
 *
 * Digests of device memory are taken on the device: once per CUDA context the embedded PTX
 * of digest_kernel.cu is loaded with the real driver functions; a batch of k ranges on stream s is then one memset of k result slots, one
 * kernel launch per range, one copy of k * 8 bytes back and cuStreamSynchronize of s only.
 * The slots come from a small per-context pool of device buffers (one per thread digesting
 * at the same time). Where the kernel cannot run (the driver cannot JIT the PTX, a missing
 * function, any error; or DETSHIM_HASH=host) the same digest is computed on the host: each
 * range is copied back in 4 MiB chunks with the real cuMemcpyDtoHAsync_v2 on the call's
 * stream into a per-thread buffer of at most 4 MiB (freed when the thread exits). Either
 * way the bits are the same, so traces compare whichever path produced them; the log says
 * once when the device path is unavailable, and each trace record names its path. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "hash_private.h"

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

/* ---- digests of device memory (digest.h): on the device, else on the host ------------------ */
/* On the host: the range copied back in DS_HASH_CHUNK pieces on stream s and digested as it
 * comes (DS_HASH_CHUNK is a multiple of 8, so each piece's first word index is its
 * offset / 8). */
static bool host_digest(CUdeviceptr p, size_t n, CUstream s, uint64_t *out)
{
    dtoh_async_t cp = p_dtoh();
    sync_t sy = p_sync();
    if (!cp || !sy) return false;
    uint64_t sum = 0;
    unsigned char *buf = n ? ds_hash_stage_get(n) : NULL;
    if (n && !buf) return false;
    for (size_t off = 0; off < n; off += DS_HASH_CHUNK) {
        size_t c = n - off < DS_HASH_CHUNK ? n - off : DS_HASH_CHUNK;
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
    if (atomic_load(&ds_hash_host_only) || !cur || cur(&c) != CUDA_SUCCESS || !c) return NULL;
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
    struct hash_tls *t = ds_hash_tls_get();
    for (int b = 0; b < k; b += SLOTS) {
        int m = k - b < SLOTS ? k - b : SLOTS;
        unsigned path = DS_HASH_PATH_DEVICE;
        if (!dev_batch(p + b, n + b, m, s, out + b)) {
            path = DS_HASH_PATH_HOST;
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

void ds_hash_digest_atfork_child(void)
{
    pthread_mutex_init(&dev_mu, NULL);
    atomic_store(&said_host, false); /* its own log says it again */
}
