/* hash_private.h: what the files of hash mode share among themselves (hash.h is what the
 * layers see). Nothing outside shim/hash/ includes it.
 *
 *   hash_state.c    configuration (DETSHIM_HASH), the vendor functions hash mode calls
 *                   itself, per-thread state
 *   hash_digest.c   digests: of device memory (the digest kernel, else copied back to the
 *                   host) and of host bytes
 *   hash_launch.c   kernel launches: names, parameter layouts, the ranges a launch reaches
 *   hash_trace.c    the trace file and its records (format, call sites, counts)
 *   hash_hooks.c    the copy and memset hooks, the fork child's reset
 *   hash_libs.c     library calls (ds_hcall_*, for the cuBLAS, cuBLASLt and cuDNN layers)
 *   cudnn_hash.c    the cuDNN calls' ranges (for the cuDNN layer)
 *
 * Calls go one way: hooks, libs and launch -> trace -> digest -> state -> core (and launch
 * -> the kernels layer's kernel_table.h for kernel names). */
#ifndef DETSHIM_HASH_PRIVATE_H
#define DETSHIM_HASH_PRIVATE_H
#include "hash.h"

/* ---- configuration (hash_state.c) ------------------------------------------------------- */
/* DETSHIM_HASH=host: never load the digest kernel, digest device memory on the host. */
extern _Atomic bool ds_hash_host_only;

/* ---- vendor functions, resolved once, never through a hook (hash_state.c) ---------------- */
enum { V_RANGE, V_DTOH, V_SYNC, V_CAPTURING, V_FPARAM, V_KPARAM, V_RTPARAM, V_RTPEEK, V_RTGET,
       V_CTX, V_CTXID, V_MODLOAD, V_MODFN, V_LAUNCH, V_ALLOC, V_MEMSET, V_CAPMODE, V_N };
/* The real function V_<id> (NULL when absent); all of them are resolved on the first call. */
void *ds_hash_vget(int id);

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
#define DS_HASH_VFN(var, id, type) \
    static inline type var(void) { return (type)ds_hash_vget(id); }
DS_HASH_VFN(p_range, V_RANGE, range_t)
DS_HASH_VFN(p_dtoh, V_DTOH, dtoh_async_t)
DS_HASH_VFN(p_sync, V_SYNC, sync_t)
DS_HASH_VFN(p_capturing, V_CAPTURING, capturing_t)
DS_HASH_VFN(p_fparam, V_FPARAM, fparam_t)
DS_HASH_VFN(p_kparam, V_KPARAM, kparam_t)
DS_HASH_VFN(p_rtparam, V_RTPARAM, rtparam_t)
DS_HASH_VFN(p_rtpeek, V_RTPEEK, rterr_t)
DS_HASH_VFN(p_rtget, V_RTGET, rterr_t)
DS_HASH_VFN(p_ctx, V_CTX, ctx_t)
DS_HASH_VFN(p_ctxid, V_CTXID, ctxid_t)
DS_HASH_VFN(p_modload, V_MODLOAD, modload_t)
DS_HASH_VFN(p_modfn, V_MODFN, modfn_t)
DS_HASH_VFN(p_launch, V_LAUNCH, launch_t)
DS_HASH_VFN(p_alloc, V_ALLOC, alloc_t)
DS_HASH_VFN(p_memset, V_MEMSET, memset_t)
DS_HASH_VFN(p_capmode, V_CAPMODE, capmode_t)

/* The allocation holding p, or false. */
bool ds_hash_range_of(CUdeviceptr p, CUdeviceptr *base, size_t *size);
/* True when s is being captured into a graph (nothing may be enqueued on it then). */
bool ds_hash_capturing(CUstream s);

/* ---- per-thread state (hash_state.c) ---------------------------------------------------- */
/* One pointer of static TLS per thread (a dlopen()ed copy of the shim must fit in the small
 * static TLS surplus); the state itself is on the heap, freed when the thread exits. */
#define DS_HASH_CHUNK ((size_t)4 << 20)
#define DS_HASH_RECBUF 65536
#define DS_HASH_FCACHE 256
#define DS_HASH_PATH_DEVICE 1u
#define DS_HASH_PATH_HOST 2u
struct hash_tls {
    unsigned char *stage; /* staging buffer for device reads, grows to DS_HASH_CHUNK */
    size_t stage_size;
    unsigned paths;       /* DS_HASH_PATH_* bits: how device memory was digested for the next
                           * record (hash_digest.c sets them, hash_trace.c writes them) */
    char rec[DS_HASH_RECBUF]; /* one trace record */
    struct {
        uintptr_t ip;
        uint64_t h;
    } frames[DS_HASH_FCACHE]; /* stable frame hashes by return address */
};
/* This thread's state (NULL when out of memory). */
struct hash_tls *ds_hash_tls_get(void);
/* This thread's staging buffer, at least min(want, DS_HASH_CHUNK) bytes, or NULL. */
unsigned char *ds_hash_stage_get(size_t want);

/* ---- fork child (ds_hash_atfork_child, hash_hooks.c): each file frees its own locks and
 * forgets what its parent counted -------------------------------------------------------- */
void ds_hash_digest_atfork_child(void);
void ds_hash_launch_atfork_child(void);
void ds_hash_trace_atfork_child(void);

/* ---- records (hash_trace.c) ------------------------------------------------------------- */
static inline void ds_hash_combine(uint64_t *h, uint64_t v) { *h = ds_hash64(&v, sizeof v, *h); }

/* A call site that is the same in every run of the program (hash_trace.c says how). */
#define DS_HASH_SITE_FRAMES 8
struct hash_site {
    void *ips[DS_HASH_SITE_FRAMES];
    int n;
    uint64_t id;
};
/* How many calls of this kind (key) came before this one. */
uint64_t ds_hash_count_kind(uint64_t key);
/* Capture this call's site and open a record for hook (type, seq, tid, call, site), built in
 * the per-thread state; false when no record can be written (the trace cannot be opened). */
bool ds_hash_rec_begin(struct jbuf *jb, struct hash_site *site, enum ds_hook hook);
/* Close the record (digest path, the site's stack on its first sighting) and write it. */
void ds_hash_rec_end(struct jbuf *jb, const struct hash_site *site);

/* A copy's or a memset's record: in (in_ok false: not read) and the digest of the n bytes
 * written at dst, read on stream s after the call (st: what it returned). */
void ds_hash_write_record(enum ds_hook hook, CUstream s, CUdeviceptr dst, size_t n, uint64_t in,
                          bool in_ok, int st, const char *what);
/* A library call's record (hash_libs.c): its ranges, before and after. */
void ds_hash_write_lib(const struct ds_hcall *c, const uint64_t *after, bool after_ok, int st);
#endif
