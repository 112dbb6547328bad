/* dlsym.c: the vendor functions a program looks up on a library handle.
 *
 * dlsym(handle, "cublasCreate_v2") after dlopen("libcublas.so.13", RTLD_LOCAL) searches
 * that library and its dependencies only, never the preloaded shim: that is how
 * TensorFlow, JAX/XLA, cuda-python, ctypes and Triton's launcher reach CUDA. So the shim
 * exports dlsym and dlvsym (fronts in dlsym_x86_64.S): a lookup on a handle asks the next
 * dlsym, and when the name is in the hook table (hooks.def) and the function found lives
 * in that hook's vendor library (or the handle is that library), it returns the shim's own
 * exported wrapper instead (for a hot hook, its assembly front: the same cost as a call
 * through the global scope). The wrapper finds the real function as it always does
 * (resolve.c). Everything else passes through untouched:
 *   - RTLD_DEFAULT and RTLD_NEXT go to the next dlsym with the caller's return address
 *     intact (the fronts jump), so RTLD_NEXT stays relative to the caller;
 *   - the shim's own lookups (resolve.c asks vendor handles for the real functions), and
 *     those of another copy of the shim;
 *   - a name found outside the vendor libraries, or the shim's own symbol already;
 *   - DETSHIM_MODE=off.
 * "Next" is the first object after this one in load order that defines dlsym (libc, or
 * another preloaded library that wraps dlsym too: it then sees every lookup), copies of
 * the shim skipped; it is found by reading the objects' symbol tables (elfsym.c), since
 * calling dlsym here would call this very function. */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "detshim.h"
#include "elfsym.h"

/* Read by the fronts (plain loads: x86-64 orders them) */
void *ds_next_dlsym, *ds_next_dlvsym;

typedef void *(*dlsym_fn)(void *, const char *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);

static uintptr_t self_base;
static const ElfW(Dyn) *self_dyn;

void ds_dlsym_init(void);
void *ds_dlsym_handle(void *handle, const char *name, const void *caller);
void *ds_dlvsym_handle(void *handle, const char *name, const char *version, const void *caller);

static const ElfW(Dyn) *dynamic_of(const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            return (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    return NULL;
}

static bool contains(const struct dl_phdr_info *info, uintptr_t a)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= lo && a < lo + ph->p_memsz) return true;
    }
    return false;
}

struct next_walk {
    int pass;         /* 0: only objects after this one; 1: any object */
    bool after_self;
    void *dlsym, *dlvsym;
};

static int next_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct next_walk *w = arg;
    const ElfW(Dyn) *dyn = dynamic_of(info);
    if (contains(info, (uintptr_t)&ds_dlsym_init)) {
        self_base = info->dlpi_addr;
        self_dyn = dyn;
        w->after_self = true;
        return 0;
    }
    if (!dyn || (w->pass == 0 && !w->after_self)) return 0;
    if (ds_elf_lookup(info->dlpi_addr, dyn, "detshim_abi_marker")) return 0; /* a copy */
    if (!w->dlsym) w->dlsym = ds_elf_lookup(info->dlpi_addr, dyn, "dlsym");
    if (!w->dlvsym) w->dlvsym = ds_elf_lookup(info->dlpi_addr, dyn, "dlvsym");
    return w->dlsym && w->dlvsym;
}

void ds_dlsym_init(void)
{
    struct next_walk w = {0, false, NULL, NULL};
    dl_iterate_phdr(next_cb, &w);
    if (!w.dlsym || !w.dlvsym) { /* loaded after libc (dlopen): any object but this one */
        w.pass = 1;
        dl_iterate_phdr(next_cb, &w);
    }
    __atomic_store_n(&ds_next_dlvsym, w.dlvsym, __ATOMIC_RELEASE);
    __atomic_store_n(&ds_next_dlsym, w.dlsym, __ATOMIC_RELEASE);
}

static int hook_of(const char *name)
{
    for (int i = 0; i < DS_HOOK_COUNT; i++)
        if (strcmp(ds_hooks[i].name, name) == 0) return i;
    return -1;
}

static bool base_has_prefix(const char *path, const char *prefix)
{
    if (!path || !prefix) return false;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return strncmp(b, prefix, strlen(prefix)) == 0;
}

/* Does the object holding addr define detshim_abi_marker (a copy of the shim)? */
static bool in_shim_copy(const void *addr)
{
    Dl_info di;
    struct link_map *lm = NULL;
    if (!dladdr1(addr, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm) return false;
    return ds_elf_lookup(lm->l_addr, lm->l_ld, "detshim_abi_marker") != NULL;
}

static _Atomic(void *) wrappers[DS_HOOK_COUNT];

/* This copy's exported symbol for hook id (the front of a hot hook) */
static void *wrapper_of(int id)
{
    void *w = atomic_load_explicit(&wrappers[id], memory_order_acquire);
    if (!w && self_dyn) {
        w = ds_elf_lookup(self_base, self_dyn, ds_hooks[id].name);
        atomic_store_explicit(&wrappers[id], w, memory_order_release);
    }
    return w;
}

/* p: what the next dlsym found for name on handle */
static void *substitute(void *handle, const char *name, void *p, const void *caller)
{
    if (!p || ds_cfg.mode == DS_MODE_OFF) return p;
    int id = hook_of(name);
    if (id < 0) return p;
    ds_self_init();
    if (ds_addr_is_self(p) || ds_addr_is_self(caller)) return p;
    const char *prefix = ds_libs[ds_hooks[id].lib].prefix;
    Dl_info di = {0};
    bool vendor = dladdr(p, &di) && base_has_prefix(di.dli_fname, prefix);
    if (!vendor) {
        struct link_map *lm = NULL;
        vendor = dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm &&
                 base_has_prefix(lm->l_name, prefix) && !in_shim_copy(p);
    }
    if (!vendor || in_shim_copy(caller)) return p;
    void *w = wrapper_of(id);
    if (!w) return p;
    if (ds_cfg.verbose >= 2) {
        ds_depth++;
        ds_notice("core", false, "dlsym(handle of %s, \"%s\") returns the shim's wrapper",
                  di.dli_fname ? di.dli_fname : "?", name);
        ds_depth--;
    }
    return w;
}

static void *next_dlsym(void)
{
    void *f = __atomic_load_n(&ds_next_dlsym, __ATOMIC_ACQUIRE);
    if (!f) {
        ds_dlsym_init();
        f = __atomic_load_n(&ds_next_dlsym, __ATOMIC_ACQUIRE);
    }
    return f;
}

void *ds_dlsym_handle(void *handle, const char *name, const void *caller)
{
    dlsym_fn next = (dlsym_fn)next_dlsym();
    if (!next) return NULL;
    return substitute(handle, name, next(handle, name), caller);
}

void *ds_dlvsym_handle(void *handle, const char *name, const char *version, const void *caller)
{
    if (!next_dlsym()) return NULL;
    dlvsym_fn next = (dlvsym_fn)__atomic_load_n(&ds_next_dlvsym, __ATOMIC_ACQUIRE);
    if (!next) return NULL;
    return substitute(handle, name, next(handle, name, version), caller);
}
