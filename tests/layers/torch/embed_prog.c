/* embed_prog: a program that embeds CPython loaded with dlopen(RTLD_LOCAL) (as a plugin
 * host may: its symbols are not in the global scope), runs Python code that calls back
 * into this program (a built-in function), which releases the GIL (PyEval_SaveThread) and calls a hooked function
 * (libmiddle's cuBLAS handle creation). Nothing here links libpython.
 *   embed_prog LIBPYTHON LIBMIDDLE [early]   early: one hooked call before libpython is loaded
 * Prints "status N". The Python code is in PY below; its frames are "<string>" lines 2, 4
 * and 5. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *py;
static int (*create)(int);

#define SYM(h, name) dlsym_or_die(h, name)
static void *dlsym_or_die(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "embed_prog: %s: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

/* A built-in function for the Python code (an extension module cannot be loaded by a
 * libpython that is not global, so no ctypes): releases the GIL around the hooked call. */
struct method { /* PyMethodDef */
    const char *name;
    void *(*fn)(void *, void *);
    int flags;
    const char *doc;
};
static void *embed_call(void *self, void *unused)
{
    (void)self, (void)unused;
    void *(*save)(void) = (void *(*)(void))SYM(py, "PyEval_SaveThread");
    void (*restore)(void *) = (void (*)(void *))SYM(py, "PyEval_RestoreThread");
    void *ts = save();
    int st = create(1);
    restore(ts);
    return ((void *(*)(long))SYM(py, "PyLong_FromLong"))(st);
}
static struct method call_def = {"embed_call", embed_call, 4 /* METH_NOARGS */, NULL};

static const char PY[] =
    "def inner():\n"                               /* 1 */
    "    return embed_call()\n"                    /* 2: INNER */
    "def outer():\n"                               /* 3 */
    "    return inner()\n"                         /* 4: OUTER */
    "print('status', outer(), flush=True)\n";      /* 5: MAIN */

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    void *mid = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!mid) {
        fprintf(stderr, "embed_prog: %s\n", dlerror());
        return 2;
    }
    create = (int (*)(int))SYM(mid, "middle_create_handles");
    if (argc > 3) create(1); /* "early": a hooked call before there is any Python */
    py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!py) {
        fprintf(stderr, "embed_prog: %s\n", dlerror());
        return 2;
    }
    ((void (*)(void))SYM(py, "Py_Initialize"))();
    void *fn = ((void *(*)(void *, void *, void *))SYM(py, "PyCFunction_NewEx"))(&call_def, NULL, NULL);
    void *main_mod = ((void *(*)(const char *))SYM(py, "PyImport_AddModule"))("__main__");
    void *dict = ((void *(*)(void *))SYM(py, "PyModule_GetDict"))(main_mod);
    if (!fn || ((int (*)(void *, const char *, void *))SYM(py, "PyDict_SetItemString"))(dict, "embed_call", fn))
        return 2;
    int rc = ((int (*)(const char *))SYM(py, "PyRun_SimpleString"))(PY);
    ((void (*)(void))SYM(py, "Py_Finalize"))();
    return rc ? 1 : 0;
}
