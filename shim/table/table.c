/* table.c: the names and owners of everything hooks.def, libs.def and layers.def list,
 * as data the whole library reads (log summaries, resolution, DETSHIM_DISABLE).
 * The bottom of the library: it calls nothing. */
#include "detshim.h"

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
