/* klocal_prog: links no CUDA library; opens libkmiddle RTLD_LOCAL (as Python opens
 * torch's extension), so the fake runtime and driver stay out of the global scope.
 *   klocal_prog LIB N      prints "failed=<launches that did not return success>" */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "klocal_prog: %s\n", dlerror());
        return 1;
    }
    int (*run)(int) = (int (*)(int))dlsym(h, "kmiddle_run");
    if (!run) return 1;
    printf("failed=%d\n", run(atoi(argv[2])));
    return 0;
}
