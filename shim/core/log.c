/* log.c: one JSON Lines file per process: opening it, and writing whole records.
 *
 * header.c decides when the file is opened (the first hooked call: never in a process
 * that touches no GPU library) and writes its first record, the header. The file is
 * opened with O_APPEND|O_CLOEXEC|O_NOFOLLOW.
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
static int log_fd = -1;
static _Atomic int write_error_said;
static _Atomic uint64_t log_seq;
static char log_path[DS_PATH_MAX];
static bool log_created; /* this process made the file (it may remove it again) */

const char *ds_action_name(enum ds_action a)
{
    switch (a) {
    case DS_ACT_FORCED: return "forced";
    case DS_ACT_BLOCKED: return "blocked";
    default: return "observed";
    }
}

void ds_say(const char *fmt, ...)
{
    if (ds_cfg.secure) return; /* secure execution: not one byte to the caller's stderr */
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

static void default_template(char *out, size_t sz)
{
    snprintf(out, sz, "%s", ds_rank(ds_libc_getenv) ? "detshim-%h-r%r-%p.jsonl" : "detshim-%h-%p.jsonl");
}

static bool write_all(const char *rec, size_t len)
{
    if (log_fd < 0) return false;
    ssize_t w;
    do
        w = write(log_fd, rec, len);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)len) return true;
    int err = w < 0 ? errno : ENOSPC;
    if (w > 0) {
        /* A full disk took part of the record: cut it off again, so that every line in
         * the file stays a whole record (appends after it fail the same way). */
        off_t end = lseek(log_fd, 0, SEEK_END);
        if (end >= (off_t)w && ftruncate(log_fd, end - (off_t)w) != 0) err = errno;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&write_error_said, &expected, 1))
        ds_say("detshim: cannot write the log %s: %s; records after this one may be missing "
            "(the program runs on)",
            log_path, strerror(err));
    return false;
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
        ds_say("detshim: the log path template '%s' does not expand to a usable path; "
            "no log for this process",
            tmpl);
        atomic_store(&log_state, LOG_FAILED);
        return;
    }
    char why[256];
    int fd = ds_file_open_private(log_path, false, &log_created, why, sizeof why);
    if (fd < 0) {
        ds_say("detshim: cannot open the log %s: %s; no log for this process (the program runs on)",
               log_path, why);
        atomic_store(&log_state, LOG_FAILED);
        return;
    }
    log_fd = fd;
    atomic_store_explicit(&log_state, LOG_READY, memory_order_release);
}

bool ds_log_open(void)
{
    if (atomic_load(&log_state) == LOG_UNOPENED) open_log();
    return atomic_load(&log_state) == LOG_READY;
}

bool ds_log_is_open(void)
{
    return atomic_load_explicit(&log_state, memory_order_acquire) == LOG_READY;
}

const char *ds_log_path(void) { return log_path; }

bool ds_log_write(const char *rec, size_t len)
{
    if (atomic_load_explicit(&log_state, memory_order_acquire) != LOG_READY) return false;
    return write_all(rec, len);
}

void ds_log_abandon(void)
{
    if (atomic_exchange(&log_state, LOG_FAILED) != LOG_READY) return;
    struct stat st;
    /* a file this process created and could not even give its header: gone again */
    if (log_created && fstat(log_fd, &st) == 0 && st.st_size == 0) unlink(log_path);
    close(log_fd);
    log_fd = -1;
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

void ds_log_atfork_child(void)
{
    /* Only this thread exists now: plain resets are safe. */
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    atomic_store(&log_state, LOG_UNOPENED);
    atomic_store(&write_error_said, 0);
    atomic_store(&log_seq, 0);
}
