/* header.c: when the log opens, and its first record.
 *
 * The log opens on the first hooked call (ds_log_touch, inline in detshim.h: one load once
 * settled), under a lock, and its first record says who this process is (fingerprint.c)
 * and what the shim pinned (pins.c). A forked child (a DataLoader worker, forked every
 * epoch) opens its own log only at its first record of its own (an event, a notice):
 * a worker with nothing to report leaves no file. libunwind is warmed up here too, before any thread
 * captures a stack: its lazy initialisation is not safe to race. Notices live here too: a
 * notice from inside a hooked call opens the log like any record of that call. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>

#include "detshim.h"

_Atomic int ds_log_settled; /* the log is open, or failed for good: nothing to do */
static pthread_mutex_t header_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int touched; /* the first hooked call came by */
static _Atomic int opened;  /* the log was opened (or failed to) */
static bool fork_child;     /* this process is a fork of one that loaded the shim */

static void write_header(void);

/* Under header_mu. */
static void open_now(void)
{
    if (atomic_load(&opened)) return;
    if (ds_log_open()) write_header();
    atomic_store_explicit(&opened, 1, memory_order_release);
}

static void write_header(void)
{
    static char buf[1 << 20]; /* bss: touched only as far as a header reaches */
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    jb_obj_begin(&jb);
    jb_str(&jb, "type", "header");
    jb_int(&jb, "schema", 1);
    jb_str(&jb, "log", ds_log_path());
    jb_bool(&jb, "forked", fork_child);
    ds_fingerprint_header(&jb);
    ds_pins_header(&jb);
    jb_obj_end(&jb);
    if (!jb_finish(&jb)) {
        jb_init(&jb, buf, sizeof buf);
        jb_obj_begin(&jb);
        jb_str(&jb, "type", "header");
        jb_int(&jb, "schema", 1);
        jb_bool(&jb, "truncated", true);
        jb_obj_end(&jb);
        jb_finish(&jb);
    }
    if (!ds_log_write(buf, jb.len)) ds_log_abandon(); /* never a log without its header */
}

static void touch_slow(void)
{
    if (ds_cfg.mode == DS_MODE_OFF) return;
    pthread_mutex_lock(&header_mu);
    if (!atomic_load(&touched)) {
        ds_depth++;
        /* Warm libunwind up once, here, before any thread captures a stack: its lazy
         * initialisation is not safe to race (and parses this process's objects). */
        void *warm[4];
        (void)ds_bt_capture(warm, 4);
        if (!fork_child) open_now();
        atomic_store(&touched, 1);
        ds_depth--;
    }
    pthread_mutex_unlock(&header_mu);
}

void ds_log_touch_slow(void)
{
    if (atomic_load_explicit(&ds_log_settled, memory_order_acquire)) return;
    touch_slow();
    atomic_store_explicit(&ds_log_settled, atomic_load(&touched), memory_order_release);
}

void ds_log_need(void)
{
    if (DS_LIKELY(atomic_load_explicit(&opened, memory_order_acquire))) return;
    if (ds_cfg.mode == DS_MODE_OFF) return;
    pthread_mutex_lock(&header_mu);
    ds_depth++;
    open_now();
    ds_depth--;
    pthread_mutex_unlock(&header_mu);
}

void ds_header_atfork_child(void)
{
    /* Only this thread exists now: plain resets are safe. */
    pthread_mutex_init(&header_mu, NULL);
    fork_child = true;
    atomic_store(&opened, 0);
    atomic_store(&touched, 0);
    atomic_store(&ds_log_settled, 0);
}

void ds_notice(const char *layer, bool loud, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loud || ds_cfg.verbose) ds_say("detshim: %s", msg);
    /* Only a process that has called a hooked function gets a log file: a notice from
     * the constructor (a pin, a bad setting) goes to stderr alone. */
    if (ds_cfg.mode == DS_MODE_OFF || !ds_in_shim()) return;
    char buf[2048];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    ds_record_begin(&jb, "notice");
    jb_str(&jb, "layer", layer);
    jb_str(&jb, "message", msg);
    jb_obj_end(&jb);
    if (!jb_finish(&jb)) return;
    ds_log_touch();
    ds_log_need();
    ds_log_write(buf, jb.len);
}
