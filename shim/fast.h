/* fast.h: the inline checks of the hot hooks (HOOK_FAST in hooks.def), made by the
 * generated wrapper before anything else: true means the layer has nothing to do with this
 * call, and the wrapper jumps straight to the real function. Each check is a few loads
 * from tables the layer publishes; it never locks, allocates or calls out. When it says
 * false the layer's policy runs and makes the full check (and, where it can, publishes
 * the answer so that the next call takes the fast way). */
#ifndef DETSHIM_FAST_H
#define DETSHIM_FAST_H
#include "hash.h"
#include "kernel.h"

/* Forwarding a call by jumping (hooks.c says why): a function declared with the argument
 * registers only, as `long` each, passes any call whose arguments are integers, pointers or
 * small structs of integers on unchanged, stack arguments included. Not defined on other
 * architectures: the hot hooks there are ordinary wrappers. */
#if defined(__x86_64__)
#define DS_FWD_PARAMS long a0, long a1, long a2, long a3, long a4, long a5
#define DS_FWD_ARGS a0, a1, a2, a3, a4, a5
#elif defined(__aarch64__)
#define DS_FWD_PARAMS long a0, long a1, long a2, long a3, long a4, long a5, long a6, long a7
#define DS_FWD_ARGS a0, a1, a2, a3, a4, a5, a6, a7
#endif
#ifdef DS_FWD_PARAMS
typedef long (*ds_fwd_t)(DS_FWD_PARAMS);
#endif
/* The typed function a forwarder jumps to by a register-only alias must stay opaque to the
 * compiler: seen through, the call would look like one with arguments missing. */
#if defined(__clang__)
#define DS_OPAQUE __attribute__((noinline))
#else
#define DS_OPAQUE __attribute__((noinline, noipa))
#endif

/* A launch of a kernel already classified as not flagged, with hash mode off. */
static inline bool ds_fast_launch(enum ds_kkind kind, uintptr_t fn)
{
    if (DS_UNLIKELY(!ds_hash_off())) return false;
    uintptr_t key = ds_kkey(kind, (const void *)fn);
    const struct ds_kslot *s = &ds_kslots[ds_kslot_of(key)];
    if (DS_UNLIKELY(atomic_load_explicit(&s->key, memory_order_acquire) != key)) return false;
    const struct ds_kinfo *i = atomic_load_explicit(&s->info, memory_order_acquire);
    return DS_LIKELY(i != NULL) && !i->flagged;
}
/* fn: a host stub or cudaKernel_t (runtime), a CUfunction (driver) */
static inline bool ds_fast_launch_rt(uintptr_t fn) { return ds_fast_launch(DS_KK_RT, fn); }
static inline bool ds_fast_launch_drv(uintptr_t fn) { return ds_fast_launch(DS_KK_DRV, fn); }

/* cuBLAS handles (layer_cublas.c): per tracked handle, at the slot its hash picks first,
 * the handle and two counters. `ver` moves whenever the handle's stream or workspace
 * changes; the gemm check stores in `ok_ver` the `ver` it passed at, when its answer holds
 * until the next change. */
#define DS_CUBLAS_SLOTS 256 /* power of two */
struct ds_cublas_fast {
    _Atomic uintptr_t key;
    _Atomic uint32_t ver, ok_ver;
};
extern struct ds_cublas_fast ds_cublas_fast[DS_CUBLAS_SLOTS];
static inline unsigned ds_cublas_slot(uintptr_t k)
{
    return (unsigned)(((uint64_t)k >> 4) * 0x9e3779b97f4a7c15ull >> 40) & (DS_CUBLAS_SLOTS - 1);
}

/* A gemm-family routine on a handle whose (stream, workspace) already passed the check. */
static inline bool ds_fast_cublas_gemm(uintptr_t handle)
{
    if (DS_UNLIKELY(!ds_hash_off())) return false;
    const struct ds_cublas_fast *f = &ds_cublas_fast[ds_cublas_slot(handle)];
    if (DS_UNLIKELY(atomic_load_explicit(&f->key, memory_order_relaxed) != handle))
        return false;
    return atomic_load_explicit(&f->ok_ver, memory_order_relaxed) ==
           atomic_load_explicit(&f->ver, memory_order_acquire);
}
#endif
