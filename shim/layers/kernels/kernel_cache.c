/* kernel_cache.c: the verdict cache behind kernel_check.h's inline check. Readers (every
 * launch) take no lock; everything that writes (a new verdict, growth, an unload) holds
 * cache_mu, and happens once per kernel, per doubling, or per unload. */
#include <pthread.h>
#include <stdlib.h>

#include "kernel_table.h"

/* The first table: static, so that a process with few kernels allocates nothing. */
static struct ds_ktab ktab0 = {.mask = DS_KSLOTS - 1, .slot = {[DS_KSLOTS - 1] = {0, NULL}}};
_Atomic(struct ds_ktab *) ds_ktab = &ktab0;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t used = 0;                 /* keys in the current table (under cache_mu) */
static size_t put_since_forget = 0;     /* verdicts cached since the last unload (same) */
static _Atomic uint64_t generation = 0; /* moved by every ds_kernels_forget */
static _Atomic int nomem_said = 0;

/* A fork child has only the forking thread: a lock another thread held is free again. */
void ds_kernel_cache_atfork_child(void);
void ds_kernel_cache_atfork_child(void) { pthread_mutex_init(&cache_mu, NULL); }

/* The slot holding key, or the empty slot where it belongs (under cache_mu). */
static struct ds_kslot *find(struct ds_ktab *t, uintptr_t key)
{
    for (uint64_t i = ds_khash(key) & t->mask;; i = (i + 1) & t->mask) {
        uintptr_t k = atomic_load_explicit(&t->slot[i].key, memory_order_relaxed);
        if (k == key || k == 0) return &t->slot[i];
    }
}

/* Tables replaced by a bigger one: kept (readers may still be in them), and reachable
 * (volatile: nothing reads this array, and an optimiser would drop the stores, so that
 * valgrind reported the tables as lost). */
static struct ds_ktab *volatile retired[64];
static unsigned nretired;

/* Twice the slots, with the kernels that have a verdict (keys whose verdict an unload
 * cleared are left behind). The old table stays: readers may be in it. */
static struct ds_ktab *grow(struct ds_ktab *t)
{
    uint64_t slots = (t->mask + 1) * 2;
    struct ds_ktab *n = calloc(1, sizeof *n + slots * sizeof n->slot[0]);
    if (!n) return NULL;
    n->mask = slots - 1;
    size_t kept = 0;
    for (uint64_t i = 0; i <= t->mask; i++) {
        uintptr_t k = atomic_load_explicit(&t->slot[i].key, memory_order_relaxed);
        const struct ds_kinfo *info = atomic_load_explicit(&t->slot[i].info, memory_order_relaxed);
        if (!k || !info) continue;
        struct ds_kslot *s = find(n, k);
        atomic_store_explicit(&s->info, info, memory_order_relaxed);
        atomic_store_explicit(&s->key, k, memory_order_relaxed);
        kept++;
    }
    used = kept;
    if (nretired < sizeof retired / sizeof *retired) retired[nretired++] = t;
    atomic_store_explicit(&ds_ktab, n, memory_order_release);
    return n;
}

/* Cache a verdict (under cache_mu). False when it cannot be kept (no memory to grow):
 * the kernel is then classified again at its next launch. */
static bool put(uintptr_t key, const struct ds_kinfo *info)
{
    put_since_forget++;
    struct ds_ktab *t = atomic_load_explicit(&ds_ktab, memory_order_relaxed);
    struct ds_kslot *s = find(t, key);
    if (atomic_load_explicit(&s->key, memory_order_relaxed) == key) {
        atomic_store_explicit(&s->info, info, memory_order_release);
        return true;
    }
    if ((used + 1) * 2 > t->mask + 1) { /* keep it at most half full: short probes */
        struct ds_ktab *n = grow(t);
        if (n) {
            t = n;
        } else if ((used + 1) * 8 > (t->mask + 1) * 7) {
            return false; /* no memory, and too full to take more */
        }
        s = find(t, key);
    }
    atomic_store_explicit(&s->info, info, memory_order_release);
    atomic_store_explicit(&s->key, key, memory_order_release);
    used++;
    return true;
}

const struct ds_kinfo *ds_kernel_lookup_slow(enum ds_kkind kind, const void *fn)
{
    const struct ds_kinfo *info = ds_kernel_cached(kind, fn);
    if (info) return info;
    /* Classified outside the lock: naming calls into the vendor library. Two threads
     * launching a new kernel at once both classify it; the verdicts are the same. */
    uint64_t gen = atomic_load_explicit(&generation, memory_order_acquire);
    info = ds_kernel_classify(kind, fn);
    bool kept = true;
    pthread_mutex_lock(&cache_mu);
    /* a verdict reached across an unload may describe the kernel that was unloaded */
    if (atomic_load_explicit(&generation, memory_order_relaxed) == gen)
        kept = put(ds_kkey(kind, fn), info);
    pthread_mutex_unlock(&cache_mu);
    if (!kept) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&nomem_said, &expected, 1))
            ds_notice("kernels", true,
                      "out of memory growing the kernel table: kernels not in it are classified "
                      "again at every launch (they are still checked)");
    }
    return info;
}

void ds_kernels_forget(void)
{
    pthread_mutex_lock(&cache_mu);
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
    struct ds_ktab *t = atomic_load_explicit(&ds_ktab, memory_order_relaxed);
    /* at exit the runtime unregisters every fat binary: one pass is enough */
    for (uint64_t i = 0; put_since_forget > 0 && i <= t->mask; i++)
        if (atomic_load_explicit(&t->slot[i].info, memory_order_relaxed))
            atomic_store_explicit(&t->slot[i].info, NULL, memory_order_release);
    put_since_forget = 0;
    pthread_mutex_unlock(&cache_mu);
}

void ds_kernel_cache_stats(size_t *kernels, size_t *slots)
{
    pthread_mutex_lock(&cache_mu);
    struct ds_ktab *t = atomic_load_explicit(&ds_ktab, memory_order_relaxed);
    size_t n = 0;
    for (uint64_t i = 0; i <= t->mask; i++)
        if (atomic_load_explicit(&t->slot[i].info, memory_order_relaxed)) n++;
    if (kernels) *kernels = n;
    if (slots) *slots = (size_t)t->mask + 1;
    pthread_mutex_unlock(&cache_mu);
}
