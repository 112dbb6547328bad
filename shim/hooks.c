/* hooks.c: the exported wrappers, all generated from hooks.def.
 *
 * Each wrapper: find the real function (one atomic load once resolved); if it is
 * missing, return the vendor's "not initialised" status; if the shim is already on
 * this thread's stack, or the layer is off, call straight through; otherwise run the
 * layer's policy with the reentrancy guard held. Hot hooks (HOOK_FAST) first ask the
 * layer's inline check whether there is anything to do at all. */
#include "fast.h"

const struct ds_hook_info ds_hooks[DS_HOOK_COUNT] = {
#define HOOK(layer, lib, ret, name, params, args) \
    [DS_HOOK_##name] = {#name, DS_LAYER_##layer, DS_LIB_##lib},
#define HOOK_VOID(layer, lib, name, params, args) HOOK(layer, lib, void, name, params, args)
#include "hooks.def"
};

const struct ds_lib_info ds_libs[DS_LIB_COUNT] = {
#define LIB(id, prefix, sonames, missing) [DS_LIB_##id] = {prefix, sonames},
#include "libs.def"
};

const struct ds_layer_info ds_layers[DS_LAYER_COUNT] = {
#define LAYER(id, name, what) [DS_LAYER_##id] = {name, what},
#include "layers.def"
};

#define LIB(id, prefix, sonames, missing) enum { DS_MISSING_##id = (int)(missing) };
#include "libs.def"

/* The wrapper of hook `name`, defined as function `fname` with linkage `api`. */
#define DS_WRAPPER(api, fname, layer, lib, ret, name, params, args)                \
    api ret fname params                                                           \
    {                                                                              \
        ds_real_##name##_t real_ = (ds_real_##name##_t)ds_real(DS_HOOK_##name);    \
        if (DS_UNLIKELY(real_ == NULL)) {                                          \
            ds_missing(DS_HOOK_##name);                                            \
            return (ret)DS_MISSING_##lib;                                          \
        }                                                                          \
        if (ds_in_shim() || !ds_layer_active(DS_LAYER_##layer))                    \
            return real_ args;                                                     \
        ds_enter(DS_HOOK_##name);                                                  \
        ret r_ = ds_policy_##name args;                                            \
        ds_leave();                                                                \
        return r_;                                                                 \
    }
#define HOOK(layer, lib, ret, name, params, args) \
    DS_WRAPPER(DETSHIM_API, name, layer, lib, ret, name, params, args)
/* A hot hook. The full wrapper (ds_full_<name>, as for HOOK) runs the policy; in front of
 * it, the exported symbol makes the layer's inline check, and when the real function is
 * known, the shim is not on the stack, the layer is on and the check says the call needs
 * nothing (a clean kernel, a handle already checked), it counts the call and jumps to the
 * real function; otherwise it jumps to the full wrapper.
 *
 * Jumps, with the caller's registers and stack exactly as they came: a C function that
 * passed a dozen typed parameters on would reload and store back the ones on the stack
 * (gcc does, for every tail call), which costs more than the check. So the front is
 * declared with the argument registers only (DS_FWD_PARAMS: six on x86-64, eight on
 * AArch64) and is the exported symbol by alias: at the machine level a call with integer,
 * pointer and small integer-struct arguments (all that HOOK_FAST hooks take) is those
 * registers plus the caller's stack, which a jump leaves in place. Elsewhere the hot hooks
 * are plain HOOK wrappers. */
#ifdef DS_FWD_PARAMS
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wattribute-alias"
#define HOOK_FAST(layer, lib, ret, name, check, pos, params, args)                 \
    DS_WRAPPER(static DS_OPAQUE, ds_full_##name, layer, lib, ret, name, params, \
               args)                                                               \
    static long ds_fullfwd_##name(DS_FWD_PARAMS)                                   \
        __attribute__((alias("ds_full_" #name)));                                  \
    static long ds_front_##name(DS_FWD_PARAMS)                                     \
    {                                                                              \
        ds_fwd_t real_ = (ds_fwd_t)atomic_load_explicit(&ds_real_ptr[DS_HOOK_##name], \
                                                        memory_order_acquire);     \
        if (DS_LIKELY(real_ != NULL)) {                                            \
            if (ds_in_shim() || !ds_layer_active(DS_LAYER_##layer))                \
                return real_(DS_FWD_ARGS);                                         \
            if (DS_LIKELY(ds_log_is_settled() && check((uintptr_t)a##pos))) {      \
                ds_count_only(DS_HOOK_##name);                                     \
                return real_(DS_FWD_ARGS);                                         \
            }                                                                      \
        }                                                                          \
        return ds_fullfwd_##name(DS_FWD_ARGS);                                     \
    }                                                                              \
    extern ds_fn_##name##_t name                                                   \
        __attribute__((alias("ds_front_" #name), visibility("default")));
#else
#define HOOK_FAST(layer, lib, ret, name, check, pos, params, args) \
    HOOK(layer, lib, ret, name, params, args)
#endif
#define HOOK_VOID(layer, lib, name, params, args)                                  \
    DETSHIM_API void name params                                                   \
    {                                                                              \
        ds_real_##name##_t real_ = (ds_real_##name##_t)ds_real(DS_HOOK_##name);    \
        if (DS_UNLIKELY(real_ == NULL)) {                                          \
            ds_missing(DS_HOOK_##name);                                            \
            return;                                                                \
        }                                                                          \
        if (ds_in_shim() || !ds_layer_active(DS_LAYER_##layer)) {                  \
            real_ args;                                                            \
            return;                                                                \
        }                                                                          \
        ds_enter(DS_HOOK_##name);                                                  \
        ds_policy_##name args;                                                     \
        ds_leave();                                                                \
    }
#include "hooks.def"
