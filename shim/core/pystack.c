/* pystack.c: the Python stack of the calling thread, added to every event.
 *
 * The thread's own frame chain is read without its GIL (pyframes.c): torch's Python
 * bindings release the GIL around every op, ctypes.CDLL around every call, so the events
 * that matter come from threads without it. CPython is found at run time (dlsym, never
 * linked): its thread state for this thread (PyGILState_GetThisThreadState, which takes
 * no lock), its version (Py_GetVersion) and the type objects the walk checks against.
 * Where the version has no row in pyframes.c (older than 3.8, newer than 3.13), the
 * public C API reads the frames when this thread holds the GIL (the shim never takes
 * it); otherwise the event gets a pystack_note saying why there is no Python stack.
 *
 * Cost: nothing in a process without Python (one failed lookup). With Python, an event
 * call (a flagged call, not every call) walks the innermost KEY_FRAMES frames reading
 * pointers only (ds_pystack_hash, folded into the call-site id, so two Python lines that
 * reach the same native path are two sites); names and lines are read only when a new
 * site is logged (render). */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "detshim.h"
#include "pyframes.h"
#include "pystack.h"

#define PY_STR_MAX 1024 /* bytes of a file or function name kept */
#define KEY_FRAMES 8    /* innermost frames in a call-site id */

static struct {
    int (*IsInitialized)(void);
    void *(*GILState_GetThisThreadState)(void);
    const char *(*GetVersion)(void);
    struct ds_pytypes types;
    /* the public C API, for versions without a row, with the GIL only */
    int (*GILState_Check)(void);
    void *(*Eval_GetFrame)(void);       /* borrowed reference */
    void *(*Frame_GetBack)(void *);     /* new reference */
    void *(*Frame_GetCode)(void *);     /* new reference */
    int (*Frame_GetLineNumber)(void *);
    void *(*Object_GetAttrString)(void *, const char *);
    const char *(*Unicode_AsUTF8)(void *);
    void (*IncRef)(void *);
    void (*DecRef)(void *);
    void (*Err_Fetch)(void **, void **, void **);
    void (*Err_Restore)(void *, void *, void *);
    void (*Err_Clear)(void);
} py;
static const struct ds_pyver *py_ver; /* NULL: no row for this version */
static int py_major, py_minor;
static _Atomic bool py_ok; /* set (release) once every field above is written */
static bool py_api;
static pthread_mutex_t py_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long py_seen_adds = ~0ull; /* dlpi_adds at the last failed lookup */

/* A libpython loaded with RTLD_LOCAL (an embedding plugin) is not in the global scope:
 * find it among the loaded objects. */
static int find_libpython(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libpython3", 10)) return 0;
    snprintf(arg, DS_PATH_MAX, "%s", info->dlpi_name);
    return 1;
}

static void py_lookup(void)
{
    void *h = RTLD_DEFAULT;
    /* Py_IsInitialized first: in a process without Python this is the whole cost */
    if (!dlsym(h, "Py_IsInitialized")) {
        char path[DS_PATH_MAX] = "";
        if (!dl_iterate_phdr(find_libpython, path) || !(h = dlopen(path, RTLD_NOW | RTLD_NOLOAD)))
            return;
        /* the handle stays open: the library is in use by the process anyway */
    }
#define GET(field, sym) ((*(void **)&py.field = dlsym(h, sym)) != NULL)
    bool core = GET(IsInitialized, "Py_IsInitialized") &&
                GET(GILState_GetThisThreadState, "PyGILState_GetThisThreadState") &&
                GET(GetVersion, "Py_GetVersion");
    if (!core) return;
    py.types.code = dlsym(h, "PyCode_Type");
    py.types.unicode = dlsym(h, "PyUnicode_Type");
    py.types.bytes = dlsym(h, "PyBytes_Type");
    if (sscanf(py.GetVersion(), "%d.%d", &py_major, &py_minor) == 2 && py.types.code &&
        py.types.unicode && py.types.bytes)
        py_ver = ds_pyver_find(py_major, py_minor);
    py_api = GET(GILState_Check, "PyGILState_Check") && GET(Eval_GetFrame, "PyEval_GetFrame") &&
             GET(Frame_GetBack, "PyFrame_GetBack") && GET(Frame_GetCode, "PyFrame_GetCode") &&
             GET(Frame_GetLineNumber, "PyFrame_GetLineNumber") &&
             GET(Object_GetAttrString, "PyObject_GetAttrString") &&
             GET(Unicode_AsUTF8, "PyUnicode_AsUTF8") && GET(IncRef, "Py_IncRef") &&
             GET(DecRef, "Py_DecRef") && GET(Err_Fetch, "PyErr_Fetch") &&
             GET(Err_Restore, "PyErr_Restore") && GET(Err_Clear, "PyErr_Clear");
#undef GET
    atomic_store_explicit(&py_ok, true, memory_order_release);
    if (!py_ver)
        ds_notice("core", false,
                  "Python %d.%d: its frames are read without the GIL for 3.8 to 3.13 only; "
                  "events carry a Python stack only from threads holding the GIL",
                  py_major, py_minor);
}

