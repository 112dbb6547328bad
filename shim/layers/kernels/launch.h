/* launch.h: what the launch files of the kernels layer share (launch_runtime.c,
 * launch_driver.c, launch_watch.c) and what the hooks above them need to know of them: the
 * trampolines handed out for driver entry points, and the launch watch through which hash
 * mode (above the layers) sees launches without the layer calling up into it. */
#ifndef DETSHIM_KERNELS_LAUNCH_H
#define DETSHIM_KERNELS_LAUNCH_H
#include "kernel_table.h"

/* A driver entry point handed out by name (cuGetProcAddress, cudaGetDriverEntryPoint):
 * a launch function (or cuGetProcAddress itself) comes back as a trampoline that calls
 * exactly fn; anything else comes back untouched. per_thread: the caller asked for the
 * per-thread default stream variant. */
void *ds_kernels_wrap_entry(const char *symbol, void *fn, bool per_thread, enum ds_hook via);

/* A trampoline's slot (launch_driver.c), and what an assembly launch trampoline passes
 * to its gate (hooks/gates.c): the slot and the typed slow half. */
struct tslot {
    _Atomic(void *) target; /* the exact pointer the getter returned; NULL: free */
    enum ds_hook hook;      /* the hook it stands for (counting, the log's "symbol") */
    enum ds_hook via;       /* the getter that handed it out */
};
struct ds_tdesc {
    struct tslot *slot;
    void *slow;
};

/* ---- the launch watch ------------------------------------------------------------------
 * Something above the layer (hash mode) that wants to run code around every launch
 * registers a watch once; while its `active` says so (1), each launch is described to
 * `pre` before the real call and its status given to `post` after it, with what `pre`
 * returned. `active` returns 0 for "not now" and -1 for "never in this process": the watch
 * is then dropped, and a launch pays one load for it. */
struct ds_kwatched {
    enum ds_hook hook;   /* the launch function */
    enum ds_kkind kind;  /* how to name fn and read its parameters */
    const void *fn;      /* host stub, cudaKernel_t or CUfunction */
    const char *name;    /* the kernel's (mangled) name, or NULL */
    void **params;       /* kernelParams / args (may be NULL) */
    void **extra;        /* driver launches: the `extra` array (may be NULL) */
    void *stream;        /* as the program passed it (cudaStream_t or CUstream) */
    bool ptsz;           /* a per-thread-default-stream entry point */
    unsigned grid[3], block[3];
    unsigned smem;
};
struct ds_kwatch {
    int (*active)(void);
    void *(*pre)(const struct ds_kwatched *w);
    void (*post)(void *state, int status);
};
extern _Atomic(const struct ds_kwatch *) ds_kwatch_registered;
void ds_kernels_set_watch(const struct ds_kwatch *w);
const struct ds_kwatch *ds_kwatch_ask(const struct ds_kwatch *w);
/* The watch to call around this launch, or NULL (the common case). */
static inline const struct ds_kwatch *ds_kwatch_now(void)
{
    const struct ds_kwatch *w = atomic_load_explicit(&ds_kwatch_registered, memory_order_acquire);
    return DS_LIKELY(w == NULL) ? NULL : ds_kwatch_ask(w);
}
#endif
