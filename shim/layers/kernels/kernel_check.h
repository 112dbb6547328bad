/* kernel_check.h: the verdict cache of the kernels layer and its inline check, the bottom
 * of the layer: it includes only the core (detshim.h) and the database's verdicts, so that
 * the hot checks above it (the launch files here, hooks/fast.h and the gates) can inline it.
 * Implemented in kernel_cache.c.
 *
 * Every launch looks its kernel up by function pointer in an open-addressing hash table
 * that is read without locks and grows (it is never more than half full), so a lookup
 * costs a hash and a probe or two for any number of kernels. A slot's key, once set, never
 * changes in that table; its verdict is set by the first launch that classifies the kernel
 * and cleared (NULL) when a module or library is unloaded, so that a kernel later loaded at
 * a freed address is classified again. A NULL verdict sends the launch to the slow path,
 * which classifies. Writers (classification results, growth, unloads) take a lock; readers
 * never do. Old tables stay allocated (a reader may still be in one): their total size is
 * below the current table's. */
#ifndef DETSHIM_KERNEL_CHECK_H
#define DETSHIM_KERNEL_CHECK_H
#include "detshim.h"
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
    const char *advice;     /* what to do instead (the database entry's), or NULL */
    const char *source;     /* "built-in kernels.db", a DETSHIM_KERNELS path, "DETSHIM_DENY" */
    const char *pattern;    /* the pattern that matched */
    int line;               /* its line in a database file, 0 otherwise */
    const char *allow_hint; /* what DETSHIM_ALLOW needs to hold to let it run */
};

#define DS_KSLOTS 16384 /* power of two: the first table's size (static: no allocation) */
struct ds_kslot {
    _Atomic uintptr_t key;                 /* 0: empty; never changes once set */
    _Atomic(const struct ds_kinfo *) info; /* NULL: not classified (yet, or again) */
};
struct ds_ktab {
    uint64_t mask; /* slots - 1 */
    struct ds_kslot slot[];
};
extern _Atomic(struct ds_ktab *) ds_ktab;

static inline uintptr_t ds_kkey(enum ds_kkind kind, const void *fn)
{
    return (uintptr_t)fn ^ ((uintptr_t)kind << 62); /* user addresses stay below 2^62 */
}
/* The slot a key's probe starts at, before the table's mask: the product's high bits, where
 * the multiplication has mixed every bit of the key (its middle bits alone put kernels a
 * few bytes apart, as in one module's array, into runs of neighbouring slots). */
static inline uint64_t ds_khash(uintptr_t key)
{
    uint64_t p = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    return (p >> 40) ^ (p >> 56);
}
/* The first table's slot of a key (hash mode's own tables use it as their hash). */
static inline unsigned ds_kslot_of(uintptr_t key)
{
    return (unsigned)ds_khash(key) & (DS_KSLOTS - 1);
}

/* The cached verdict of a kernel, or NULL (never seen, or to be classified again). */
static inline const struct ds_kinfo *ds_kernel_cached(enum ds_kkind kind, const void *fn)
{
    uintptr_t key = ds_kkey(kind, fn);
    const struct ds_ktab *t = atomic_load_explicit(&ds_ktab, memory_order_acquire);
    uint64_t m = t->mask;
    for (uint64_t i = ds_khash(key) & m;; i = (i + 1) & m) {
        uintptr_t k = atomic_load_explicit(&t->slot[i].key, memory_order_acquire);
        if (DS_LIKELY(k == key)) return atomic_load_explicit(&t->slot[i].info, memory_order_acquire);
        if (k == 0) return NULL; /* the table is never full: a probe always ends */
    }
}

/* The hot check (the gates, fast.h): a kernel already classified as not flagged and found
 * at the slot its probe starts at (most are; the others take the wrapper, whose lookup
 * probes on). No loop: the gates run with few registers. */
static inline bool ds_kernel_known_clean(enum ds_kkind kind, uintptr_t fn)
{
    uintptr_t key = ds_kkey(kind, (const void *)fn);
    const struct ds_ktab *t = atomic_load_explicit(&ds_ktab, memory_order_acquire);
    const struct ds_kslot *s = &t->slot[ds_khash(key) & t->mask];
    if (DS_UNLIKELY(atomic_load_explicit(&s->key, memory_order_acquire) != key)) return false;
    const struct ds_kinfo *i = atomic_load_explicit(&s->info, memory_order_acquire);
    return DS_LIKELY(i != NULL) && !i->flagged;
}

/* Classify (kernel_table.c) and cache; a miss always classifies. */
const struct ds_kinfo *ds_kernel_lookup_slow(enum ds_kkind kind, const void *fn);

/* The verdict for a launch: cached, or classified now. */
static inline const struct ds_kinfo *ds_kernel_lookup(enum ds_kkind kind, const void *fn)
{
    const struct ds_kinfo *i = ds_kernel_cached(kind, fn);
    if (DS_LIKELY(i != NULL)) return i;
    return ds_kernel_lookup_slow(kind, fn);
}

/* A module or library was unloaded: its kernels' addresses may be reused by other kernels,
 * so every cached verdict is dropped and each kernel is classified again at its next
 * launch (events are still one per kernel and call site). Cost: one pass over the table. */
void ds_kernels_forget(void);
/* How many kernels the cache holds, and its slots (tests, the summary). */
void ds_kernel_cache_stats(size_t *kernels, size_t *slots);
#endif
