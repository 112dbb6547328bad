/* kerneldb.c: the kernel database (built-in, scanner files, user patterns) and the
 * classification of one kernel name. Runs once per kernel, never on the launch hot path:
 * allocation is fine here. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerneldb.h"

#define KDB_MAX_FILE (256u << 20) /* a database beyond this is surely not one */

void ds_kdb_init(struct ds_kdb *db)
{
    memset(db, 0, sizeof *db);
}

void ds_kdb_free(struct ds_kdb *db)
{
    for (size_t i = 0; i < db->nblocks; i++) free(db->blocks[i]);
    free(db->blocks);
    free(db->e);
    memset(db, 0, sizeof *db);
}

/* Keep a block the entries point into; on failure the block is freed and NULL returned. */
static char *keep(struct ds_kdb *db, char *block)
{
    if (!block) return NULL;
    if (db->nblocks == db->capblocks) {
        size_t cap = db->capblocks ? db->capblocks * 2 : 8;
        char **b = realloc(db->blocks, cap * sizeof *b);
        if (!b) {
            free(block);
            return NULL;
        }
        db->blocks = b;
        db->capblocks = cap;
    }
    db->blocks[db->nblocks++] = block;
    return block;
}

static char *keep_str(struct ds_kdb *db, const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    return keep(db, c);
}

static bool is_literal(const char *p)
{
    return strpbrk(p, "*?[\\") == NULL;
}

static bool add(struct ds_kdb *db, const char *pattern, const char *reason, const char *advice,
                const char *source, int line)
{
    if (db->n == db->cap) {
        size_t cap = db->cap ? db->cap * 2 : 64;
        struct ds_kdb_entry *e = realloc(db->e, cap * sizeof *e);
        if (!e) return false;
        db->e = e;
        db->cap = cap;
    }
    db->e[db->n++] = (struct ds_kdb_entry){pattern, reason, source, line, is_literal(pattern), advice};
    return true;
}

