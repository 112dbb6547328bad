/* local_prog: links no vendor library. It opens libmiddle (which needs libcublas)
 * with RTLD_LOCAL, as Python opens libtorch_cuda: cuBLAS is then outside the global
 * scope, invisible to dlsym(RTLD_NEXT).
 *
 *   local_prog LIB N [MODE]
 *     (no MODE)  open LIB RTLD_LOCAL, N creates
 *     deepbind   open LIB RTLD_LOCAL|RTLD_DEEPBIND (its own dependencies first)
 *     reload     N creates, dlclose, open again, N creates
 *     dlsym      N creates through dlsym(RTLD_DEFAULT) and N through dlsym(libcublas handle)
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*create_fn)(int);

static int through(const char *lib, int flags, int n)
{
    void *h = dlopen(lib, flags);
    if (!h) {
        fprintf(stderr, "local_prog: %s\n", dlerror());
        exit(1);
    }
    create_fn fn = (create_fn)dlsym(h, "middle_create_handles");
    if (!fn) exit(1);
    printf("status=%d\n", fn(n));
    return dlclose(h);
}

typedef int (*cublas_create_t)(void **);
typedef int (*cublas_destroy_t)(void *);

static void by_dlsym(void *where, const char *label, int n)
{
    cublas_create_t c = (cublas_create_t)dlsym(where, "cublasCreate_v2");
    cublas_destroy_t d = (cublas_destroy_t)dlsym(where, "cublasDestroy_v2");
    if (!c || !d) {
        printf("%s: not found\n", label);
        return;
    }
    int st = 0;
    for (int i = 0; i < n; i++) {
        void *h;
        st = c(&h);
        if (st == 0) d(h);
    }
    printf("%s status=%d\n", label, st);
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int n = atoi(argv[2]);
    const char *mode = argc > 3 ? argv[3] : "";
    if (!strcmp(mode, "deepbind")) {
        through(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND, n);
    } else if (!strcmp(mode, "reload")) {
        through(argv[1], RTLD_NOW | RTLD_LOCAL, n);
        through(argv[1], RTLD_NOW | RTLD_LOCAL, n);
    } else if (!strcmp(mode, "dlsym")) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
        if (!lib) return 1;
        by_dlsym(RTLD_DEFAULT, "default", n);
        void *cublas = dlopen("libcublas.so.13", RTLD_NOW | RTLD_NOLOAD);
        by_dlsym(cublas, "handle", n);
    } else {
        through(argv[1], RTLD_NOW | RTLD_LOCAL, n);
    }
    return 0;
}
