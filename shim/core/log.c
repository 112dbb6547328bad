/* log.c: one JSON Lines file per process.
 *
 * The file is opened on the first hooked call (never in a process that touches no
 * GPU library), with O_APPEND|O_CLOEXEC|O_NOFOLLOW; its first record is the header.
 * Every record is one write(2), so concurrent threads and forked children never tear
 * a line. A fork child forgets the parent's file and opens its own on its first call.
 * When the log cannot be written the program runs on; stderr says so once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detshim.h"

enum { LOG_UNOPENED, LOG_READY, LOG_FAILED };

static _Atomic int log_state = LOG_UNOPENED;
_Atomic int ds_log_settled; /* the log is open, or failed for good: nothing to do */
static int log_fd = -1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int write_error_said;
static _Atomic uint64_t log_seq;
static char log_path[DS_PATH_MAX];

const char *ds_action_name(enum ds_action a)
{
    switch (a) {
    case DS_ACT_FORCED: return "forced";
    case DS_ACT_BLOCKED: return "blocked";
    default: return "observed";
    }
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof msg - 2) n = sizeof msg - 2;
    msg[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, msg, (size_t)n);
    (void)w;
}

const char *ds_rank(ds_getenv_fn get)
{
    static const char *const vars[] = {"RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK",
                                       "PMI_RANK", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = get(vars[i]);
        if (v && *v && strspn(v, "0123456789") == strlen(v)) return v;
    }
    return NULL;
}

int ds_expand_template(const char *tmpl, char *out, size_t outsz, const char *host, long pid,
                       const char *rank)
{
    size_t o = 0;
    for (const char *p = tmpl; *p; p++) {
        char tmp[320];
        const char *ins;
        if (*p != '%') {
            tmp[0] = *p;
            tmp[1] = 0;
            ins = tmp;
        } else {
            switch (*++p) {
            case 'p': snprintf(tmp, sizeof tmp, "%ld", pid); ins = tmp; break;
            case 'r': ins = rank ? rank : "norank"; break;
            case 'h': ins = host; break;
            case '%': ins = "%"; break;
            default: return -1; /* unknown escape, or a trailing '%' */
            }
        }
        size_t n = strlen(ins);
        if (o + n + 1 > outsz) return -1;
        memcpy(out + o, ins, n);
        o += n;
    }
    if (o == 0) return -1;
    out[o] = 0;
    return 0;
}

static void default_template(char *out, size_t sz)
{
    snprintf(out, sz, "%s", ds_rank(ds_libc_getenv) ? "detshim-%h-r%r-%p.jsonl" : "detshim-%h-%p.jsonl");
}

static void write_all(const char *rec, size_t len)
{
    if (log_fd < 0) return;
    ssize_t w;
    do
        w = write(log_fd, rec, len);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)len) return;
    int err = w < 0 ? errno : ENOSPC;
    if (w > 0) {
        /* A full disk took part of the record: cut it off again, so that every line in
         * the file stays a whole record (appends after it fail the same way). */
        off_t end = lseek(log_fd, 0, SEEK_END);
        if (end >= (off_t)w && ftruncate(log_fd, end - (off_t)w) != 0) err = errno;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&write_error_said, &expected, 1))
        say("detshim: cannot write the log %s: %s; records after this one may be missing "
            "(the program runs on)",
            log_path, strerror(err));
}

static void open_log(void)
{
    char tmpl[DS_PATH_MAX], host[256] = "unknown";
    if (ds_cfg.log_template_set)
        snprintf(tmpl, sizeof tmpl, "%s", ds_cfg.log_template);
    else
        default_template(tmpl, sizeof tmpl);
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    if (ds_expand_template(tmpl, log_path, sizeof log_path, host, (long)getpid(),
                           ds_rank(ds_libc_getenv)) != 0) {
        say("detshim: the log path template '%s' does not expand to a usable path; "
            "no log for this process",
            tmpl);
        atomic_store(&log_state, LOG_FAILED);
        return;
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        int err = errno;
        say("detshim: cannot open the log %s: %s%s; no log for this process (the program runs on)",
            log_path, strerror(err),
            err == ELOOP ? " (a symbolic link is there; detshim does not follow it)" : "");
        atomic_store(&log_state, LOG_FAILED);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a FIFO or device at the log path: refuse rather than block or write into it */
        say("detshim: the log path %s is not a regular file; no log for this process", log_path);
        close(fd);
        atomic_store(&log_state, LOG_FAILED);
        return;
    }
    /* Keep the descriptor away from 0..2 and from low numbers that programs dup2 onto. */
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (hi >= 0) {
        close(fd);
        fd = hi;
    }
    log_fd = fd;

    static char buf[65536];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    jb_obj_begin(&jb);
    jb_str(&jb, "type", "header");
    jb_int(&jb, "schema", 1);
    jb_str(&jb, "log", log_path);
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
    write_all(buf, jb.len);
    atomic_store_explicit(&log_state, LOG_READY, memory_order_release);
}

static void touch_slow(void)
{
    if (ds_cfg.mode == DS_MODE_OFF) return;
    pthread_mutex_lock(&log_mu);
    if (atomic_load(&log_state) == LOG_UNOPENED) {
        ds_depth++;
        /* Warm libunwind up once, here, before any thread captures a stack: its lazy
         * initialisation is not safe to race (and parses this process's objects). */
        void *warm[4];
        (void)ds_bt_capture(warm, 4);
        open_log();
        ds_depth--;
    }
    pthread_mutex_unlock(&log_mu);
}

void ds_log_touch_slow(void)
{
    if (atomic_load_explicit(&log_state, memory_order_acquire) != LOG_UNOPENED) return;
    touch_slow();
    atomic_store_explicit(&ds_log_settled, atomic_load(&log_state) != LOG_UNOPENED,
                          memory_order_release);
}

void ds_log_write(const char *rec, size_t len)
{
    ds_log_touch();
    if (atomic_load_explicit(&log_state, memory_order_acquire) != LOG_READY) return;
    write_all(rec, len);
}

void ds_record_begin(struct jbuf *jb, const char *type)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    jb_obj_begin(jb);
    jb_str(jb, "type", type);
    jb_uint(jb, "seq", atomic_fetch_add(&log_seq, 1) + 1);
    char t[40];
    snprintf(t, sizeof t, "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
    jb_key(jb, "t");
    jb_raw(jb, t);
    jb->need_comma = true;
    jb_int(jb, "pid", (long long)getpid());
    jb_int(jb, "tid", (long long)gettid());
}

void ds_notice(const char *layer, bool loud, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loud || ds_cfg.verbose) say("detshim: %s", msg);
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
    if (jb_finish(&jb)) ds_log_write(buf, jb.len);
}

void ds_log_summary(void)
{
    if (atomic_load(&log_state) != LOG_READY) return;
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
    write_all(buf, jb.len);
}

void ds_log_atfork_child(void)
{
    /* Only this thread exists now: plain resets are safe. */
    pthread_mutex_init(&log_mu, NULL);
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    atomic_store(&log_state, LOG_UNOPENED);
    atomic_store(&ds_log_settled, 0);
    atomic_store(&write_error_said, 0);
    atomic_store(&log_seq, 0);
    for (int i = 0; i < DS_HOOK_COUNT; i++) atomic_store(&ds_hook_calls[i], 0);
    ds_sites_reset();
    ds_fingerprint_reset();
}

void ds_log_reset_for_test(void) { ds_log_atfork_child(); }
