/* hash_state.c: what every part of hash mode (DETSHIM_HASH=1) shares: its configuration,
 * the vendor functions it calls itself (resolved once, never through a hook), the
 * queries built on them (the allocation holding an address, a stream's capture state) and
 * per-thread state. It calls only core: hash_private.h lists the other files. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hash_private.h"

_Atomic int ds_hash_state;
_Atomic bool ds_hash_host_only; /* DETSHIM_HASH=host: never load the digest kernel */

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
    ds_hash_parse(secure_getenv("DETSHIM_HASH"), &on, &host, STDERR_FILENO);
    ds_hash_host_only = host;
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

/* ---- vendor functions, resolved once, never through a hook -------------------------------- */
/* All of them at once, by one thread (the others wait): a missing symbol makes the resolver
 * scan the loaded objects, and several threads doing that at once, with dlopen/dlclose in
 * between, is slow and trips ThreadSanitizer's interceptors. */
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
void *ds_hash_vget(int i)
{
    pthread_once(&vfn_once, vfn_resolve);
    return vfn[i];
}

CUstream ds_hash_rt_stream(cudaStream_t s, bool ptsz)
{
    if (s == NULL && ptsz) return CU_STREAM_PER_THREAD;
    return (CUstream)s;
}

/* The allocation holding p, or false. */
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

bool ds_hash_capturing(CUstream s)
{
    capturing_t f = p_capturing();
    CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
    return f && f(s, &cs) == CUDA_SUCCESS && cs != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* ---- per-thread state (struct hash_tls: hash_private.h) --------------------------------- */
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

struct hash_tls *ds_hash_tls_get(void)
{
    if (DS_LIKELY(tls != NULL)) return tls;
    pthread_once(&tls_once, tls_init);
    struct hash_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    tls = t;
    (void)pthread_setspecific(tls_key, t);
    return t;
}

unsigned char *ds_hash_stage_get(size_t want)
{
    struct hash_tls *t = ds_hash_tls_get();
    if (!t) return NULL;
    if (want > DS_HASH_CHUNK) want = DS_HASH_CHUNK;
    if (t->stage && t->stage_size >= want) return t->stage;
    size_t n = t->stage_size ? t->stage_size : 65536;
    while (n < want) n *= 2;
    if (n > DS_HASH_CHUNK) n = DS_HASH_CHUNK;
    unsigned char *b = realloc(t->stage, n);
    if (!b) return NULL;
    t->stage = b;
    t->stage_size = n;
    return b;
}
