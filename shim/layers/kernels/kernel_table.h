/* kernel_table.h: what the kernels layer knows about kernels: their names, their
 * classification, and what a launch of a flagged kernel records (kernel_table.c). Below
 * the launch files, above the verdict cache (kernel_check.h); it includes only the core,
 * the vendor types and the cache, and calls nothing above it. */
#ifndef DETSHIM_KERNEL_TABLE_H
#define DETSHIM_KERNEL_TABLE_H
#include "vendor.h"
#include "kernel_check.h"

/* Name and classify one kernel, now (the cache's slow path). Flagged kernels get one
 * ds_kinfo per name for the life of the process; the others share static ones. */
const struct ds_kinfo *ds_kernel_classify(enum ds_kkind kind, const void *fn);

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
 * cuModuleGetFunction) for when the libraries cannot name a kernel themselves. Putting
 * the name a key already has costs no memory. */
void ds_kname_put(const void *key, const char *name);
const char *ds_kname_get(const void *key);
/* Whether the real cudaFuncGetName / cuFuncGetName exist (registration is recorded only
 * when they do not). */
bool ds_knaming_rt_native(void);
bool ds_knaming_drv_native(void);
/* A kernel's name as the vendor library gives it (or registration recorded), or NULL:
 * for hash mode, which names every kernel it digests. */
const char *ds_kernel_name(enum ds_kkind kind, const void *fn);

/* Reset for a fork child is not needed: the tables describe code, which fork keeps. */
#endif
