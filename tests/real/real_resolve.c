/* real_resolve: the shim's resolution (the very code of the library, linked statically)
 * run against the REAL CUDA libraries in $CUDA_LIB, opened RTLD_LOCAL as torch and
 * TensorFlow open them: prints "<hook> <object the real function was found in, or ->"
 * for every hook of hooks.def. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detshim.h"

static const char *base(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int main(void)
{
    const char *dir = getenv("CUDA_LIB");
    if (!dir) dir = "/usr/local/cuda/lib";
    static const char *libs[] = {"libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13",
                                 "libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_cnn.so.9",
                                 "libcudnn_ops.so.9", "libcudnn_adv.so.9", "libnccl.so.2"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, libs[i]);
        if (!dlopen(path, RTLD_NOW | RTLD_LOCAL)) fprintf(stderr, "real_resolve: %s\n", dlerror());
    }
    dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); /* the driver, where installed */
    for (int id = 0; id < DS_HOOK_COUNT; id++) {
        void *p = ds_resolve_hook((enum ds_hook)id);
        Dl_info di;
        printf("%s %s\n", ds_hooks[id].name,
               p && dladdr(p, &di) && di.dli_fname ? base(di.dli_fname) : "-");
    }
    return 0;
}
