/* loader.c: the dynamic loader, walked safely, and where this copy of the shim lies.
 *
 * Stack walks, walks of the loaded objects and dlopen/dlclose are kept apart from fork()
 * by one gate (below), and the address range of this copy of the library is found once
 * by such a walk. The bottom of the core: it calls nothing of the shim's. */
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "detshim.h"

/* fork() while another thread is inside libunwind (or dl_iterate_phdr, which libunwind
 * calls) would leave locks held in the child, which then hangs at its first stack capture. A gate of two atomics
 * keeps captures and fork apart: a capture counts itself in `active` unless a fork is
 * pending; fork's prepare handler raises `forking` and waits for `active` to drain; both
 * are cleared after the fork, in the parent and in the child. (No pthread lock: a lock
 * the forking thread holds cannot be released by the child, whose thread id differs.) */
static _Atomic int unwind_active, unwind_forking;
static DS_TLS int gate_depth; /* this thread's nesting: an inner walk never waits */
/* 1 exactly while this thread's unit is in `active`: changed with every signal blocked, so
 * that a fork from a signal handler on this thread knows whether to count itself. */
static DS_TLS volatile sig_atomic_t gate_counted;

static void count_self(int delta)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_fetch_add(&unwind_active, delta);
    gate_counted = delta > 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ds_fork_gate_enter(void)
{
    if (gate_depth++ > 0) return;
    for (;;) {
        while (atomic_load(&unwind_forking)) sched_yield();
        count_self(1);
        if (!atomic_load(&unwind_forking)) return;
        count_self(-1); /* a fork came first: let it go */
    }
}
void ds_fork_gate_leave(void)
{
    if (--gate_depth > 0) return;
    count_self(-1);
}

/* dl_iterate_phdr holds the loader's object-list lock while it walks, and a fork child
 * inherits that lock held when another thread was walking (glibc resets other loader locks
 * in the child, not this one): every walk of the shim's goes through the same gate. */
int ds_loader_walk(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    ds_fork_gate_enter();
    int r = dl_iterate_phdr(cb, arg);
    ds_fork_gate_leave();
    return r;
}

/* A fork from a signal handler that interrupted this very thread inside the gate (a stack
 * capture, a walk) must not wait for itself: its own count stays, the others drain. */
static int own_count(void) { return gate_counted ? 1 : 0; }

static void fork_prepare(void)
{
    atomic_store(&unwind_forking, 1);
    while (atomic_load(&unwind_active) > own_count()) sched_yield();
}
static void fork_parent(void) { atomic_store(&unwind_forking, 0); }
static void fork_child(void)
{
    /* the interrupted walk, if any, goes on in the child too and leaves the gate later */
    atomic_store(&unwind_active, own_count());
    atomic_store(&unwind_forking, 0);
}

void ds_loader_init(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

static uintptr_t self_lo, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            /* this object: take the span of all its loadable segments */
            uintptr_t a = UINTPTR_MAX, b = 0;
            for (int k = 0; k < info->dlpi_phnum; k++) {
                const ElfW(Phdr) *q = &info->dlpi_phdr[k];
                if (q->p_type != PT_LOAD) continue;
                uintptr_t l = info->dlpi_addr + q->p_vaddr;
                if (l < a) a = l;
                if (l + q->p_memsz > b) b = l + q->p_memsz;
            }
            self_lo = a;
            self_hi = b;
            return 1;
        }
    }
    return 0;
}

void ds_self_init(void)
{
    if (!self_hi) ds_loader_walk(find_self, (void *)(uintptr_t)&ds_self_init);
}

void ds_self_set_range_for_test(uintptr_t lo, uintptr_t hi);
void ds_self_set_range_for_test(uintptr_t lo, uintptr_t hi)
{
    self_lo = lo;
    self_hi = hi ? hi : 1; /* non-zero: do not look it up again */
}

bool ds_addr_is_self(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    return a >= self_lo && a < self_hi;
}
