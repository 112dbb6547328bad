/* gates.c: where the assembly fronts of the hot hooks and of the launch trampolines jump
 * (fronts_x86_64.S; fast.h says why). A gate returns the real function when the shim is on
 * the stack, the layer is off, or the layer's check passes (the call is then counted here),
 * and otherwise the typed wrapper that resolves, counts and runs the policy.
 *
 * This file is compiled with rcx, rdx, r8 and r9 callee-saved (-fcall-saved-*, gcc), so that
 * a front saves only the two argument registers it passes the gate's arguments in; the build
 * says so with DS_GATES_KEEP_ARGS, and the fronts save all six argument registers when it
 * does not (clang has no such option). Integer code only: vector registers, which no hot
 * hook takes arguments in, stay caller-saved. */
#include "fast.h"

#if defined(DS_GATES_KEEP_ARGS) && (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#error "gates that keep the argument registers must not call a sanitizer's runtime"
#endif

#ifdef DS_ASM_FRONTS
#define DS_GATE(check, layer)                                                      \
    void *check##_gate(const struct ds_fastdesc *d, uintptr_t arg)                 \
    {                                                                              \
        void *real = atomic_load_explicit(d->real, memory_order_acquire);          \
        if (DS_LIKELY(real != NULL)) {                                             \
            if (ds_in_shim() || !ds_layer_active(layer)) return real;              \
            if (DS_LIKELY(ds_log_is_settled() && check(arg))) {                    \
                atomic_fetch_add_explicit(d->calls, 1, memory_order_relaxed);      \
                return real;                                                       \
            }                                                                      \
        }                                                                          \
        return d->full;                                                            \
    }
DS_GATE(ds_fast_launch_rt, DS_LAYER_KERNELS)
DS_GATE(ds_fast_launch_drv, DS_LAYER_KERNELS)
DS_GATE(ds_fast_cublas_gemm, DS_LAYER_CUBLAS)

/* A launch trampoline: its slot holds the target; f is the CUfunction. */
void *ds_tgate(const struct ds_tdesc *d, uintptr_t f);
void *ds_tgate(const struct ds_tdesc *d, uintptr_t f)
{
    void *real = atomic_load_explicit(&d->slot->target, memory_order_acquire);
    return DS_LIKELY(ds_tramp_direct(d->slot, f)) ? real : d->slow;
}
#endif
