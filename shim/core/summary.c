/* summary.c: the last record of a log: calls per hooked function and every call site
 * with its count (written at exit), and the per-hook call counters it reads. */
#include <stdatomic.h>

#include "detshim.h"

_Atomic uint64_t ds_hook_calls[DS_HOOK_COUNT];

void ds_summary_write(void)
{
    if (!ds_log_is_open()) return;
    static char buf[1 << 20];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    ds_record_begin(&jb, "summary");
    jb_key(&jb, "calls");
    jb_obj_begin(&jb);
    for (int i = 0; i < DS_HOOK_COUNT; i++) {
        uint64_t c = atomic_load_explicit(&ds_hook_calls[i], memory_order_relaxed);
        if (c) jb_uint(&jb, ds_hooks[i].name, c);
    }
    jb_obj_end(&jb);
    ds_sites_summary(&jb);
    jb_obj_end(&jb);
    if (!jb_finish(&jb)) {
        jb_init(&jb, buf, sizeof buf);
        ds_record_begin(&jb, "summary");
        jb_bool(&jb, "truncated", true);
        jb_obj_end(&jb);
        jb_finish(&jb);
    }
    ds_log_write(buf, jb.len);
}

void ds_summary_reset(void)
{
    for (int i = 0; i < DS_HOOK_COUNT; i++) atomic_store(&ds_hook_calls[i], 0);
}
