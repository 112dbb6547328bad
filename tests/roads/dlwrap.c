/* libdlwrap: another preloaded library that wraps dlsym itself (as some profilers and
 * loaders do): counts the lookups and forwards to the next dlsym, found with
 * dlvsym(RTLD_NEXT). Whatever the preload order, lookups keep working, nothing recurses,
 * and a vendor handle's hooked names still lead to the shim. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static int seen;

void *dlsym(void *handle, const char *name)
{
    static void *(*next)(void *, const char *);
    if (!next) next = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!next) next = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    __atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED);
    return next ? next(handle, name) : NULL;
}

__attribute__((destructor)) static void report(void)
{
    if (getenv("DLWRAP_REPORT")) fprintf(stderr, "dlwrap saw %d lookups\n", seen);
}