/* Looks Python up again only when objects were loaded since the last try (an embedding
 * program may load libpython after the first event): one dl_iterate_phdr step per call
 * otherwise. Never waits for another thread's lookup. */
static int loaded_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(unsigned long long *)arg = info->dlpi_adds;
    return 1;
}

static bool py_retry(void)
{
    unsigned long long adds = 0;
    dl_iterate_phdr(loaded_adds, &adds);
    if (adds == __atomic_load_n(&py_seen_adds, __ATOMIC_RELAXED)) return false;
    if (pthread_mutex_trylock(&py_mu)) return false;
    if (!atomic_load(&py_ok)) {
        py_lookup();
        __atomic_store_n(&py_seen_adds, adds, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&py_mu);
    return atomic_load_explicit(&py_ok, memory_order_acquire);
}

enum py_where { PY_NONE, PY_NO_THREAD_STATE, PY_WALK, PY_API, PY_NO_WAY };

/* Is there a Python here, and how can this thread's frames be read? */
static enum py_where py_where(void **tstate)
{
    if (!atomic_load_explicit(&py_ok, memory_order_acquire) && !py_retry()) return PY_NONE;
    if (!py.IsInitialized()) return PY_NONE;
    /* a thread Python never ran on has no thread state */
    if (!(*tstate = py.GILState_GetThisThreadState())) return PY_NO_THREAD_STATE;
    if (py_ver) return PY_WALK;
    /* PyGILState_Check answers 1 when its checks are off (subinterpreters): the thread
     * state above says this thread is Python's */
    return py_api && py.GILState_Check() ? PY_API : PY_NO_WAY;
}

static int py_depth(int depth)
{
    return depth < 1 ? 1 : depth > DS_MAX_FRAMES ? DS_MAX_FRAMES : depth;
}

/* ---- frames through the public C API (GIL held, versions without a row) ---------------------- */
/* Calls fn for each of the calling thread's innermost frames (at most max), with the
 * frame's code object (may be NULL) and line, while an exception pending in the
 * interpreter is kept aside. */
typedef void (*frame_fn)(void *code, int line, void *arg);
static void api_frames(int max, frame_fn fn, void *arg)
{
    void *et, *ev, *etb;
    py.Err_Fetch(&et, &ev, &etb);
    void *f = py.Eval_GetFrame();
    if (f) py.IncRef(f);
    for (int i = 0; f && i < max; i++) {
        void *code = py.Frame_GetCode(f);
        fn(code, py.Frame_GetLineNumber(f), arg);
        if (code) py.DecRef(code);
        void *back = py.Frame_GetBack(f);
        if (!back) py.Err_Clear();
        py.DecRef(f);
        f = back;
    }
    if (f) py.DecRef(f);
    py.Err_Restore(et, ev, etb);
}

static void api_str(void *code, const char *attr, char *buf, size_t cap)
{
    void *o = code ? py.Object_GetAttrString(code, attr) : NULL;
    const char *s = o ? py.Unicode_AsUTF8(o) : NULL;
    if (!s) py.Err_Clear();
    snprintf(buf, cap, "%s", s ? s : "?");
    if (o) py.DecRef(o);
}

/* ---- one frame's names and line, either way -------------------------------------------------- */
struct named {
    char file[PY_STR_MAX + 1], function[256];
    int line;
};

static void cut_utf8(char *s)
{
    size_t n = strlen(s);
    if (n < 2) return;
    /* snprintf may have cut inside a character: drop a partial one at the end */
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) i--;
    if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) {
        unsigned char lead = (unsigned char)s[i - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (n - (i - 1) < want) s[i - 1] = 0;
    }
}

