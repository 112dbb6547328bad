/* kernel_table.c: kernels' names, their classification (once per kernel: the verdict
 * cache, kernel_cache.c, keeps the result), and what a flagged launch records. */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_table.h"

static const struct ds_kinfo k_clean = {.verdict = DS_KV_CLEAN};
static const struct ds_kinfo k_allowed = {.verdict = DS_KV_ALLOWED};
static const struct ds_kinfo k_unnamed = {.verdict = DS_KV_UNNAMED};

/* ---- names recorded at registration ------------------------------------------------- */
#define NSLOTS 65536 /* power of two; torch registers tens of thousands of kernels */
struct nslot {
    _Atomic uintptr_t key;
    _Atomic(const char *) name;
};
static struct nslot nslots[NSLOTS];
static _Atomic int nslots_full_said;

static unsigned nslot_of(uintptr_t key)
{
    return (unsigned)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 40) & (NSLOTS - 1);
}

void ds_kname_put(const void *key, const char *name)
{
    if (!key || !name || !*name) return;
    uintptr_t k = (uintptr_t)key;
    char *copy = NULL;
    for (unsigned i = 0, s = nslot_of(k); i < NSLOTS; i++, s = (s + 1) & (NSLOTS - 1)) {
        uintptr_t cur = atomic_load_explicit(&nslots[s].key, memory_order_acquire);
        if (cur == 0) {
            uintptr_t expected = 0;
            if (atomic_compare_exchange_strong(&nslots[s].key, &expected, k)) cur = k;
            else cur = expected;
        }
        if (cur != k) continue;
        /* The same name again (every cuModuleGetFunction of a kernel comes here): nothing
         * to keep. A racing put of the same name for a new key may still see NULL and copy
         * once more; one copy per key and name at most. */
        const char *old = atomic_load_explicit(&nslots[s].name, memory_order_acquire);
        if (old && strcmp(old, name) == 0) return;
        /* a module loaded again at the same address: the newer name wins (the older
         * string is kept: a reader may hold it) */
        copy = strdup(name);
        if (!copy) return;
        const char *expected = old;
        if (!atomic_compare_exchange_strong(&nslots[s].name, &expected, copy))
            free(copy); /* another thread put a name meanwhile: its name stands */
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&nslots_full_said, &expected, 1))
        ds_notice("kernels", true,
                  "more than %d registered kernels: the names of further ones are not kept "
                  "(launches of those kernels are not classified)", NSLOTS);
}

const char *ds_kname_get(const void *key)
{
    uintptr_t k = (uintptr_t)key;
    if (!k) return NULL;
    for (unsigned i = 0, s = nslot_of(k); i < NSLOTS; i++, s = (s + 1) & (NSLOTS - 1)) {
        uintptr_t cur = atomic_load_explicit(&nslots[s].key, memory_order_acquire);
        if (cur == 0) return NULL;
        if (cur == k) return atomic_load_explicit(&nslots[s].name, memory_order_acquire);
    }
    return NULL;
}

/* ---- the vendor's own naming functions, resolved once, never through a hook ----------- */
typedef cudaError_t (*rt_funcgetname_t)(const char **, const void *);
typedef cudaError_t (*rt_error_t)(void);
typedef CUresult (*drv_funcgetname_t)(const char **, CUfunction);

struct lazy {
    _Atomic int state; /* 0 not looked, 1 looked */
    _Atomic(void *) fn;
};

static void *lazy_get(struct lazy *l, const char *name, enum ds_lib lib)
{
    if (atomic_load_explicit(&l->state, memory_order_acquire)) return atomic_load(&l->fn);
    ds_depth++; /* resolution may run library constructors: let hooked calls pass */
    void *p = ds_resolve_symbol(name, lib, NULL);
    ds_depth--;
    atomic_store(&l->fn, p);
    atomic_store_explicit(&l->state, 1, memory_order_release);
    return p;
}

static struct lazy l_rt_name, l_rt_peek, l_rt_get, l_drv_name;

