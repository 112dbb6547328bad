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
 *   - the shim's own lookups (resolve.c asks vendor handles for the real functions),
 *     those of another copy of the shim, and those of the vendor libraries themselves
 *     (cuDNN's dispatch to its sub-libraries, the runtime's to the driver);
 *   - a name found outside the vendor libraries, or the shim's own symbol already;
 *   - DETSHIM_MODE=off.
 * "Next" is the first object after this one in load order that defines dlsym (libc, or
 * another preloaded library that wraps dlsym too: it then sees every lookup), copies of
 * the shim skipped; it is found by reading the objects' symbol tables (elfsym.c), since
 * calling dlsym here would call this very function. A sanitizer's runtime calls dlsym
 * while it initialises: the build compiles this file and elfsym.c uninstrumented. */
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

/* The loaded objects, in load order, from this one's link map (dladdr1, which no sanitizer
 * intercepts, unlike dl_iterate_phdr): called the first time any dlsym reaches the shim,
 * possibly from a sanitizer's runtime before it is initialised, so it calls nothing else. */
static void find_next(int pass, void **ds, void **dvs)
{
    Dl_info di;
    struct link_map *self = NULL, *lm;
    if (!dladdr1((void *)&ds_dlsym_init, &di, (void **)&self, RTLD_DL_LINKMAP) || !self) return;
    self_base = self->l_addr;
    self_dyn = self->l_ld;
    for (lm = pass == 0 ? self->l_next : self; pass == 1 && lm->l_prev; lm = lm->l_prev) {}
    for (; lm; lm = lm->l_next) {
        if (lm == self || !lm->l_ld) continue;
        if (ds_elf_lookup(lm->l_addr, lm->l_ld, "detshim_abi_marker")) continue; /* a copy */
        if (!*ds) *ds = ds_elf_lookup(lm->l_addr, lm->l_ld, "dlsym");
        if (!*dvs) *dvs = ds_elf_lookup(lm->l_addr, lm->l_ld, "dlvsym");
        if (*ds && *dvs) return;
    }
}

void ds_dlsym_init(void)
{
    void *ds = NULL, *dvs = NULL;
    find_next(0, &ds, &dvs);
    if (!ds || !dvs) find_next(1, &ds, &dvs); /* loaded after libc (dlopen): any object */
    __atomic_store_n(&ds_next_dlvsym, dvs, __ATOMIC_RELEASE);
    __atomic_store_n(&ds_next_dlsym, ds, __ATOMIC_RELEASE);
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

/* Is the caller a vendor library itself? cuDNN 9's libcudnn dispatches to its sub-libraries
 * (libcudnn_cnn, ...) through dlsym, libcudart fetches the driver's entry points with
 * dlsym(libcuda, "cuGetProcAddress_v2"): their internal calls must stay internal (a wrapper
 * there would loop back into the library, or see one launch twice). */
static bool from_vendor(const void *caller)
{
    Dl_info di;
    if (!dladdr(caller, &di) || !di.dli_fname) return false;
    for (int i = 0; i < DS_LIB_COUNT; i++)
        if (base_has_prefix(di.dli_fname, ds_libs[i].prefix)) return true;
    return false;
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
    if (!vendor || in_shim_copy(caller) || from_vendor(caller)) return p;
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
