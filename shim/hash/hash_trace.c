/* hash_trace.c: hash mode's trace: one file per process beside its log, a header line and
 * one JSON record per call that wrote device memory (docs/layers.md, "hash"), for
 * `detshim diff`. Here: the file, the record format, per-kind counts and call sites that
 * are the same in every run; the records of copies, memsets and library calls. Launches'
 * records are filled by hash_launch.c through ds_hash_rec_begin / ds_hash_rec_end. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "hash_private.h"
#include "pystack.h"

/* ---- per-kind counters and call sites ---------------------------------------------------- */
#define CNT_SLOTS 65536
static struct {
    uint64_t key, count;
} counters[CNT_SLOTS];
#define SITE_SLOTS 16384
static uint64_t sites_seen[SITE_SLOTS];
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;

uint64_t ds_hash_count_kind(uint64_t key)
{
    uint64_t c = 0;
    pthread_mutex_lock(&tab_mu);
    for (unsigned i = 0, s = (unsigned)key & (CNT_SLOTS - 1); i < CNT_SLOTS;
         i++, s = (s + 1) & (CNT_SLOTS - 1)) {
        if (counters[s].key == key || counters[s].key == 0) {
            counters[s].key = key;
            c = counters[s].count++;
            break;
        }
    }
    pthread_mutex_unlock(&tab_mu);
    return c;
}

static bool site_first(uint64_t site)
{
    bool first = false;
    pthread_mutex_lock(&tab_mu);
    for (unsigned i = 0, s = (unsigned)site & (SITE_SLOTS - 1); i < SITE_SLOTS;
         i++, s = (s + 1) & (SITE_SLOTS - 1)) {
        if (sites_seen[s] == site) break;
        if (sites_seen[s] == 0) {
            sites_seen[s] = site;
            first = true;
            break;
        }
    }
    pthread_mutex_unlock(&tab_mu);
    return first;
}

/* A call site that is the same in every run of the program: the first frames as (module
 * name, offset), never raw addresses (ASLR). Frames are looked up through a small
 * per-thread cache. */
static uint64_t frame_hash(struct hash_tls *t, void *ip)
{
    unsigned s = (unsigned)(((uintptr_t)ip * 0x9e3779b97f4a7c15ull) >> 56) & (DS_HASH_FCACHE - 1);
    if (t->frames[s].ip == (uintptr_t)ip) return t->frames[s].h;
    Dl_info di;
    uint64_t h;
    if (dladdr(ip, &di) && di.dli_fname) {
        const char *base = strrchr(di.dli_fname, '/');
        base = base ? base + 1 : di.dli_fname;
        uint64_t off = (uint64_t)((uintptr_t)ip - (uintptr_t)di.dli_fbase);
        h = ds_hash64(base, strlen(base), off);
    } else {
        h = 0x756e6b6e6f776eull; /* an anonymous frame (JIT code): only its presence counts */
    }
    t->frames[s].ip = (uintptr_t)ip;
    t->frames[s].h = h;
    return h;
}

static void site_capture(struct hash_tls *t, struct hash_site *st, enum ds_hook hook)
{
    st->n = ds_bt_capture(st->ips, DS_HASH_SITE_FRAMES);
    uint64_t h = ds_hash64(ds_hooks[hook].name, strlen(ds_hooks[hook].name), 0x73697465ull);
    /* called from Python with the GIL held, the native frames are the interpreter's, the
     * same for every Python line: the Python frames tell such sites apart */
    uint64_t py = ds_pystack_hash_stable(DS_HASH_SITE_FRAMES);
    if (py) h = ds_hash64(&py, sizeof py, h);
    for (int i = 0; i < st->n; i++) {
        uint64_t f = frame_hash(t, st->ips[i]);
        h = ds_hash64(&f, sizeof f, h);
    }
    st->id = h;
}

/* ---- the trace file ------------------------------------------------------------------------ */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static pid_t trace_pid;
static bool trace_failed;
static _Atomic uint64_t trace_seq;
static char trace_path[DS_PATH_MAX];

