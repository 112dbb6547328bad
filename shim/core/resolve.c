/* resolve.c: finding the real vendor functions.
 *
 * PyTorch opens its CUDA libraries RTLD_LOCAL, so dlsym(RTLD_NEXT) alone misses
 * them. The order, per symbol, cached once found:
 *   1. dlsym(RTLD_NEXT, name)                       (libraries in the global scope)
 *   2. dlopen(soname, RTLD_NOLOAD) + dlsym(handle)   (the known sonames, newest first)
 *   3. every loaded object, reopened RTLD_NOLOAD     (whatever path it was loaded from)
 * A candidate that lives in a copy of the shim (this one, or another preloaded copy)
 * is never returned. Resolution only answers: caching a hook's real function, pinning its
 * object and saying how it was found is realfn.c's, one floor up. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detshim.h"

/* Exported marker: any object that defines it is a copy of libdetshim. */
DETSHIM_API const char detshim_abi_marker[] = "libdetshim " "1";

/* Does the object holding addr define detshim_abi_marker (another copy of us)? */
static bool in_a_shim_copy(void *addr)
{
    if (ds_addr_is_self(addr)) return true;
    Dl_info di;
    if (!dladdr(addr, &di) || !di.dli_fname) return false;
    void *h = dlopen(di.dli_fname[0] ? di.dli_fname : NULL, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return false;
    void *m = dlsym(h, "detshim_abi_marker");
    bool copy = false;
    if (m) {
        Dl_info mi;
        /* dlsym on a handle searches its dependencies too: the marker must be defined
         * in that very object */
        copy = dladdr(m, &mi) && mi.dli_fbase == di.dli_fbase;
    }
    dlclose(h);
    return copy;
}

static void *try_handle(void *h, const char *name)
{
    if (!h) return NULL;
    void *p = dlsym(h, name);
    if (p && in_a_shim_copy(p)) p = NULL;
    return p;
}

/* The loaded objects' paths, NUL-separated, collected in one walk (the main program left
 * out: RTLD_NEXT already covered it). */
struct obj_list {
    char *buf;
    size_t len, cap;
};

static int list_one(struct dl_phdr_info *info, size_t size, void *argp)
{
    (void)size;
    struct obj_list *l = argp;
    const char *path = info->dlpi_name;
    if (!path || !path[0]) return 0;
    size_t n = strlen(path) + 1;
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n) cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) return 1; /* scan what there is */
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, path, n);
    l->len += n;
    return 0;
}

/* Every loaded object, those whose basename starts with prefix first, asked for name.
 * The objects are opened after the walk, never inside it: a walk holds the loader's
 * object-list lock, while a dlopen in another thread can hold the loader's main lock and
 * wait for that one, so a dlopen from inside the walk can deadlock (seen under TSan, whose
 * dlopen walks the objects too). */
static void *scan(const char *name, const char *prefix)
{
    struct obj_list l = {NULL, 0, 0};
    ds_loader_walk(list_one, &l);
    void *found = NULL;
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (size_t off = 0; off < l.len && !found; off += strlen(l.buf + off) + 1) {
            const char *path = l.buf + off, *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            bool match = prefix && strncmp(base, prefix, strlen(prefix)) == 0;
            if ((pass == 0) != match) continue;
            void *h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
            if (!h) continue;
            found = try_handle(h, name);
            dlclose(h);
        }
    }
    free(l.buf);
    return found;
}

static void *resolve_uncached(const char *name, enum ds_lib lib, enum ds_resolved_by *how);

/* dlopen/dlclose counters: they change when (and only when) objects are loaded or
 * unloaded, so a symbol that was missing stays missing until they do. */
static int generation_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uint64_t *)arg = (uint64_t)info->dlpi_adds + (uint64_t)info->dlpi_subs;
    return 1; /* the counters are the same in every entry: one is enough */
}

static uint64_t objects_generation(void)
{
    uint64_t g = 0;
    ds_loader_walk(generation_cb, &g);
    return g;
}

/* Misses remembered per (name, library) with the generation they were seen at, so a
 * caller that keeps asking for an absent function (every cuBLAS call of a process
 * without libcudart, say) does not rescan every loaded object each time. */
#define MISSES 64
static struct {
    _Atomic uint64_t key;
    _Atomic uint64_t gen;
} misses[MISSES];

static void *resolve_symbol(const char *name, enum ds_lib lib, enum ds_resolved_by *how);
/* dlopen, dlclose and walks of the loaded objects: kept apart from fork (detshim.h) */
void *ds_resolve_symbol(const char *name, enum ds_lib lib, enum ds_resolved_by *how)
{
    ds_fork_gate_enter();
    void *p = resolve_symbol(name, lib, how);
    ds_fork_gate_leave();
    return p;
}

static void *resolve_symbol(const char *name, enum ds_lib lib, enum ds_resolved_by *how)
{
    uint64_t key = ds_hash64(name, strlen(name), (uint64_t)lib + 1);
    unsigned slot = (unsigned)key & (MISSES - 1);
    uint64_t gen = objects_generation();
    if (how) *how = DS_BY_NONE;
    if (atomic_load(&misses[slot].key) == key && atomic_load(&misses[slot].gen) == gen) return NULL;
    void *found = resolve_uncached(name, lib, how);
    if (!found) {
        atomic_store(&misses[slot].gen, gen);
        atomic_store(&misses[slot].key, key);
    }
    return found;
}

static void *resolve_uncached(const char *name, enum ds_lib lib, enum ds_resolved_by *how)
{
    void *p;
    ds_self_init();

    p = dlsym(RTLD_NEXT, name);
    if (p && !in_a_shim_copy(p)) {
        if (how) *how = DS_BY_NEXT;
        return p;
    }

    if ((p = ds_lookup_soname(name, lib))) {
        if (how) *how = DS_BY_SONAME;
        return p;
    }

    p = scan(name, ds_libs[lib].prefix);
    if (p && how) *how = DS_BY_SCAN;
    return p;
}

void *ds_lookup_soname(const char *name, enum ds_lib lib)
{
    const char *s = ds_libs[lib].sonames;
    while (s && *s) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char soname[128];
        if (n < sizeof soname) {
            memcpy(soname, s, n);
            soname[n] = 0;
            ds_fork_gate_enter();
            void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
            void *p = try_handle(h, name);
            if (h) dlclose(h);
            ds_fork_gate_leave();
            if (p) return p;
        }
        s = e ? e + 1 : NULL;
    }
    return NULL;
}

const char *ds_resolved_by_name(enum ds_resolved_by how)
{
    switch (how) {
    case DS_BY_NEXT: return "RTLD_NEXT";
    case DS_BY_SONAME: return "soname";
    case DS_BY_SCAN: return "scan";
    default: return "none";
    }
}
