/* hash.h: hash mode (DETSHIM_HASH=1): a digest of what each intercepted call wrote to
 * device memory, one trace record per call, for `detshim diff TRACE_A TRACE_B`.
 *
 * Implemented in hash.c (configuration, digests, the trace file) and hash_hooks.c (the
 * copy and memset hooks of layer "hash"). The kernels layer calls ds_hash_launch_pre /
 * ds_hash_launch_post around a launch when ds_hash_on() says so. Off (the default), the
 * cost to a launch is one load and one predictable branch. */
#ifndef DETSHIM_HASH_H
#define DETSHIM_HASH_H
#include "hooks.h"

/* 0: not read yet, 1: off, 2: on */
extern _Atomic int ds_hash_state;
bool ds_hash_on_slow(void);

static inline bool ds_hash_on(void)
{
    int s = atomic_load_explicit(&ds_hash_state, memory_order_relaxed);
    if (DS_LIKELY(s == 1)) return false;
    if (s == 2) return ds_layer_active(DS_LAYER_HASH);
    return ds_hash_on_slow() && ds_layer_active(DS_LAYER_HASH);
}

/* True once hash mode is known to be off (the hot hooks' check; false while unread). */
static inline bool ds_hash_off(void)
{
    return atomic_load_explicit(&ds_hash_state, memory_order_relaxed) == 1;
}

/* Parse DETSHIM_HASH: returns 0 and sets *on, or -1 after one message on err_fd naming
 * the variable, the value and the accepted values (hash mode then stays off). */
int ds_hash_parse(const char *v, bool *on, int err_fd);

/* A 64-bit digest of n bytes of host memory (fast; not cryptographic). */
uint64_t ds_hash_bytes(const void *p, size_t n, uint64_t seed);

#define DS_HASH_MAX_RANGES 64

/* One launch, as the kernels layer saw it. */
struct ds_hlaunch {
    enum ds_hook hook;   /* the launch function */
    int kind;            /* enum ds_kkind (kernel.h): how to name fn and read its parameters */
    const void *fn;      /* host stub, cudaKernel_t or CUfunction */
    void **params;       /* kernelParams / args (may be NULL) */
    void **extra;        /* driver launches: the `extra` array (may be NULL) */
    CUstream stream;     /* the launch's stream (CU_STREAM_PER_THREAD for a _ptsz default) */
    unsigned grid[3], block[3];
    unsigned smem;
    /* filled by ds_hash_launch_pre */
    int nranges;
    int arg[DS_HASH_MAX_RANGES];
    CUdeviceptr base[DS_HASH_MAX_RANGES];
    size_t size[DS_HASH_MAX_RANGES];
    uint64_t in[DS_HASH_MAX_RANGES];
    uint64_t in_digest;  /* scalars, offsets, dimensions and the ranges' contents */
    int nparams;         /* -1: layout unknown */
    bool skip;           /* hash mode could not look at this launch */
};

/* Before the launch: find the allocations its pointer arguments reach and digest them. */
void ds_hash_launch_pre(struct ds_hlaunch *l);
/* After the launch (st: what it returned): digest the same allocations, write the record. */
void ds_hash_launch_post(struct ds_hlaunch *l, int st);

/* The stream a runtime launch ran on, as the driver names it. */
CUstream ds_hash_rt_stream(cudaStream_t s, bool ptsz);
#endif
