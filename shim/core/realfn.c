/* realfn.c: the real function behind each hook, found once and cached.
 *
 * resolve.c finds a symbol; here it becomes a hook's real function: cached in
 * ds_real_ptr (one atomic load on every later call), its object pinned with RTLD_NODELETE
 * so the pointer cannot dangle after the program's dlclose, and, at DETSHIM_VERBOSE=2, the
 * way it was found said in a notice. A hook whose function is found nowhere is said once. */
#include <dlfcn.h>

#include "detshim.h"

_Atomic(void *) ds_real_ptr[DS_HOOK_COUNT];
static _Atomic int missing_said[DS_HOOK_COUNT];

static void pin_object(void *addr)
{
    Dl_info di;
    if (dladdr(addr, &di) && di.dli_fname && di.dli_fname[0]) {
        /* the extra reference is deliberate and never dropped */
        ds_fork_gate_enter();
        (void)dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
        ds_fork_gate_leave();
    }
}

void *ds_resolve_hook(enum ds_hook id)
{
    /* Resolution calls dlopen/dlsym, which may call back into hooked code (a library
     * constructor): hold the guard so such calls go straight through. */
    ds_depth++;
    enum ds_resolved_by how;
    void *p = ds_resolve_symbol(ds_hooks[id].name, ds_hooks[id].lib, &how);
    if (p) {
        pin_object(p);
        void *expected = NULL;
        atomic_compare_exchange_strong(&ds_real_ptr[id], &expected, p);
        if (ds_cfg.verbose >= 2) {
            Dl_info di;
            const char *obj = dladdr(p, &di) && di.dli_fname ? di.dli_fname : "?";
            ds_notice("core", false, "resolved %s via %s in %s", ds_hooks[id].name,
                      ds_resolved_by_name(how), obj);
        }
        p = atomic_load(&ds_real_ptr[id]);
    }
    ds_depth--;
    return p;
}

void ds_missing(enum ds_hook id)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&missing_said[id], &expected, 1)) return;
    ds_depth++;
    ds_notice("core", true,
              "the real %s was not found in any loaded object (tried RTLD_NEXT, %s, and a scan "
              "of loaded objects); the call returns the library's not-initialised status",
              ds_hooks[id].name, ds_libs[ds_hooks[id].lib].sonames);
    ds_depth--;
}

void *ds_lib_sym(_Atomic(void *) *cache, const char *name, enum ds_lib lib, const char *layer)
{
    static char missing; /* a marker: looked up, not there */
    void *p = atomic_load_explicit(cache, memory_order_acquire);
    if (DS_LIKELY(p != NULL)) return p == &missing ? NULL : p;
    p = ds_resolve_symbol(name, lib, NULL);
    if (!p)
        ds_notice(layer, false, "%s was not found in %s: the %s layer does without it", name,
                  ds_libs[lib].prefix, layer);
    atomic_store_explicit(cache, p ? p : (void *)&missing, memory_order_release);
    return p;
}
