/* event.c: call-site dedup and event records.
 *
 * A call site is (hook, action, subject, the caller's stack). The first event at a
 * site is logged with its symbolised stack; repeats only bump a counter. The table is
 * fixed-size, open addressing, lock-free: a lookup is a hash and a few loads, an
 * insert one compare-and-swap. When it is full, further new sites are counted under
 * one overflow bucket (said once in the log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detshim.h"
#include "pystack.h"

#define SITES 4096 /* power of two */

struct site {
    _Atomic uint64_t key; /* 0: empty */
    _Atomic uint64_t count;
    uint16_t hook;
    uint8_t action;
    _Atomic uint8_t ready; /* hook/action written */
};

static struct site sites[SITES];
static _Atomic uint64_t overflow_count;

/* Returns the new count; *first is set when this call inserted the site. */
static uint64_t site_hit(uint64_t key, enum ds_hook hook, enum ds_action act, bool *first)
{
    *first = false;
    for (unsigned i = 0, slot = (unsigned)key & (SITES - 1); i < SITES;
         i++, slot = (slot + 1) & (SITES - 1)) {
        struct site *s = &sites[slot];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key) return atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed) + 1;
        if (k == 0) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&s->key, &expected, key)) {
                s->hook = (uint16_t)hook;
                s->action = (uint8_t)act;
                atomic_store_explicit(&s->ready, 1, memory_order_release);
                *first = true;
                return atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed) + 1;
            }
            if (expected == key)
                return atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed) + 1;
        }
    }
    uint64_t n = atomic_fetch_add(&overflow_count, 1);
    if (n == 0)
        ds_notice("core", true,
                  "more than %d distinct call sites: further new sites are only counted", SITES);
    return 0;
}

bool ds_event_capture(struct ds_event *ev, enum ds_hook hook, enum ds_action action,
                      uint64_t subject)
{
    ds_log_touch(); /* opens the log and warms libunwind up before the first capture */
    ev->hook = hook;
    ev->layer = ds_hooks[hook].layer;
    ev->action = action;
    ev->subject = subject;
    ev->nips = ds_bt_capture(ev->ips, ds_cfg.stack_depth);
    uint64_t h = ds_hash64(ev->ips, sizeof(void *) * (size_t)ev->nips,
                           ((uint64_t)hook << 8 | (uint64_t)action) * 0x9e3779b97f4a7c15ull);
    /* the Python line too (pystack.c: pointers only): from Python, the native frames
     * are the interpreter's, the same for every line */
    uint64_t py = ds_pystack_hash(ds_cfg.stack_depth);
    if (py) h = ds_hash64(&py, sizeof py, h);
    ev->site = ds_hash64(&subject, sizeof subject, h);
    bool first;
    ev->count = site_hit(ev->site, hook, action, &first);
    return first;
}

/* The fields every event record starts with (the full and the short form alike). */
static void event_head(struct jbuf *jb, const struct ds_event *ev, const char *detail,
                       size_t detail_len)
{
    ds_record_begin(jb, "event");
    jb_str(jb, "layer", ds_layers[ev->layer].name);
    jb_str(jb, "symbol", ds_hooks[ev->hook].name);
    jb_str(jb, "action", ds_action_name(ev->action));
    jb_str(jb, "mode", ds_mode_name(ds_cfg.mode));
    jb_strn(jb, "detail", detail, detail_len);
    jb_hex(jb, "site", ev->site);
    jb_uint(jb, "count", ev->count);
}

void ds_event_log(const struct ds_event *ev, const char *detail, ds_extra_fn extra, void *arg)
{
    /* Events are rare (once per site), so this is no hot path: a heap buffer keeps
     * big stacks off small thread stacks. */
    enum { BIG = 65536 };
    char fallback[4096];
    char *big = malloc(BIG);
    struct jbuf jb;
    if (big)
        jb_init(&jb, big, BIG);
    else
        jb_init(&jb, fallback, 0); /* overflows at once: the short form below */
    event_head(&jb, ev, detail, detail ? strlen(detail) : 0);
    if (extra) extra(&jb, arg);
    ds_bt_render(&jb, "stack", ev->ips, ev->nips);
    ds_pystack_render(&jb);
    jb_obj_end(&jb);
    if (!jb_finish(&jb)) {
        /* too big (a huge detail or stack): keep the facts, drop the stack */
        jb_init(&jb, fallback, sizeof fallback);
        event_head(&jb, ev, detail, detail ? strnlen(detail, 1024) : 0);
        jb_bool(&jb, "truncated", true);
        jb_obj_end(&jb);
        if (!jb_finish(&jb)) {
            free(big);
            return;
        }
    }
    ds_log_need();
    ds_log_write(jb.p, jb.len);
    free(big);
    ds_fingerprint_device();
}

void ds_event(enum ds_hook hook, enum ds_action action, uint64_t subject, const char *detail)
{
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, action, subject)) ds_event_log(&ev, detail, NULL, NULL);
}

void ds_sites_reset(void)
{
    memset(sites, 0, sizeof sites);
    atomic_store(&overflow_count, 0);
}

void ds_sites_summary(struct jbuf *jb)
{
    uint64_t total = 0;
    jb_arr_begin(jb, "sites");
    for (unsigned i = 0; i < SITES; i++) {
        struct site *s = &sites[i];
        uint64_t k = atomic_load(&s->key);
        if (!k || !atomic_load(&s->ready)) continue;
        uint64_t c = atomic_load(&s->count);
        total += c;
        jb_obj_begin(jb);
        jb_hex(jb, "site", k);
        jb_str(jb, "layer", ds_layers[ds_hooks[s->hook].layer].name);
        jb_str(jb, "symbol", ds_hooks[s->hook].name);
        jb_str(jb, "action", ds_action_name((enum ds_action)s->action));
        jb_uint(jb, "count", c);
        jb_obj_end(jb);
    }
    jb_arr_end(jb);
    uint64_t of = atomic_load(&overflow_count);
    jb_uint(jb, "events", total + of);
    jb_uint(jb, "overflow", of);
}

void ds_refuse(const struct ds_event *ev, const char *what, const char *allow)
{
    char msg[4096];
    size_t n = 0;
#define ADD(...)                                                                   \
    do {                                                                           \
        int k_ = snprintf(msg + n, sizeof msg - n, __VA_ARGS__);                   \
        if (k_ > 0) n = n + (size_t)k_ < sizeof msg ? n + (size_t)k_ : sizeof msg - 1; \
    } while (0)
    ADD("detshim: strict mode refused %s: %s\n", ds_hooks[ev->hook].name, what);
    n += ds_pystack_text(msg + n, sizeof msg - n, 4); /* the Python line first */
    for (int i = 0; i < ev->nips && i < 6; i++) {
        struct ds_sym s;
        ds_bt_symbolize(ev->ips[i], &s);
        ADD("  %s %s (%s+0x%lx)\n", i ? "   " : "at", s.function[0] ? s.function : "??",
            s.module[0] ? s.module : "?", (unsigned long)s.offset);
    }
    ADD("  to allow it: %s; or run with DETSHIM_MODE=enforce (record it and go on)\n", allow);
#undef ADD
    ssize_t w = write(2, msg, n);
    (void)w;
}
