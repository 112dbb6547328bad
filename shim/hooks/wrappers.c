/* hooks.c: the exported wrappers, all generated from hooks.def.
 *
 * Each wrapper: find the real function (one atomic load once resolved); if it is
 * missing, return the vendor's "not initialised" status; if the shim is already on
 * this thread's stack, or the layer is off, call straight through; otherwise run the
 * layer's policy with the reentrancy guard held. Hot hooks (HOOK_FAST) first ask the
 * layer's inline check whether there is anything to do at all. */
#include "fast.h"

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
/* A hot hook (fast.h says how the two halves meet): with assembly fronts, the typed
 * wrapper under another name and the descriptor its front passes to its gate (gates.c);
 * without, an ordinary wrapper. */
#ifdef DS_ASM_FRONTS
#define HOOK_FAST(layer, lib, ret, name, check, pos, params, args)                 \
    DS_WRAPPER(static, ds_full_##name, layer, lib, ret, name, params, args)        \
    const struct ds_fastdesc ds_fastdesc_##name = {                                \
        &ds_real_ptr[DS_HOOK_##name], &ds_hook_calls[DS_HOOK_##name], (void *)ds_full_##name};

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