bool ds_knaming_rt_native(void)
{
    return lazy_get(&l_rt_name, "cudaFuncGetName", DS_LIB_CUDART) != NULL;
}

bool ds_knaming_drv_native(void)
{
    return lazy_get(&l_drv_name, "cuFuncGetName", DS_LIB_CUDA) != NULL;
}

static const char *name_rt(const void *fn)
{
    rt_funcgetname_t get = (rt_funcgetname_t)lazy_get(&l_rt_name, "cudaFuncGetName", DS_LIB_CUDART);
    if (get) {
        /* A failed runtime call becomes the thread's "last error": do not leave one behind
         * that the program never caused. */
        rt_error_t peek = (rt_error_t)lazy_get(&l_rt_peek, "cudaPeekAtLastError", DS_LIB_CUDART);
        rt_error_t clear = (rt_error_t)lazy_get(&l_rt_get, "cudaGetLastError", DS_LIB_CUDART);
        cudaError_t before = peek ? peek() : cudaSuccess;
        const char *n = NULL;
        cudaError_t st = get(&n, fn);
        if (st == cudaSuccess && n && *n) return n;
        if (st != cudaSuccess && before == cudaSuccess && clear) (void)clear();
    }
    return ds_kname_get(fn);
}

static const char *name_drv(const void *fn)
{
    drv_funcgetname_t get = (drv_funcgetname_t)lazy_get(&l_drv_name, "cuFuncGetName", DS_LIB_CUDA);
    if (get) {
        const char *n = NULL;
        if (get(&n, (CUfunction)(uintptr_t)fn) == CUDA_SUCCESS && n && *n) return n;
    }
    return ds_kname_get(fn);
}

const char *ds_kernel_name(enum ds_kkind kind, const void *fn)
{
    return kind == DS_KK_RT ? name_rt(fn) : name_drv(fn);
}

/* ---- classification, once per kernel ------------------------------------------------- */
static _Atomic int unnamed_said;

/* DETSHIM_ALLOW splits its value at ',' and at a lone ':'; a pattern holding either (or a
 * quote, which would break the shell line) cannot be suggested as is. */
static bool allowable(const char *p)
{
    if (strchr(p, ',') || strchr(p, '\'')) return false;
    for (const char *c = strchr(p, ':'); c; c = strchr(c + 1, ':')) {
        if (c[1] == ':') {
            c++;
            continue;
        }
        if (c == p || c[-1] != ':') return false;
    }
    return true;
}

static char *allow_hint_for(const char *pattern, const char *mangled)
{
    if (pattern && allowable(pattern)) return strdup(pattern);
    /* the exact name, glob characters escaped */
    size_t n = strlen(mangled);
    char *h = malloc(3 * n + 1), *o = h;
    if (!h) return NULL;
    for (const char *c = mangled; *c; c++) {
        if (*c == '*' || *c == '?' || *c == '[') {
            *o++ = '[';
            *o++ = *c;
            *o++ = ']';
        } else {
            *o++ = *c;
        }
    }
    *o = 0;
    return h;
}

/* Flagged kernels, one ds_kinfo per mangled name for the life of the process: a kernel
 * classified again (after an unload, or by two threads at once) gets the same one back,
 * so memory stays bounded by the number of distinct flagged kernels. */
struct kinfo_node {
    struct ds_kinfo info;
    struct kinfo_node *next;
};
static struct kinfo_node *flagged_list;
static pthread_mutex_t flagged_mu = PTHREAD_MUTEX_INITIALIZER;

static void kinfo_free(struct kinfo_node *n)
{
    if (n->info.demangled != n->info.mangled) free((char *)n->info.demangled);
    free((char *)n->info.mangled);
    free((char *)n->info.allow_hint);
    free(n);
}

