/* hash.h: hash mode (DETSHIM_HASH=1): a digest of what each intercepted call wrote to
 * device memory, one trace record per call, for `detshim diff TRACE_A TRACE_B`.
 *
 * Implemented in hash_state.c (configuration, shared state), hash_digest.c (digests of
 * device memory), hash_launch.c (kernel launches), hash_trace.c (the trace file and its
 * records), hash_hooks.c (the copy and memset hooks of layer "hash") and hash_libs.c
 * (library calls); hash_private.h is what they share. The kernels layer calls ds_hash_launch_pre /
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

/* Parse DETSHIM_HASH: returns 0 and sets *on (and *host for `host`: on, device memory
 * digested on the host only), or -1 after one message on err_fd naming the variable, the
 * value and the accepted values (hash mode then stays off). */
int ds_hash_parse(const char *v, bool *on, bool *host, int err_fd);

/* A 64-bit digest of n bytes of host memory (fast; not cryptographic), for what is not
 * device memory (scalars, call sites). Contents of device memory, and the host source of a
 * copy to the device, are digested with digest.h's ds_digest instead, on either side. */
uint64_t ds_hash_bytes(const void *p, size_t n, uint64_t seed);

/* Digests (digest.h) of k ranges of device memory read on stream s, which is then
 * synchronised (that stream only): on the device when the digest kernel runs in the current
 * context, else copied back to the host. False (out undefined) when any range could not be
 * read, or s is being captured into a graph (nothing is enqueued on it then). */
bool ds_hash_dev_many(const CUdeviceptr *p, const size_t *n, int k, CUstream s, uint64_t *out);
/* The same for one range. */
bool ds_hash_dev(CUdeviceptr p, size_t n, CUstream s, uint64_t *out);

#define DS_HASH_MAX_RANGES 64

/* One launch, as the kernels layer saw it. */
struct ds_hlaunch {
    enum ds_hook hook;   /* the launch function */
    int kind;            /* enum ds_kkind (kernel.h): how to name fn and read its parameters */
    const void *fn;      /* host stub, cudaKernel_t or CUfunction */
    const char *name;    /* the kernel's (mangled) name as the kernels layer knows it, or NULL */
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

/* ---- library calls that write device memory (hash_libs.c) ------------------------------
 * cuBLAS, cuBLASLt and cuDNN calls are digested over the extents their documentation gives
 * (a gemm's C: ldc x n elements, and so on), named: the layer lists what the call reads
 * (ds_hcall_in), the scalars that shape it (ds_hcall_scalar) and what it writes
 * (ds_hcall_out: its contents before the call count as an input too), then calls
 * ds_hcall_pre before and ds_hcall_post after the real function. */
#define DS_HCALL_MAX 24
struct ds_hcall {
    enum ds_hook hook;
    CUstream stream;
    const char *what;        /* the kind of call, e.g. "gemm": how two traces align */
    const char *skip;        /* why nothing could be digested (NULL: digests taken) */
    int n, nout;             /* ranges: outputs first (nout of them), then inputs */
    const char *name[DS_HCALL_MAX];
    CUdeviceptr p[DS_HCALL_MAX];
    size_t bytes[DS_HCALL_MAX];
    uint64_t before[DS_HCALL_MAX];
    uint64_t scalars;
    uint64_t in;             /* scalars and every range before the call */
    bool in_ok;
};
void ds_hcall_begin(struct ds_hcall *c, enum ds_hook hook, CUstream s, const char *what);
void ds_hcall_out(struct ds_hcall *c, const char *name, const void *p, size_t bytes);
void ds_hcall_in(struct ds_hcall *c, const char *name, const void *p, size_t bytes);
void ds_hcall_scalar(struct ds_hcall *c, uint64_t v);
/* A scalar given by pointer (alpha, beta): read in place when it is host memory, digested
 * as an input range when it is device memory. */
void ds_hcall_scalar_ptr(struct ds_hcall *c, const char *name, const void *p, size_t bytes);
/* Nothing can be digested (an unknown data type, a layout the shim cannot read): the
 * record says why; the call still gets its place in the trace. */
void ds_hcall_skip(struct ds_hcall *c, const char *why);
void ds_hcall_pre(struct ds_hcall *c);
void ds_hcall_post(struct ds_hcall *c, int status);
/* The size in bytes of one element of a cudaDataType, 0 when unknown. */
size_t ds_dtype_size(cudaDataType t);
/* Bytes spanned by a column-major rows x cols matrix with leading dimension ld, stored as
 * `batch` matrices `stride` elements apart; 0 when empty or malformed. */
size_t ds_matrix_bytes(int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride,
                       size_t elem);
#endif
