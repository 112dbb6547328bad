/* cublas_layer.h: what the files of the cuBLAS layer (legacy API) share. Not for other
 * layers.
 *
 *   cublas_alloc.c     the layer's settings and the device memory of its own workspaces
 *   cublas_handles.c   handles, their streams and workspaces: cublasCreate/Destroy,
 *                      cublasSetStream, cublasSetWorkspace
 *   cublas_routines.c  the check at each gemm-family and symv/hemv routine (and hash mode's
 *                      view of a gemm)
 *   cublas_modes.c     atomics and math modes
 *
 * cuBLAS is bitwise reproducible run to run only while each stream that runs its
 * routines has a workspace of its own (or CUBLAS_WORKSPACE_CONFIG is :4096:8 or :16:8),
 * and while the atomics implementations of symv/hemv are not allowed. The shim:
 *
 *  - tracks every handle (created through cublasCreate_v2) with its current stream and
 *    the workspace in force: cuBLAS's default pool, none, or a buffer;
 *  - enforce/strict: when a gemm-family routine would run on cuBLAS's default pool (where
 *    cublasSetStream_v2 leaves a handle) on a handle seen on more than one stream, installs
 *    a workspace the shim owns for that (handle, stream) pair, allocated on that first need
 *    with the real cudaMalloc (cuMemAlloc_v2 when libcudart is not loaded),
 *    DETSHIM_CUBLAS_WORKSPACE_SIZE bytes (32 MiB by default, NVIDIA's size for Hopper), and
 *    freed when the stream or the handle is destroyed; a program that sets its own
 *    workspace after each cublasSetStream (PyTorch) costs nothing; a buffer the program
 *    sets on a second stream is replaced by the pair's own;
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
#ifndef DETSHIM_CUBLAS_LAYER_H
#define DETSHIM_CUBLAS_LAYER_H
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "hash.h"

/* ---- settings and device memory (cublas_alloc.c) -------------------------------------- */
struct cb_cfg {
    bool pedantic;  /* DETSHIM_PEDANTIC_MATH */
    size_t ws_size; /* DETSHIM_CUBLAS_WORKSPACE_SIZE; 0: install none */
};
extern struct cb_cfg cb_cfg;
/* Settings and runtime functions, read once (on the first hooked call). */
void cb_cfg_get(void);
/* The current device; -1 when unknown (the program's pending error is left alone). */
int cb_current_device(void);
/* Device memory on `device`; NULL (said once) when it cannot be had, or (*retry) when it
 * was not tried because the program has a runtime error pending. */
void *cb_dev_alloc(int device, size_t n, bool *retry);
void cb_dev_free(int device, void *p);

/* ---- handles, streams, workspaces (cublas_handles.c) --------------------------------- */
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
    _Atomic uint32_t emu_said;   /* bit per emulation setter already logged for this handle */
    struct pair pairs[MAX_STREAMS];
};

extern struct hstate cb_handles[MAX_HANDLES];
struct hstate *cb_hfind(cublasHandle_t handle);
/* The gemm fast check's entry for a tracked handle (fast.h). */
static inline struct ds_cublas_fast *cb_fast(const struct hstate *h)
{
    return &ds_cublas_fast[h - cb_handles];
}
/* Lock-free: the stream a program buffer was first set for (true), or false when the buffer
 * is new (inserted with stream s when `insert`) or cannot be remembered. */
bool cb_buf_owner(void *ws, cudaStream_t s, bool insert, uintptr_t *owner);
/* enforce: give the pair pi, about to run a routine on cuBLAS's default pool, its own
 * workspace (allocated on first need). False when it should not or could not. */
bool cb_install_on_demand(enum ds_hook hook, struct hstate *h, cublasHandle_t handle, int pi);

/* ---- event details -------------------------------------------------------------------- */
struct ws_info {
    cublasHandle_t handle;
    cudaStream_t stream, other;
    bool has_other;
    uintptr_t ws;
    size_t size;
    void *replaced;     /* the program's buffer the shim replaced */
    const char *wsconfig;
};
void cb_hexp(struct jbuf *jb, const char *key, const void *p);
void cb_ws_extra(struct jbuf *jb, void *arg);     /* a struct ws_info */
void cb_handle_extra(struct jbuf *jb, void *arg); /* a struct ws_info: the handle only */
#endif