/* The flagged kernel's ds_kinfo: the one already made for its name, or a new one. */
static const struct ds_kinfo *flagged_info(const char *name, char *dem, enum ds_kverdict v,
                                           const struct ds_kdb_entry *why)
{
    uint64_t subject = ds_hash64(name, strlen(name), 0x6b65726e656cull);
    pthread_mutex_lock(&flagged_mu);
    for (struct kinfo_node *n = flagged_list; n; n = n->next) {
        if (n->info.subject == subject && strcmp(n->info.mangled, name) == 0 &&
            n->info.verdict == (uint8_t)v && n->info.pattern == why->pattern) {
            pthread_mutex_unlock(&flagged_mu);
            free(dem);
            return &n->info;
        }
    }
    pthread_mutex_unlock(&flagged_mu);
    struct kinfo_node *n = calloc(1, sizeof *n);
    char *mangled = strdup(name), *hint = allow_hint_for(why->pattern, name);
    if (!n || !mangled || !hint) {
        free(n), free(mangled), free(hint), free(dem);
        return NULL;
    }
    struct ds_kinfo *k = &n->info;
    k->flagged = true;
    k->verdict = (uint8_t)v;
    k->mangled = mangled;
    k->demangled = dem ? dem : k->mangled;
    k->reason = why->reason; /* entries live as long as the process */
    k->advice = why->advice;
    k->source = why->source;
    k->pattern = why->pattern;
    k->line = why->line;
    k->subject = subject;
    k->allow_hint = hint;
    pthread_mutex_lock(&flagged_mu);
    for (struct kinfo_node *o = flagged_list; o; o = o->next) {
        if (o->info.subject == subject && strcmp(o->info.mangled, name) == 0 &&
            o->info.verdict == (uint8_t)v && o->info.pattern == why->pattern) {
            pthread_mutex_unlock(&flagged_mu);
            kinfo_free(n); /* another thread made it meanwhile */
            return &o->info;
        }
    }
    n->next = flagged_list;
    flagged_list = n;
    pthread_mutex_unlock(&flagged_mu);
    return k;
}

/* Without memory to describe a flagged kernel: still flagged, with what is static. */
static const struct ds_kinfo k_flagged_nomem = {
    .flagged = true, .verdict = DS_KV_DATABASE, .mangled = "?", .demangled = "?",
    .reason = "(out of memory describing this kernel)", .source = "?", .pattern = "?",
    .allow_hint = "?"};

const struct ds_kinfo *ds_kernel_classify(enum ds_kkind kind, const void *fn)
{
    const char *name = kind == DS_KK_RT ? name_rt(fn) : name_drv(fn);
    if (!name) {
        int n = atomic_fetch_add(&unnamed_said, 1);
        if (n < 8)
            ds_notice("kernels", false,
                      "kernel %p (%s) could not be named (%s and no registration seen): it is "
                      "not classified%s",
                      fn, kind == DS_KK_RT ? "runtime" : "driver",
                      kind == DS_KK_RT ? "cudaFuncGetName" : "cuFuncGetName",
                      n == 7 ? "; further unnamed kernels are not reported" : "");
        return &k_unnamed;
    }
    char *dem = ds_demangle(name);
    const struct ds_kdb_entry *why = NULL;
    enum ds_kverdict v = ds_kclassify(ds_kclassifier_global(), name, dem, &why);
    if (ds_cfg.verbose >= 2)
        ds_notice("kernels", false, "kernel %s: %s", dem ? dem : name,
                  v == DS_KV_CLEAN ? "clean" : v == DS_KV_ALLOWED ? "allowed" : "nondeterministic");
    if (!ds_kverdict_flagged(v)) {
        if (v == DS_KV_ALLOWED)
            ds_notice("kernels", false, "kernel %s is allowed by %s", dem ? dem : name,
                      why ? why->reason : "DETSHIM_ALLOW");
        free(dem);
        return v == DS_KV_ALLOWED ? &k_allowed : &k_clean;
    }
    const struct ds_kinfo *k = flagged_info(name, dem, v, why);
    return k ? k : &k_flagged_nomem;
}

/* ---- a flagged launch ------------------------------------------------------------------ */
struct extra_arg {
    const struct ds_kinfo *k;
    const struct ds_klaunch *l;
};