static void trace_header(void)
{
    char buf[8192];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    jb_obj_begin(&jb);
    jb_str(&jb, "type", "trace_header");
    jb_str(&jb, "format", "detshim-hash-trace");
    jb_int(&jb, "version", 2);
    jb_int(&jb, "pid", (long long)getpid());
    char host[256] = "unknown";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    jb_str(&jb, "host", host);
    jb_str(&jb, "digest", DS_DIGEST_NAME);
    jb_str(&jb, "digest_path", atomic_load(&ds_hash_host_only) ? "host" : "device");
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    jb_str(&jb, "exe", exe[0] ? exe : NULL);
    jb_obj_end(&jb);
    if (jb_finish(&jb)) {
        ssize_t w = write(trace_fd, buf, jb.len);
        (void)w;
    }
}

/* The trace of this process: the log's path with ".jsonl" replaced by ".trace.jsonl"
 * (".trace.jsonl" appended when the log's name has no ".jsonl"). False when it is too long. */
static bool trace_path_make(char *out, size_t outsz, pid_t me)
{
    char tmpl[DS_PATH_MAX], host[256] = "unknown", log[DS_PATH_MAX];
    const char *rank = ds_rank(ds_libc_getenv);
    if (ds_cfg.log_template_set)
        snprintf(tmpl, sizeof tmpl, "%s", ds_cfg.log_template);
    else
        snprintf(tmpl, sizeof tmpl, "%s", rank ? "detshim-%h-r%r-%p.jsonl" : "detshim-%h-%p.jsonl");
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    if (ds_expand_template(tmpl, log, sizeof log, host, (long)me, rank) != 0) return false;
    size_t n = strlen(log);
    if (n > 6 && strcmp(log + n - 6, ".jsonl") == 0) log[n - 6] = 0;
    return (size_t)snprintf(out, outsz, "%s.trace.jsonl", log) < outsz;
}

/* Open the trace file at path for writing (truncated), or say why not (the caller then
 * records nothing) and return -1. The same rules as the log's (core/privfile.c): created
 * 0600 with O_EXCL; an existing path only when it is a regular file of this user with one
 * link; never a symbolic link, FIFO, device or another user's file; never blocking. */
static int trace_open(const char *path)
{
    char why[256];
    bool created;
    int fd = ds_file_open_private(path, true, &created, why, sizeof why);
    if (fd < 0)
        ds_notice("hash", true, "refusing the hash trace %s: %s; hash mode records nothing", path,
                  why);
    return fd;
}

static bool trace_open_locked(void)
{
    pid_t me = getpid();
    if (trace_fd >= 0 && trace_pid == me) return true;
    if (trace_pid != me) { /* first use, or a fork child: a file of its own */
        if (trace_fd >= 0) close(trace_fd);
        trace_fd = -1;
        trace_failed = false;
        atomic_store(&trace_seq, 0);
        trace_pid = me;
    }
    if (trace_failed) return false;
    trace_failed = true;
    if (!trace_path_make(trace_path, sizeof trace_path, me)) return false;
    int fd = trace_open(trace_path);
    if (fd < 0) return false;
    trace_fd = fd;
    trace_failed = false;
    trace_header();
    ds_notice("hash", false, "hash mode: trace %s", trace_path);
    return true;
}

static void trace_write(const char *rec, size_t len)
{
    pthread_mutex_lock(&trace_mu);
    if (trace_open_locked()) {
        ssize_t w = write(trace_fd, rec, len);
        if (w != (ssize_t)len && !trace_failed) {
            trace_failed = true;
            ds_notice("hash", true, "cannot write the hash trace %s: later records are missing",
                      trace_path);
        }
    }
    pthread_mutex_unlock(&trace_mu);
}

/* ---- records ------------------------------------------------------------------------------ */
static const char *const path_names[4] = {NULL, "device", "host", "device+host"};

/* Records are built in the per-thread state (names and stacks can be long). */
bool ds_hash_rec_begin(struct jbuf *jb, struct hash_site *st, enum ds_hook hook)
{
    struct hash_tls *t = ds_hash_tls_get();
    if (!t) return false;
    site_capture(t, st, hook);
    pthread_mutex_lock(&trace_mu);
    bool ok = trace_open_locked();
    pthread_mutex_unlock(&trace_mu);
    if (!ok) {
        t->paths = 0;
        return false;
    }
    jb_init(jb, t->rec, DS_HASH_RECBUF);
    jb_obj_begin(jb);
    jb_str(jb, "type", "call");
    jb_uint(jb, "seq", atomic_fetch_add(&trace_seq, 1) + 1);
    jb_int(jb, "tid", (long long)gettid());
    jb_str(jb, "call", ds_hooks[hook].name);
    jb_hex(jb, "site", st->id);
    return true;
}

