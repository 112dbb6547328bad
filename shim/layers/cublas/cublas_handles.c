/* cublas_handles.c: the cuBLAS handles the shim tracks, the stream each runs on and the
 * workspace in force (cuBLAS's default pool, none, or a buffer), and the policy at
 * cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2 and cublasSetWorkspace_v2: one
 * workspace per (handle, stream) pair (cublas_layer.h says why). */
#include "cublas_layer.h"

/* ---- handles, streams, workspaces ---------------------------------------------------- */
struct hstate cb_handles[MAX_HANDLES];
/* The gemm fast check's view of cb_handles[i] (fast.h): the same slots. */
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
    atomic_fetch_add_explicit(&ds_cublas_fast[h - cb_handles].ver, 1, memory_order_release);
}
static void hkey(struct hstate *h, uintptr_t k)
{
    atomic_store_explicit(&h->key, k, memory_order_release);
    atomic_store_explicit(&ds_cublas_fast[h - cb_handles].key, k, memory_order_relaxed);
    hchanged(h);
}

struct hstate *cb_hfind(cublasHandle_t handle)
{
    uintptr_t k = (uintptr_t)handle;
    if (k <= KEY_DEAD) return NULL;
    for (unsigned i = 0, s = hash_ptr(k, MAX_HANDLES - 1); i < MAX_HANDLES;
         i++, s = (s + 1) & (MAX_HANDLES - 1)) {
        uintptr_t v = atomic_load_explicit(&cb_handles[s].key, memory_order_acquire);
        if (v == k) return &cb_handles[s];
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
    pthread_mutex_lock(&slow);
    int device = cb_current_device();
    struct hstate *h = cb_hfind(handle), *slot = h;
    for (unsigned i = 0, s = hash_ptr(k, MAX_HANDLES - 1); !slot && i < MAX_HANDLES;
         i++, s = (s + 1) & (MAX_HANDLES - 1)) {
        uintptr_t v = atomic_load_explicit(&cb_handles[s].key, memory_order_relaxed);
        if (v == KEY_EMPTY || v == KEY_DEAD) slot = &cb_handles[s];
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
    slot->env_safe = wsconfig_safe(secure_getenv("CUBLAS_WORKSPACE_CONFIG"));
    atomic_store_explicit(&slot->npairs, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->ws, WS_DEFAULT, memory_order_relaxed);
    atomic_store_explicit(&slot->default_pair, -1, memory_order_relaxed);
    atomic_store_explicit(&slot->atomics, CUBLAS_ATOMICS_NOT_ALLOWED, memory_order_relaxed);
    atomic_store_explicit(&slot->math_said, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->emu_said, 0, memory_order_relaxed);
    /* a new handle runs on the legacy default stream */
    atomic_store_explicit(&slot->cur, pair_get_locked(slot, NULL), memory_order_relaxed);
    hkey(slot, k);
    pthread_mutex_unlock(&slow);
    return slot;
}

static void hdrop(cublasHandle_t handle)
{
    pthread_mutex_lock(&slow);
    struct hstate *h = cb_hfind(handle);
    if (h) {
        hkey(h, KEY_DEAD);
        int n = atomic_load_explicit(&h->npairs, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            struct pair *p = &h->pairs[i];
            int r = atomic_load_explicit(&p->nrec, memory_order_relaxed);
            for (int j = 0; j < r; j++) cb_dev_free(h->device, p->rec[j].ptr);
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
        bool retry;
        void *m = cb_dev_alloc(h->device, need, &retry);
        if (m) {
            p->rec[r].ptr = m;
            p->rec[r].size = need;
            atomic_store_explicit(&p->nrec, r + 1, memory_order_release);
            *out = p->rec[r];
            *fresh = ok = true;
        } else if (r == 0 && !retry)
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

bool cb_buf_owner(void *ws, cudaStream_t s, bool insert, uintptr_t *owner)
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
void cb_hexp(struct jbuf *jb, const char *key, const void *p) { jb_hex(jb, key, (uintptr_t)p); }

void cb_ws_extra(struct jbuf *jb, void *arg)
{
    const struct ws_info *w = arg;
    cb_hexp(jb, "handle", w->handle);
    cb_hexp(jb, "stream", w->stream);
    if (w->has_other) cb_hexp(jb, "other_stream", w->other);
    if (w->ws == WS_DEFAULT)
        jb_str(jb, "workspace", "default");
    else if (w->ws == WS_NONE)
        jb_str(jb, "workspace", "none");
    else {
        jb_hex(jb, "workspace", w->ws);
        jb_uint(jb, "workspace_size", w->size);
    }
    if (w->replaced) cb_hexp(jb, "replaced", w->replaced);
    jb_str(jb, "workspace_config", w->wsconfig);
}

/* ---- cublasCreate_v2 / cublasDestroy_v2 ---------------------------------------------- */
void cb_handle_extra(struct jbuf *jb, void *arg)
{
    const struct ws_info *w = arg;
    cb_hexp(jb, "handle", w->handle);
}

static void create_extra(struct jbuf *jb, void *arg)
{
    struct ws_info *w = arg;
    if (w->handle) cb_hexp(jb, "handle", w->handle);
    jb_str(jb, "workspace_config", w->wsconfig);
}

cublasStatus_t ds_policy_cublasCreate_v2(cublasHandle_t *handle)
{
    cb_cfg_get();
    cublasStatus_t st = DS_REAL(cublasCreate_v2)(handle);
    cublasHandle_t h = st == CUBLAS_STATUS_SUCCESS && handle ? *handle : NULL;
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0)) {
        char detail[128];
        snprintf(detail, sizeof detail, "cuBLAS handle %p created (status %d)", (void *)h, (int)st);
        struct ws_info w = {.handle = h, .wsconfig = secure_getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, create_extra, &w);
    }
    if (h) {
        hadd(h);
        if (ds_enforcing() && cb_cfg.pedantic) {
            cublasStatus_t m = DS_REAL(cublasSetMathMode)(h, CUBLAS_PEDANTIC_MATH);
            if (ds_event_capture(&ev, DS_HOOK_cublasCreate_v2, DS_ACT_FORCED, CUBLAS_PEDANTIC_MATH)) {
                char detail[192];
                snprintf(detail, sizeof detail,
                         "new cuBLAS handle set to CUBLAS_PEDANTIC_MATH (DETSHIM_PEDANTIC_MATH=1; "
                         "status %d)", (int)m);
                struct ws_info w = {.handle = h, .wsconfig = secure_getenv("CUBLAS_WORKSPACE_CONFIG")};
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
                               .wsconfig = secure_getenv("CUBLAS_WORKSPACE_CONFIG")};
        ds_event_log(&ev, detail, cb_ws_extra, &info);
    }
    return true;
}

cublasStatus_t ds_policy_cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    cublasStatus_t st = DS_REAL(cublasSetStream_v2)(handle, streamId);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    struct hstate *h = cb_hfind(handle);
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
    /* nothing installed here: a program that sets its own workspace next (PyTorch) costs
     * nothing; a routine that would run on the default pool gets the pair's own
     * (cb_install_on_demand, from the routine check) */
    return st;
}

bool cb_install_on_demand(enum ds_hook hook, struct hstate *h, cublasHandle_t handle, int pi)
{
    /* a handle seen on one stream only, or a safe CUBLAS_WORKSPACE_CONFIG at create (the
     * user's own): the default pool is not shared */
    if (!ds_enforcing() || h->env_safe || atomic_load_explicit(&h->npairs, memory_order_acquire) < 2)
        return false;
    cb_cfg_get();
    cublasStatus_t st;
    return cb_cfg.ws_size && install_own(handle, h, pi, cb_cfg.ws_size, hook, NULL, &st);
}

/* ---- a stream destroyed: the pairs on it give their workspaces back ------------------- */
static void stream_gone(cudaStream_t s)
{
    if (!s) return; /* the legacy default stream is never destroyed */
    pthread_mutex_lock(&slow);
    for (unsigned i = 0; i < MAX_HANDLES; i++) {
        struct hstate *h = &cb_handles[i];
        uintptr_t k = atomic_load_explicit(&h->key, memory_order_relaxed);
        if (k <= KEY_DEAD) continue;
        int n = atomic_load_explicit(&h->npairs, memory_order_relaxed);
        for (int j = 0; j < n; j++) {
            struct pair *p = &h->pairs[j];
            if (p->stream != s) continue;
            int r = atomic_load_explicit(&p->nrec, memory_order_relaxed);
            uintptr_t ws = atomic_load_explicit(&h->ws, memory_order_relaxed);
            for (int q = 0; q < r; q++) {
                if ((uintptr_t)p->rec[q].ptr == ws) {
                    /* the handle still points at it: it must not run there again unseen */
                    atomic_store_explicit(&h->ws, WS_DEFAULT, memory_order_relaxed);
                    hchanged(h);
                }
                cb_dev_free(h->device, p->rec[q].ptr);
            }
            atomic_store_explicit(&p->nrec, 0, memory_order_release);
            p->failed = false; /* a new stream at this address may get one again */
        }
    }
    pthread_mutex_unlock(&slow);
}

/* After the real destroy: cudaFree waits for work still using the workspace. */
cudaError_t ds_policy_cudaStreamDestroy(cudaStream_t stream)
{
    cudaError_t e = DS_REAL(cudaStreamDestroy)(stream);
    if (e == cudaSuccess) stream_gone(stream);
    return e;
}

CUresult ds_policy_cuStreamDestroy_v2(CUstream hStream)
{
    CUresult e = DS_REAL(cuStreamDestroy_v2)(hStream);
    if (e == CUDA_SUCCESS) stream_gone((cudaStream_t)hStream);
    return e;
}

cublasStatus_t ds_policy_cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t size)
{
    struct hstate *h = cb_hfind(handle);
    uintptr_t id = !workspace || size == 0 ? WS_NONE : (uintptr_t)workspace;
    int pi = h ? atomic_load_explicit(&h->cur, memory_order_relaxed) : -1;
    if (pi >= 0 && id != WS_NONE) {
        cudaStream_t s = h->pairs[pi].stream;
        uintptr_t owner;
        if (cb_buf_owner(workspace, s, true, &owner) && owner != (uintptr_t)s && ds_enforcing()) {
            cb_cfg_get();
            cublasStatus_t st;
            if (cb_cfg.ws_size &&
                install_own(handle, h, pi, size > cb_cfg.ws_size ? size : cb_cfg.ws_size,
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