static void name_walked(const struct ds_pyframe *f, struct named *o)
{
    if (!ds_pyframe_str(py_ver, &py.types, f->code, py_ver->co_filename, o->file, sizeof o->file))
        strcpy(o->file, "?");
    if (!ds_pyframe_str(py_ver, &py.types, f->code, py_ver->co_name, o->function,
                        sizeof o->function))
        strcpy(o->function, "?");
    o->line = ds_pyframe_line(py_ver, &py.types, f);
}

/* The calling thread's innermost frames with names, for render/text/stable hash. Returns
 * how many (0: none), or -1 (a chain that failed a check). fn gets each. */
typedef void (*named_fn)(const struct named *n, void *arg);
struct api_named {
    named_fn fn;
    void *arg;
};
static void api_named_cb(void *code, int line, void *arg)
{
    struct api_named *a = arg;
    struct named *n = malloc(sizeof *n); /* GIL held, a new site: allocation is fine */
    if (!n) return;
    api_str(code, "co_filename", n->file, sizeof n->file);
    api_str(code, "co_name", n->function, sizeof n->function);
    cut_utf8(n->file);
    cut_utf8(n->function);
    n->line = line;
    a->fn(n, a->arg);
    free(n);
}

static int each_named(enum py_where w, void *tstate, int max, named_fn fn, void *arg)
{
    if (w == PY_API) {
        if (!py.Eval_GetFrame()) return 0;
        struct api_named a = {fn, arg};
        api_frames(max, api_named_cb, &a);
        return 1;
    }
    struct ds_pyframe fr[DS_MAX_FRAMES];
    int n = ds_pyframes_read(py_ver, &py.types, tstate, fr, max);
    struct named nm;
    for (int i = 0; i < n; i++) {
        name_walked(&fr[i], &nm);
        fn(&nm, arg);
    }
    return n;
}

/* ---- notes -------------------------------------------------------------------------------- */
/* torch names its autograd engine's device threads pt_autograd_N (2.x): say so */
static void thread_note(char *buf, size_t cap, const char *what)
{
    char name[17] = "";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    if (!strncmp(name, "pt_autograd", 11))
        snprintf(buf, cap, "%s: a torch autograd worker thread (%s) running a backward op "
                 "(the op is in this event; its forward ran on a Python thread)", what, name);
    else if (name[0])
        snprintf(buf, cap, "%s (thread \"%s\"; native stack only)", what, name);
    else
        snprintf(buf, cap, "%s (native stack only)", what);
}

/* The note for a thread without readable frames; false if it has some. */
static bool why_none(enum py_where w, void *tstate, char *buf, size_t cap)
{
    switch (w) {
    case PY_NONE: return false;
    case PY_NO_THREAD_STATE: thread_note(buf, cap, "no Python on this thread"); return true;
    case PY_NO_WAY:
        snprintf(buf, cap, "Python %d.%d: frames are read without the GIL for 3.8 to 3.13 "
                 "only, and this thread holds no GIL (native stack only)", py_major, py_minor);
        return true;
    case PY_API:
        if (py.Eval_GetFrame()) return false;
        thread_note(buf, cap, "no Python frame on this thread");
        return true;
    case PY_WALK: break;
    }
    struct ds_pyframe f[1];
    int n = ds_pyframes_read(py_ver, &py.types, tstate, f, 1);
    if (n > 0) return false;
    if (n == 0)
        thread_note(buf, cap, "no Python frame on this thread");
    else
        snprintf(buf, cap, "no Python stack: this thread's frame chain failed a check "
                 "(native stack only)");
    return true;
}