void ds_hash_rec_end(struct jbuf *jb, const struct hash_site *st)
{
    struct hash_tls *t = ds_hash_tls_get();
    if (t && t->paths) { /* how this record's digests of device memory were taken */
        jb_str(jb, "path", path_names[t->paths & 3]);
        t->paths = 0;
    }
    if (site_first(st->id)) {
        ds_bt_render(jb, "stack", st->ips, st->n);
        ds_pystack_render(jb); /* pystack, or pystack_note */
    }
    jb_obj_end(jb);
    if (jb_finish(jb)) trace_write(jb->p, jb->len);
}

/* ---- copies and memsets (hash_hooks.c) ------------------------------------------------------ */
/* The opening of a copy's, memset's or library call's record (counted by symbol); false
 * when no record can be written. */
static bool rec_call_begin(struct jbuf *jb, struct hash_site *site, enum ds_hook hook, const char *what,
                           size_t bytes, int st)
{
    if (!ds_hash_rec_begin(jb, site, hook)) return false;
    const char *name = ds_hooks[hook].name;
    jb_uint(jb, "count", ds_hash_count_kind(ds_hash64(name, strlen(name), 0x6b696e64ull)));
    jb_str(jb, "what", what);
    jb_uint(jb, "bytes", bytes);
    jb_int(jb, "status", st);
    return true;
}

void ds_hash_write_record(enum ds_hook hook, CUstream s, CUdeviceptr dst, size_t n, uint64_t in,
                          bool in_ok, int st, const char *what)
{
    struct hash_site site;
    struct jbuf jb;
    if (!rec_call_begin(&jb, &site, hook, what, n, st)) return;
    if (ds_hash_capturing(s)) {
        jb_str(&jb, "skipped", "stream capture in progress: no digest");
    } else {
        uint64_t out = 0;
        if (in_ok) jb_hex(&jb, "in", in); else jb_null(&jb, "in");
        if (st == 0 && ds_hash_dev(dst, n, s, &out)) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    ds_hash_rec_end(&jb, &site);
}

/* ---- library calls (hash_libs.c) --------------------------------------------------------- */
void ds_hash_write_lib(const struct ds_hcall *c, const uint64_t *after, bool after_ok, int st)
{
    size_t written = 0;
    for (int i = 0; i < c->nout; i++) written += c->bytes[i];
    struct hash_site site;
    struct jbuf jb;
    if (!rec_call_begin(&jb, &site, c->hook, c->what, written, st)) return;
    if (c->skip) {
        jb_str(&jb, "skipped", c->skip);
    } else {
        if (c->in_ok) jb_hex(&jb, "in", c->in); else jb_null(&jb, "in");
        uint64_t out = 0x6f7574ull;
        jb_arr_begin(&jb, "ranges");
        for (int i = 0; i < c->n; i++) {
            jb_obj_begin(&jb);
            jb_str(&jb, "arg", c->name[i]);
            jb_uint(&jb, "bytes", c->bytes[i]);
            if (c->in_ok) jb_hex(&jb, "in", c->before[i]); else jb_null(&jb, "in");
            if (i < c->nout) {
                if (after_ok) jb_hex(&jb, "out", after[i]); else jb_null(&jb, "out");
                ds_hash_combine(&out, after_ok ? after[i] : 0);
            }
            jb_obj_end(&jb);
        }
        jb_arr_end(&jb);
        if (after_ok && st == 0) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    ds_hash_rec_end(&jb, &site);
}

/* A fork child (ds_hash_atfork_child): its trace is a file of its own (trace_open_locked
 * sees the new pid), its counts start afresh. */
void ds_hash_trace_atfork_child(void)
{
    pthread_mutex_init(&trace_mu, NULL);
    pthread_mutex_init(&tab_mu, NULL);
    memset(counters, 0, sizeof counters);
    memset(sites_seen, 0, sizeof sites_seen);
}
