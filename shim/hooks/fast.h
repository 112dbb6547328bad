/* fast.h: the inline checks of the hot hooks (HOOK_FAST in hooks.def), made before
 * anything else: true means the layer has nothing to do with this call, and the front
 * jumps straight to the real function. Each check is a few loads
 * from tables the layer publishes; it never locks, allocates or calls out. When it says
 * false the layer's policy runs and makes the full check (and, where it can, publishes
 * the answer so that the next call takes the fast way). */
#ifndef DETSHIM_FAST_H
#define DETSHIM_FAST_H
#include "hash.h"
#include "launch.h"

/* The fronts (fronts_x86_64.S; DS_ASM_FRONTS, set by the build on x86-64): the exported
 * symbol of a hot hook is a few instructions of assembly that keep the caller's arguments
 * in place (registers saved and restored, stack untouched), ask a gate (gates.c) where to
 * go, and jump there: to the real function when the layer has nothing to do with the call, else to
 * the typed wrapper that runs the policy (ds_full_<name> in hooks.c). In C a wrapper passes
 * a dozen typed arguments on by reloading and storing back those on the stack, and a
 * register-only declaration would depend on the compiler making a tail call; assembly
 * depends on neither. Elsewhere the hot hooks are ordinary wrappers. */
struct ds_fastdesc {
    _Atomic(void *) *real;    /* &ds_real_ptr[hook] */
    _Atomic uint64_t *calls;  /* &ds_hook_calls[hook] */
    void *full;               /* the typed wrapper */
};
/* Where a front jumps, one gate per check (<check>_gate, named by hooks.def): `arg` is the
 * hook's argument the check reads. */
#define DS_GATE_DECL(check) void *check##_gate(const struct ds_fastdesc *d, uintptr_t arg);
DS_GATE_DECL(ds_fast_launch_rt)
DS_GATE_DECL(ds_fast_launch_drv)
DS_GATE_DECL(ds_fast_cublas_gemm)

/* A launch of a kernel already classified as not flagged, with hash mode off. */
static inline bool ds_fast_launch(enum ds_kkind kind, uintptr_t fn)
{
    if (DS_UNLIKELY(!ds_hash_off())) return false;
    return ds_kernel_known_clean(kind, fn); /* layers/kernels/kernel_check.h */
}
/* fn: a host stub or cudaKernel_t (runtime), a CUfunction (driver) */
static inline bool ds_fast_launch_rt(uintptr_t fn) { return ds_fast_launch(DS_KK_RT, fn); }
static inline bool ds_fast_launch_drv(uintptr_t fn) { return ds_fast_launch(DS_KK_DRV, fn); }

/* A launch trampoline's check (its assembly gate, or its C front elsewhere): true means call
 * the target straight away (the shim is on the stack, the layer is off, or the kernel is
 * clean; counted in the last case); false sends the call to the slow half, which counts it
 * and runs the check. f is the CUfunction. */
static inline bool ds_tramp_direct(const struct tslot *s, uintptr_t f)
{
    if (ds_in_shim() || !ds_layer_active(DS_LAYER_KERNELS)) return true;
    if (DS_LIKELY(ds_log_is_settled() && ds_fast_launch_drv(f))) {
        ds_count_only(s->hook);
        return true;
    }
    return false;
}

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