/* ---- render ------------------------------------------------------------------------------- */
static void frame_json(const struct named *n, void *arg)
{
    struct jbuf *jb = arg;
    jb_obj_begin(jb);
    jb_str(jb, "file", n->file);
    jb_int(jb, "line", n->line);
    jb_str(jb, "function", n->function);
    jb_obj_end(jb);
}

void ds_pystack_render(struct jbuf *jb)
{
    void *ts = NULL;
    enum py_where w = py_where(&ts);
    if (w == PY_NONE) return; /* no Python fields at all */
    char note[256];
    if (why_none(w, ts, note, sizeof note)) {
        jb_str(jb, "pystack_note", note);
        return;
    }
    jb_arr_begin(jb, "pystack");
    each_named(w, ts, py_depth(ds_cfg.stack_depth), frame_json, jb);
    jb_arr_end(jb);
}

/* ---- text for stderr ---------------------------------------------------------------------- */
struct text {
    char *buf;
    size_t cap, n;
    int i;
};
static void frame_text(const struct named *nm, void *arg)
{
    struct text *t = arg;
    if (t->n >= t->cap) return;
    const char *base = strrchr(nm->file, '/');
    int k = snprintf(t->buf + t->n, t->cap - t->n, "  %s %s:%d in %s\n",
                     t->i++ ? "   " : "at", base ? base + 1 : nm->file, nm->line, nm->function);
    if (k > 0) t->n = t->n + (size_t)k < t->cap ? t->n + (size_t)k : t->cap - 1;
}

size_t ds_pystack_text(char *buf, size_t cap, int max)
{
    if (cap == 0) return 0;
    buf[0] = 0;
    void *ts = NULL;
    enum py_where w = py_where(&ts);
    if (w == PY_NONE || w == PY_NO_THREAD_STATE || w == PY_NO_WAY) return 0;
    struct text t = {buf, cap, 0, 0};
    each_named(w, ts, py_depth(max), frame_text, &t);
    return t.n;
}

/* ---- call-site ids ------------------------------------------------------------------------ */
static void api_hash(void *code, int line, void *arg)
{
    uint64_t rec[2] = {(uint64_t)(uintptr_t)code, (uint64_t)line};
    *(uint64_t *)arg = ds_hash64(rec, sizeof rec, *(uint64_t *)arg);
}

uint64_t ds_pystack_hash(int depth)
{
    void *ts = NULL;
    enum py_where w = py_where(&ts);
    int max = py_depth(depth) < KEY_FRAMES ? py_depth(depth) : KEY_FRAMES;
    uint64_t h = 0;
    if (w == PY_API) {
        api_frames(max, api_hash, &h);
    } else if (w == PY_WALK) {
        /* pointers only: the code object and the instruction in it, per frame */
        h = ds_pyframes_key(py_ver, ts, max, ds_hash64);
    }
    return h;
}

/* The same over what is equal in every run of the program: each frame's file and function
 * names and its line (code objects move with the heap), for hash traces' call-site ids. */
static void frame_hash_stable(const struct named *n, void *arg)
{
    uint64_t *h = arg, l = (uint64_t)(int64_t)n->line;
    *h = ds_hash64(n->file, strlen(n->file), *h);
    *h = ds_hash64(n->function, strlen(n->function), *h);
    *h = ds_hash64(&l, sizeof l, *h);
}

uint64_t ds_pystack_hash_stable(int depth)
{
    void *ts = NULL;
    enum py_where w = py_where(&ts);
    if (w != PY_API && w != PY_WALK) return 0;
    uint64_t h = 0x707973746b6cull;
    if (each_named(w, ts, py_depth(depth), frame_hash_stable, &h) <= 0) return 0;
    return h;
}
