/* init.c: the constructor (does almost nothing), the exit summary and fork handling.
 * It is the top of the library: the one place that knows every layer, to register their
 * fork-child handlers.
 *
 * The constructor reads DETSHIM_* and applies the environment pins: both must happen
 * before the program (or Python's os.environ snapshot, or cuBLAS's first handle)
 * reads the environment. Everything else (resolving vendor symbols, opening the log)
 * is lazy and happens on the first hooked call. */
#include <dlfcn.h>
#include <pthread.h>

#include "detshim.h"
#include "launch.h"

extern const struct ds_kwatch ds_hash_kwatch; /* hash/hash_watch.c */

extern const char detshim_abi_marker[];

/* Every fork-child handler of the shim, registered once, here, in the constructor: glibc
 * does not run handlers that another thread registers while a fork is under way, so a
 * handler registered lazily (at a layer's first use) could miss the fork whose child then
 * finds that layer's lock held by a thread it does not have. */
/* the layers' fork-child handlers, each defined in its layer */
void ds_kernel_table_atfork_child(void);
void ds_kernels_drv_atfork_child(void);
void ds_cublas_atfork_child(void);
void ds_hash_atfork_child(void);

void ds_core_atfork_child(void)
{
    ds_log_atfork_child();
    ds_header_atfork_child();
    ds_summary_reset();
    ds_sites_reset();
    ds_fingerprint_reset();
}

static void atfork_child(void)
{
    ds_core_atfork_child();
    ds_kernel_table_atfork_child();
    ds_kernels_drv_atfork_child();
    ds_cublas_atfork_child();
    ds_hash_atfork_child();
}

__attribute__((constructor)) static void ds_init(void)
{
    ds_depth++;
    ds_self_init();
    ds_kernels_set_watch(&ds_hash_kwatch); /* before any launch can come */
    ds_config_init();
    /* Preloaded twice (a module and `detshim run`, two paths)? The first copy in the
     * global scope is the one the program binds to; a later copy only passes through,
     * so the program gets one policy and one log. */
    const void *first = dlsym(RTLD_DEFAULT, "detshim_abi_marker");
    if (first && first != (const void *)detshim_abi_marker) {
        atomic_store(&ds_active_layers, 0);
        ds_cfg.mode = DS_MODE_OFF;
    } else {
        ds_pins_apply();
        ds_loader_init();
        pthread_atfork(NULL, NULL, atfork_child);
    }
    ds_depth--;
}

__attribute__((destructor)) static void ds_fini(void)
{
    ds_depth++;
    ds_summary_write();
    ds_depth--;
}
