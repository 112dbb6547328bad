/* kernel.h: what the two launch files of the kernels layer share (layer_kernels_rt.c,
 * layer_kernels_drv.c; implemented in kernel_table.c and layer_kernels_drv.c).
 *
 * Every launch looks its kernel up by function pointer in a fixed-size, lock-free,
 * open-addressing table. The first launch of a kernel names it (cudaFuncGetName /
 * cuFuncGetName, or what registration recorded), demangles it and classifies it once;
 * every later launch is a hash, two loads and a test, with no allocation and no lock. */
#ifndef DETSHIM_KERNEL_H
#define DETSHIM_KERNEL_H
#include "hooks.h"
#include "kerneldb.h"

/* Which naming a pointer needs: runtime (host stub or cudaKernel_t) or driver (CUfunction). */
enum ds_kkind { DS_KK_RT = 1, DS_KK_DRV = 2 };

/* What the shim knows about one kernel; immutable once published. */
struct ds_kinfo {
    bool flagged;           /* nondeterministic: database or DETSHIM_DENY */
    uint8_t verdict;        /* enum ds_kverdict */
    uint64_t subject;       /* hash of the mangled name: the event subject */
    const char *mangled;    /* as the vendor library names it */
    const char *demangled;  /* for people; == mangled when it cannot be demangled */
    const char *reason;     /* the database entry's reason, or the user pattern */
    const char *source;     /* "built-in kernels.db", a DETSHIM_KERNELS path, "DETSHIM_DENY" */
    const char *pattern;    /* the pattern that matched */
    int line;               /* its line in a database file, 0 otherwise */
    const char *allow_hint; /* what DETSHIM_ALLOW needs to hold to let it run */
};

#define DS_KSLOTS 16384 /* power of two: distinct kernels a process can have classified */
struct ds_kslot {
    _Atomic uintptr_t key;                /* 0: empty */
    _Atomic(const struct ds_kinfo *) info; /* NULL while the first launch classifies */
};
extern struct ds_kslot ds_kslots[DS_KSLOTS];

static inline uintptr_t ds_kkey(enum ds_kkind kind, const void *fn)
{
    return (uintptr_t)fn ^ ((uintptr_t)kind << 62); /* user addresses stay below 2^62 */
}
static inline unsigned ds_kslot_of(uintptr_t key)
{
    return (unsigned)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 40) & (DS_KSLOTS - 1);
}

const struct ds_kinfo *ds_kernel_lookup_slow(enum ds_kkind kind, const void *fn);

/* The hot path. */
static inline const struct ds_kinfo *ds_kernel_lookup(enum ds_kkind kind, const void *fn)
{
    uintptr_t key = ds_kkey(kind, fn);
    const struct ds_kslot *s = &ds_kslots[ds_kslot_of(key)];
    if (DS_LIKELY(atomic_load_explicit(&s->key, memory_order_acquire) == key)) {
        const struct ds_kinfo *i = atomic_load_explicit(&s->info, memory_order_acquire);
        if (DS_LIKELY(i != NULL)) return i;
    }
    return ds_kernel_lookup_slow(kind, fn);
}

/* One launch of a flagged kernel. */
struct ds_klaunch {
    enum ds_hook hook;   /* the launch function (its _ptsz variant where that was called) */
    enum ds_hook via;    /* the getter that handed out the pointer, DS_HOOK_COUNT if none */
    bool has_dims;
    unsigned grid[3], block[3];
    const char *refusal; /* the status a refused launch returns, by name */
};
/* Record the launch (an event the first time per kernel and call site, a count after)
 * and say whether it must be refused (strict mode). Cold: only flagged kernels get here. */
bool ds_kernel_flagged_launch(const struct ds_kinfo *k, const struct ds_klaunch *l);

/* Names recorded at registration (__cudaRegisterFunction, __cudaGetKernel,
 * cuModuleGetFunction) for when the libraries cannot name a kernel themselves. */
void ds_kname_put(const void *key, const char *name);
const char *ds_kname_get(const void *key);
/* Whether the real cudaFuncGetName / cuFuncGetName exist (registration is recorded only
 * when they do not). */
bool ds_knaming_rt_native(void);
bool ds_knaming_drv_native(void);
/* A kernel's name as the vendor library gives it (or registration recorded), or NULL:
 * for hash mode, which names every kernel it digests. */
const char *ds_kernel_name(enum ds_kkind kind, const void *fn);

/* A driver entry point handed out by name (cuGetProcAddress, cudaGetDriverEntryPoint):
 * a launch function (or cuGetProcAddress itself) comes back as a trampoline that calls
 * exactly fn; anything else comes back untouched. per_thread: the caller asked for the
 * per-thread default stream variant. */
void *ds_kernels_wrap_entry(const char *symbol, void *fn, bool per_thread, enum ds_hook via);

/* A trampoline's slot (layer_kernels_drv.c), and what an assembly launch trampoline passes
 * to its gate (gates.c): the slot and the typed slow half. */
struct tslot {
    _Atomic(void *) target; /* the exact pointer the getter returned; NULL: free */
    enum ds_hook hook;      /* the hook it stands for (counting, the log's "symbol") */
    enum ds_hook via;       /* the getter that handed it out */
};
struct ds_tdesc {
    struct tslot *slot;
    void *slow;
};

/* Reset for a fork child is not needed: the tables describe code, which fork keeps. */
#endif
