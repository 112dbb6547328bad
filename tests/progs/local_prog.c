/* local_prog: links no vendor library. It opens libmiddle (which needs libcublas)
 * with RTLD_LOCAL, as Python opens libtorch_cuda: cuBLAS is then outside the global
 * scope, invisible to dlsym(RTLD_NEXT).   local_prog LIB N */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "local_prog: %s\n", dlerror());
        return 1;
    }
    int (*fn)(int) = (int (*)(int))dlsym(h, "middle_create_handles");
    if (!fn) return 1;
    printf("status=%d\n", fn(atoi(argv[2])));
    return 0;
}
