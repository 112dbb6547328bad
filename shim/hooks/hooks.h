/* hooks.h: typed view of the hook table for the layers: one typedef for each real
 * function (ds_fn_<name>_t; ds_real_<name>_t points to one) and the prototype of each
 * policy (ds_policy_<name>). */
#ifndef DETSHIM_HOOKS_H
#define DETSHIM_HOOKS_H
#include "vendor.h"
#include "detshim.h"

#define HOOK(layer, lib, ret, name, params, args) \
    typedef ret ds_fn_##name##_t params;          \
    typedef ret(*ds_real_##name##_t) params;      \
    ret ds_policy_##name params;
#define HOOK_VOID(layer, lib, name, params, args) HOOK(layer, lib, void, name, params, args)
#include "hooks.def"

#endif