static void report(ds_kdb_err_fn err, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(ds_kdb_err_fn err, void *arg, const char *fmt, ...)
{
    if (!err) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err(arg, msg);
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* What is wrong with one entry line (pattern TAB reason), or NULL. */
static const char *line_problem(const char *s, size_t n, size_t *tab)
{
    const char *t = memchr(s, '\t', n);
    if (!t) return "no TAB between pattern and reason";
    *tab = (size_t)(t - s);
    if (*tab == 0) return "empty pattern (the line starts with a TAB)";
    if (memchr(t + 1, '\t', n - *tab - 1)) return "more than one TAB (expected: pattern<TAB>reason)";
    if (blank(s[0]) || blank(s[*tab - 1])) return "blanks around the pattern";
    size_t rl = n - *tab - 1;
    bool empty = true;
    for (size_t i = 0; i < rl; i++)
        if (!blank(t[1 + i])) empty = false;
    if (empty) return "empty reason";
    if (memchr(s, 0, n)) return "a NUL byte in the line";
    return NULL;
}

int ds_kdb_parse(struct ds_kdb *db, const char *text, size_t len, const char *source,
                 ds_kdb_err_fn err, void *arg)
{
    const char *src = keep_str(db, source, strlen(source));
    char *buf = keep_str(db, text, len);
    if (!buf || !src) {
        report(err, arg, "kernel database %s: out of memory; not loaded", source);
        return 1;
    }
    int bad = 0, lineno = 0;
    const char *advice = NULL; /* set by a "#!advice" line for the entries after it */
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lineno++;
        char *q = eol;
        if (q > p && q[-1] == '\r') q--; /* CRLF files */
        size_t n = (size_t)(q - p);
        size_t i = 0;
        while (i < n && blank(p[i])) i++;
        if (i < n && (size_t)(n - i) >= 8 && memcmp(p + i, "#!advice", 8) == 0 &&
            (n - i == 8 || blank(p[i + 8]))) {
            size_t a = i + 8, z = n;
            while (a < z && blank(p[a])) a++;
            while (z > a && blank(p[z - 1])) z--;
            p[z] = 0;
            advice = z > a ? p + a : NULL;
            p = eol + 1;
            continue;
        }
        if (i == n || p[i] == '#') {
            p = eol + 1;
            continue;
        }
        size_t tab = 0;
        const char *why = line_problem(p, n, &tab);
        if (why) {
            bad++;
            report(err, arg, "kernel database %s line %d: %s: '%.*s'; line ignored, the rest is loaded",
                   source, lineno, why, n > 120 ? 120 : (int)n, p);
        } else {
            p[tab] = 0;
            size_t r = n;
            while (r > tab + 1 && blank(p[r - 1])) r--;
            p[r] = 0;
            char *reason = p + tab + 1;
            while (blank(*reason)) reason++;
            if (!add(db, p, reason, advice, src, lineno)) {
                report(err, arg, "kernel database %s: out of memory at line %d; the rest is not loaded",
                       source, lineno);
                return bad + 1;
            }
        }
        p = eol + 1;
    }
    return bad;
}

int ds_kdb_load_file(struct ds_kdb *db, const char *path, ds_kdb_err_fn err, void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO there never blocks */
    struct stat st;
    const char *why = NULL;
    int e = 0;
    if (fd < 0) {
        e = errno;
    } else if (fstat(fd, &st) != 0) {
        e = errno;
    } else if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else if ((unsigned long long)st.st_size > KDB_MAX_FILE) {
        why = "larger than 256 MiB";
    }
    if (e || why) {
        report(err, arg,
               "kernel database %s (from DETSHIM_KERNELS) cannot be read: %s; none of its "
               "patterns are loaded, the rest are",
               path, why ? why : strerror(e));
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    while (buf && got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            e = r < 0 ? errno : 0;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (!buf || e) {
        report(err, arg,
               "kernel database %s (from DETSHIM_KERNELS) cannot be read: %s; none of its "
               "patterns are loaded, the rest are",
               path, buf ? strerror(e) : "out of memory");
        free(buf);
        return -1;
    }
    int bad = ds_kdb_parse(db, buf, got, path, err, arg);
    free(buf);
    return bad;
}

int ds_kdb_add_patterns(struct ds_kdb *db, const char *list, const char *source)
{
    if (!list) return 0;
    int added = 0;
    size_t len = strlen(list);
    size_t i = 0;
    while (i <= len) {
        size_t b = i;
        /* an item ends at ',' or at a ':' that is not part of "::" */
        while (i < len && list[i] != ',' &&
               !(list[i] == ':' && list[i + 1] != ':' && (i == 0 || list[i - 1] != ':')))
            i++;
        size_t e = i;
        while (b < e && blank(list[b])) b++;
        while (e > b && blank(list[e - 1])) e--;
        if (e > b) {
            char *pat = keep_str(db, list + b, e - b);
            char reason[512];
            snprintf(reason, sizeof reason, "%s pattern '%.*s'", source,
                     (int)(e - b > 400 ? 400 : e - b), list + b);
            char *r = keep_str(db, reason, strlen(reason));
            const char *src = keep_str(db, source, strlen(source));
            if (pat && r && src && add(db, pat, r, NULL, src, 0)) added++;
        }
        i++;
    }
    return added;
}

static bool matches(const struct ds_kdb_entry *e, const char *name)
{
    if (!name) return false;
    return e->literal ? strcmp(e->pattern, name) == 0 : fnmatch(e->pattern, name, 0) == 0;
}

const struct ds_kdb_entry *ds_kdb_match(const struct ds_kdb *db, const char *mangled,
                                        const char *demangled)
{
    if (demangled && mangled && strcmp(demangled, mangled) == 0) demangled = NULL;
    for (size_t i = 0; i < db->n; i++)
        if (matches(&db->e[i], mangled) || matches(&db->e[i], demangled)) return &db->e[i];
    return NULL;
}

void ds_kclassifier_init(struct ds_kclassifier *c)
{
    memset(c, 0, sizeof *c);
    ds_kdb_init(&c->db);
    ds_kdb_init(&c->allow);
    ds_kdb_init(&c->deny);
}

void ds_kclassifier_free(struct ds_kclassifier *c)
{
    ds_kdb_free(&c->db);
    ds_kdb_free(&c->allow);
    ds_kdb_free(&c->deny);
}

void ds_kclassifier_load(struct ds_kclassifier *c, const char *builtin, size_t builtin_len,
                         ds_getenv_fn get, ds_kdb_err_fn err, void *arg)
{
    ds_kclassifier_init(c);
    if (builtin) {
        c->bad_lines += ds_kdb_parse(&c->db, builtin, builtin_len, DS_KDB_BUILTIN_SOURCE, err, arg);
        c->builtin_entries = (int)c->db.n;
    }
    const char *files = get ? get("DETSHIM_KERNELS") : NULL;
    if (files) {
        const char *p = files;
        while (*p) {
            const char *e = strchr(p, ':');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0 && n < DS_PATH_MAX) {
                char path[DS_PATH_MAX];
                memcpy(path, p, n);
                path[n] = 0;
                int r = ds_kdb_load_file(&c->db, path, err, arg);
                if (r < 0)
                    c->bad_files++;
                else
                    c->bad_lines += r;
            }
            if (!e) break;
            p = e + 1;
        }
    }
    c->file_entries = (int)c->db.n - c->builtin_entries;
    if (get) {
        ds_kdb_add_patterns(&c->allow, get("DETSHIM_ALLOW"), "DETSHIM_ALLOW");
        ds_kdb_add_patterns(&c->deny, get("DETSHIM_DENY"), "DETSHIM_DENY");
    }
}

enum ds_kverdict ds_kclassify(const struct ds_kclassifier *c, const char *mangled,
                              const char *demangled, const struct ds_kdb_entry **why)
{
    const struct ds_kdb_entry *e;
    if ((e = ds_kdb_match(&c->allow, mangled, demangled))) {
        *why = e;
        return DS_KV_ALLOWED;
    }
    if ((e = ds_kdb_match(&c->deny, mangled, demangled))) {
        *why = e;
        return DS_KV_DENIED;
    }
    if ((e = ds_kdb_match(&c->db, mangled, demangled))) {
        *why = e;
        return DS_KV_DATABASE;
    }
    *why = NULL;
    return DS_KV_CLEAN;
}

/* ---- the process-wide classifier ------------------------------------------------------ */
static struct ds_kclassifier global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void notice_err(void *arg, const char *msg)
{
    (void)arg;
    ds_notice("kernels", true, "%s", msg);
}

static void load_global(void)
{
    ds_kclassifier_load(&global, ds_kernels_db_builtin, ds_kernels_db_builtin_len,
                        ds_libc_getenv, notice_err, NULL);
    ds_notice("kernels", false,
              "kernel database: %d built-in entries, %d from DETSHIM_KERNELS (%d unreadable "
              "files, %d malformed lines), %zu DETSHIM_ALLOW and %zu DETSHIM_DENY patterns",
              global.builtin_entries, global.file_entries, global.bad_files, global.bad_lines,
              global.allow.n, global.deny.n);
}

const struct ds_kclassifier *ds_kclassifier_global(void)
{
    pthread_once(&global_once, load_global);
    return &global;
}
