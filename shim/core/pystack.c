/* pystack.c: the Python stack of the calling thread, added to every event.
 *
 * Only CPython's public C API, looked up once at run time with dlsym(RTLD_DEFAULT):
 * nothing links libpython, and a process without Python finds no symbol and gets no
 * Python fields at all. The stack is read only when the calling thread holds the GIL
 * (PyGILState_Check); the shim never takes the GIL itself (a hook may run while
 * another thread holds it and waits on a lock this thread holds). A thread without
 * the GIL gets a note instead: a thread Python never ran on, or a thread state without
 * the GIL (torch's autograd threads; a Python thread whose caller released it). torch's
 * Python bindings release the GIL around every op, so an op's alert usually has the
 * native stack alone (its frames name the op, e.g. at::native::put_, and pass through
 * libtorch_python).
 * Any exception pending in the interpreter is saved and restored around the walk.
 * The functions used exist with the same meaning in Python 3.9 to 3.13. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "detshim.h"
#include "pystack.h"

#define PY_STR_MAX 1024 /* bytes of a file or function name kept */

static struct {
    int (*IsInitialized)(void);
    int (*GILState_Check)(void);
    void *(*GILState_GetThisThreadState)(void);
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
static bool py_ok;
static pthread_once_t py_once = PTHREAD_ONCE_INIT;

static void py_lookup(void)
{
#define GET(field, sym) ((*(void **)&py.field = dlsym(RTLD_DEFAULT, sym)) != NULL)
    /* Py_IsInitialized first: in a process without Python this one failed lookup is
     * the whole cost. */
    if (!GET(IsInitialized, "Py_IsInitialized")) return;
    bool all = GET(GILState_Check, "PyGILState_Check") &&
               GET(GILState_GetThisThreadState, "PyGILState_GetThisThreadState") &&
               GET(Eval_GetFrame, "PyEval_GetFrame") && GET(Frame_GetBack, "PyFrame_GetBack") &&
               GET(Frame_GetCode, "PyFrame_GetCode") &&
               GET(Frame_GetLineNumber, "PyFrame_GetLineNumber") &&
               GET(Object_GetAttrString, "PyObject_GetAttrString") &&
               GET(Unicode_AsUTF8, "PyUnicode_AsUTF8") && GET(IncRef, "Py_IncRef") &&
               GET(DecRef, "Py_DecRef") && GET(Err_Fetch, "PyErr_Fetch") &&
               GET(Err_Restore, "PyErr_Restore") && GET(Err_Clear, "PyErr_Clear");
#undef GET
    if (!all) {
        ds_notice("core", false,
                  "Python is in this process but its C API is incomplete (a Python older "
                  "than 3.9?): events carry no Python stack");
        return;
    }
    py_ok = true;
}

enum py_where { PY_NONE, PY_NO_THREAD_STATE, PY_RELEASED, PY_HELD };

/* Is there a Python here, and does this thread hold its GIL? */
static enum py_where py_where(void)
{
    pthread_once(&py_once, py_lookup);
    if (!py_ok || !py.IsInitialized()) return PY_NONE;
    /* A thread Python never saw has no thread state; PyGILState_Check alone answers 1
     * when the GIL-state checks are off (subinterpreters), so ask both. */
    if (!py.GILState_GetThisThreadState()) return PY_NO_THREAD_STATE;
    return py.GILState_Check() ? PY_HELD : PY_RELEASED;
}

/* Bounded copy length of a UTF-8 string, cut on a character boundary. */
static size_t bounded(const char *s)
{
    size_t n = strnlen(s, PY_STR_MAX + 1);
    if (n <= PY_STR_MAX) return n;
    n = PY_STR_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
    return n;
}

/* A string attribute of a code object, written as key (or "?"). */
static void code_str(struct jbuf *jb, const char *key, void *code, const char *attr)
{
    void *o = code ? py.Object_GetAttrString(code, attr) : NULL;
    const char *s = o ? py.Unicode_AsUTF8(o) : NULL;
    if (!s) py.Err_Clear();
    if (s)
        jb_strn(jb, key, s, bounded(s));
    else
        jb_str(jb, key, "?");
    if (o) py.DecRef(o);
}

static int py_depth(int depth)
{
    return depth < 1 ? 1 : depth > DS_MAX_FRAMES ? DS_MAX_FRAMES : depth;
}

/* Calls fn for each of the calling thread's innermost Python frames (at most max), with the
 * frame's code object (may be NULL) and line, while an exception pending in the interpreter
 * is kept aside. Needs the GIL (py_where() == PY_HELD). */
typedef void (*frame_fn)(void *code, int line, void *arg);
static void each_frame(int max, frame_fn fn, void *arg)
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

static void frame_json(void *code, int line, void *arg)
{
    struct jbuf *jb = arg;
    jb_obj_begin(jb);
    code_str(jb, "file", code, "co_filename");
    jb_int(jb, "line", line);
    code_str(jb, "function", code, "co_name");
    jb_obj_end(jb);
}

void ds_pystack_render(struct jbuf *jb)
{
    switch (py_where()) {
    case PY_NONE: return; /* no Python fields at all */
    case PY_NO_THREAD_STATE: /* a thread Python never ran on (a library's own threads) */
        jb_str(jb, "pystack_note", "no GIL on this thread (native stack only)");
        return;
    case PY_RELEASED: /* a thread state without the GIL: a Python caller released it
                       * (torch's bindings do, around every op), or torch's autograd
                       * threads (they keep one): its frames cannot be read without it */
        jb_str(jb, "pystack_note",
               "no GIL on this thread: a Python thread running native code without it, "
               "e.g. a torch op or autograd (native stack only)");
        return;
    case PY_HELD: break;
    }
    if (!py.Eval_GetFrame()) { /* borrowed; sets no exception */
        jb_str(jb, "pystack_note", "no Python frame on this thread (native stack only)");
        return;
    }
    jb_arr_begin(jb, "pystack");
    each_frame(py_depth(ds_cfg.stack_depth), frame_json, jb);
    jb_arr_end(jb);
}

static void frame_hash(void *code, int line, void *arg)
{
    uint64_t rec[2] = {(uint64_t)(uintptr_t)code, (uint64_t)line};
    *(uint64_t *)arg = ds_hash64(rec, sizeof rec, *(uint64_t *)arg);
}

uint64_t ds_pystack_hash(int depth)
{
    if (py_where() != PY_HELD) return 0;
    uint64_t h = 0;
    each_frame(py_depth(depth), frame_hash, &h);
    return h;
}

/* The same over what is equal in every run of the program: each frame's file and function
 * names and its line (code objects move with the heap), for hash traces' call-site ids. */
static uint64_t str_hash(void *code, const char *attr, uint64_t h)
{
    void *o = code ? py.Object_GetAttrString(code, attr) : NULL;
    const char *s = o ? py.Unicode_AsUTF8(o) : NULL;
    if (!s) py.Err_Clear();
    h = s ? ds_hash64(s, strlen(s), h) : ds_hash64("?", 1, h);
    if (o) py.DecRef(o);
    return h;
}

static void frame_hash_stable(void *code, int line, void *arg)
{
    uint64_t *h = arg, l = (uint64_t)line;
    *h = str_hash(code, "co_filename", *h);
    *h = str_hash(code, "co_name", *h);
    *h = ds_hash64(&l, sizeof l, *h);
}

uint64_t ds_pystack_hash_stable(int depth)
{
    if (py_where() != PY_HELD) return 0;
    uint64_t h = 0x707973746b6cull;
    each_frame(py_depth(depth), frame_hash_stable, &h);
    return h;
}