static void extra(struct jbuf *jb, void *argp)
{
    const struct extra_arg *a = argp;
    const struct ds_kinfo *k = a->k;
    jb_str(jb, "kernel", k->demangled);
    jb_str(jb, "kernel_mangled", k->mangled);
    if (a->l->has_dims) {
        jb_arr_begin(jb, "grid");
        for (int i = 0; i < 3; i++) jb_uint(jb, NULL, a->l->grid[i]);
        jb_arr_end(jb);
        jb_arr_begin(jb, "block");
        for (int i = 0; i < 3; i++) jb_uint(jb, NULL, a->l->block[i]);
        jb_arr_end(jb);
    }
    jb_str(jb, "reason", k->reason);
    if (k->advice) jb_str(jb, "advice", k->advice);
    jb_str(jb, "reason_source", k->source);
    if (k->line > 0) jb_int(jb, "reason_line", k->line);
    jb_str(jb, "pattern", k->pattern);
    if (a->l->via < DS_HOOK_COUNT) jb_str(jb, "via", ds_hooks[a->l->via].name);
    jb_str(jb, "allow", k->allow_hint);
}

static pthread_mutex_t render_mu = PTHREAD_MUTEX_INITIALIZER;
/* a fork child has only the forking thread: a lock another thread held is free again */
void ds_kernel_cache_atfork_child(void);
void ds_kernel_table_atfork_child(void)
{
    pthread_mutex_init(&render_mu, NULL);
    pthread_mutex_init(&flagged_mu, NULL);
    ds_kernel_cache_atfork_child();
}

bool ds_kernel_flagged_launch(const struct ds_kinfo *k, const struct ds_klaunch *l)
{
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    struct ds_event ev;
    if (!ds_event_capture(&ev, l->hook, strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED, k->subject))
        return strict; /* a known site: counted */
    const char *by = k->verdict == DS_KV_DENIED ? "DETSHIM_DENY" : k->source;
    const char *tail;
    switch (ds_cfg.mode) {
    case DS_MODE_STRICT: tail = "strict mode refused the launch: it did not run"; break;
    case DS_MODE_ENFORCE:
        tail = k->advice ? "enforce mode cannot rewrite a kernel: it ran unchanged"
                         : "enforce mode cannot rewrite a kernel: it ran unchanged (make the "
                           "program avoid it, e.g. torch.use_deterministic_algorithms(True), or "
                           "run strict mode to stop at it)";
        break;
    default: tail = "log mode changes nothing: it ran"; break;
    }
    /* the database's advice, where it has one, says what to do instead */
    const char *adv = k->advice ? k->advice : "";
    size_t need = strlen(k->demangled) + strlen(by) + strlen(tail) + strlen(adv) + 160;
    char *detail = malloc(need);
    if (detail) {
        snprintf(detail, need, "nondeterministic kernel %s (listed by %s)%s%s; %s%s%s",
                 k->demangled, by, strict ? ", returned " : "", strict ? l->refusal : "", tail,
                 *adv ? "; " : "", adv);
    }
    struct extra_arg a = {k, l};
    /* First sightings are rare; rendering them one at a time keeps the core's lazily
     * initialised symboliser (backtrace.c) from being raced by this layer's threads. */
    pthread_mutex_lock(&render_mu);
    ds_event_log(&ev, detail ? detail : "nondeterministic kernel", extra, &a);
    if (strict) {
        size_t wn = strlen(k->demangled) + strlen(k->reason) + strlen(adv) + 64;
        size_t hn = strlen(k->allow_hint) + 32;
        char *what = malloc(wn), *allow = malloc(hn);
        if (what && allow) {
            snprintf(what, wn, "the launch of kernel %s, which is nondeterministic: %s%s%s",
                     k->demangled, k->reason, *adv ? "; " : "", adv);
            snprintf(allow, hn, "DETSHIM_ALLOW='%s'", k->allow_hint);
            ds_refuse(&ev, what, allow);
        }
        free(what);
        free(allow);
    }
    pthread_mutex_unlock(&render_mu);
    free(detail);
    return strict;
}
