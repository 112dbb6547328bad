/* backtrace.c: the caller's stack, cheaply, and its symbols, once per call site.
 *
 * Capture is libunwind's unw_backtrace (raw return addresses; on x86_64 its fast
 * path caches frame descriptors). Frames inside the shim are dropped, so frame 0 is
 * the code that called the hooked function.
 * Symbolisation runs only for a site's first event: module and offset from dladdr;
 * the function name from libunwind's unw_get_proc_name, which reads the ELF symbol
 * table and so also names static functions of unstripped objects; demangled through
 * __cxa_demangle when libstdc++ is loaded. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <link.h>
#include <libunwind.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detshim.h"

#if defined(__SANITIZE_THREAD__)
/* Under ThreadSanitizer, libunwind's fast path keeps a per-thread cache whose TSD
 * destructor runs after TSan has torn the exiting thread down (a crash in TSan's
 * mutex interceptor). The TSan build walks with a cursor instead: same frames. */
static int raw_backtrace(void **raw, int max)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) return 0;
    int n = 0;
    while (n < max && unw_step(&cur) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0) break;
        raw[n++] = (void *)ip;
    }
    return n;
}
#else
#define raw_backtrace unw_backtrace
#endif

int ds_bt_capture(void **ips, int max)
{
    void *raw[DS_MAX_FRAMES + 16];
    ds_fork_gate_enter();
    int n = raw_backtrace(raw, DS_MAX_FRAMES + 16);
    ds_fork_gate_leave();
    int k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (!ds_addr_is_self(raw[i])) ips[k++] = raw[i];
    return k;
}

static char exe_path[DS_PATH_MAX];
static void read_exe(void)
{
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n > 0)
        exe_path[n] = 0;
    else
        strcpy(exe_path, "?");
}

static const char *main_exe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_exe);
    return exe_path;
}

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

char *ds_demangle(const char *mangled)
{
    static _Atomic(void *) fn; /* found once; looked for again while absent */
    if (strncmp(mangled, "_Z", 2) != 0) return NULL;
    void *f = atomic_load(&fn);
    if (!f) {
        f = dlsym(RTLD_DEFAULT, "__cxa_demangle");
        if (!f) {
            /* Python and torch load libstdc++ RTLD_LOCAL: it may be loaded but not
             * global. Reach it by soname; never load it ourselves. */
            ds_fork_gate_enter();
            void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
            ds_fork_gate_leave();
            if (h) f = dlsym(h, "__cxa_demangle"); /* the reference is kept: f stays valid */
        }
        if (!f) return NULL;
        atomic_store(&fn, f);
    }
    int status = -1;
    char *d = ((demangle_fn)f)(mangled, NULL, NULL, &status);
    if (status != 0) {
        free(d);
        return NULL;
    }
    return d;
}

static void demangle(const char *mangled, char *out, size_t outsz)
{
    char *d = ds_demangle(mangled);
    snprintf(out, outsz, "%s", d ? d : mangled);
    free(d);
}

/* Names of the frames of the current stack, by walking it with a cursor: the callers
 * of the hook are the same frames the capture saw, so their names can be matched by
 * address. */
struct named_frame {
    uintptr_t ip;
    char name[256];
};

static int walk_names(struct named_frame *fr, int max)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) return 0;
    int n = 0;
    do {
        unw_word_t ip, off;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0) break;
        fr[n].ip = (uintptr_t)ip;
        fr[n].name[0] = 0;
        /* a truncated name (-UNW_ENOMEM) is still worth keeping */
        (void)unw_get_proc_name(&cur, fr[n].name, sizeof fr[n].name, &off);
        n++;
    } while (n < max && unw_step(&cur) > 0);
    return n;
}

static void fill_sym(const void *ip, const char *walked_name, struct ds_sym *out)
{
    Dl_info di;
    out->module[0] = out->function[0] = out->mangled[0] = 0;
    out->offset = (uintptr_t)ip;
    if (dladdr(ip, &di)) {
        const char *mod = di.dli_fname && di.dli_fname[0] ? di.dli_fname : main_exe();
        /* the main program reports its argv[0] as dli_fname: prefer the real path */
        if (di.dli_fname && strchr(di.dli_fname, '/') == NULL) mod = main_exe();
        snprintf(out->module, sizeof out->module, "%.*s", (int)sizeof out->module - 1, mod);
        out->offset = (uintptr_t)ip - (uintptr_t)di.dli_fbase;
        if (di.dli_sname) snprintf(out->mangled, sizeof out->mangled, "%s", di.dli_sname);
    }
    if (walked_name && walked_name[0])
        snprintf(out->mangled, sizeof out->mangled, "%s", walked_name);
    if (out->mangled[0]) demangle(out->mangled, out->function, sizeof out->function);
}

bool ds_bt_symbolize(const void *ip, struct ds_sym *out)
{
    /* no cursor here: dladdr only (dynamic symbols) */
    fill_sym(ip, NULL, out);
    return out->module[0] != 0;
}

void ds_bt_render(struct jbuf *jb, const char *key, void *const *ips, int n)
{
    enum { WALK = DS_MAX_FRAMES + 32 };
    struct named_frame *fr = malloc(sizeof *fr * WALK);
    ds_fork_gate_enter();
    int nw = fr ? walk_names(fr, WALK) : 0;
    ds_fork_gate_leave();
    jb_arr_begin(jb, key);
    int w = 0; /* cursor frames are matched in order */
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        for (int j = w; j < nw; j++)
            if (fr[j].ip == (uintptr_t)ips[i]) {
                name = fr[j].name;
                w = j + 1;
                break;
            }
        struct ds_sym s;
        fill_sym(ips[i], name, &s);
        jb_obj_begin(jb);
        jb_int(jb, "frame", i);
        jb_str(jb, "module", s.module[0] ? s.module : "?");
        jb_hex(jb, "offset", s.offset);
        if (s.function[0]) jb_str(jb, "function", s.function);
        if (s.mangled[0] && strcmp(s.mangled, s.function) != 0) jb_str(jb, "mangled", s.mangled);
        jb_obj_end(jb);
    }
    jb_arr_end(jb);
    free(fr);
}
