/* roads_prog: reaches the (fake) vendor libraries the way TensorFlow's StreamExecutor,
 * JAX/XLA, cuda-python and Triton's launcher do: dlopen(RTLD_LOCAL) and dlsym on the
 * handle. Links no vendor library.
 *
 *   roads_prog cublas   libcudart.so.13, then libcublas.so.13: where each looked-up function lives, then
 *                       create, set atomics ALLOWED, set a stream, a gemm, destroy
 *   roads_prog launch   libcudart.so.13 and libcuda.so.1: a listed kernel launched through
 *                       cudaLaunchKernel and cuLaunchKernelEx, both looked up by handle
 * Prints "where NAME OBJECT" (the basename of the object dladdr names) and "NAME status=N". */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_common.h"

static void *open_local(const char *lib)
{
    void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "roads_prog: %s\n", dlerror());
        exit(2);
    }
    return h;
}

static const char *where(const void *p)
{
    Dl_info di;
    if (!p) return "(null)";
    if (!dladdr(p, &di) || !di.dli_fname) return "?";
    const char *b = strrchr(di.dli_fname, '/');
    return b ? b + 1 : di.dli_fname;
}

static void *look(void *h, const char *name)
{
    void *p = dlsym(h, name);
    printf("where %s %s\n", name, where(p));
    if (!p) exit(3);
    return p;
}

typedef int (*create_t)(void **);
typedef int (*destroy_t)(void *);
typedef int (*seti_t)(void *, int);
typedef int (*setp_t)(void *, void *);
typedef int (*sgemm_t)(void *, int, int, int, int, int, const float *, const float *, int,
                       const float *, int, const float *, float *, int);

static int cublas(void)
{
    open_local("libcudart.so.13"); /* as TensorFlow loads it: RTLD_LOCAL too */
    void *h = open_local("libcublas.so.13");
    create_t create = (create_t)look(h, "cublasCreate_v2");
    destroy_t destroy = (destroy_t)look(h, "cublasDestroy_v2");
    seti_t atomics = (seti_t)look(h, "cublasSetAtomicsMode");
    sgemm_t sgemm = (sgemm_t)look(h, "cublasSgemm_v2");
    look(h, "cublasGetVersion_v2"); /* not hooked */
    setp_t stream = (setp_t)dlvsym(h, "cublasSetStream_v2", "libcublas.so.13");
    printf("where dlvsym:cublasSetStream_v2 %s\n", where((void *)stream));
    /* a hot hook: the pointer handed out is the exported front, the one a direct call binds to */
    printf("sgemm_is_global %d\n", (void *)sgemm == dlsym(RTLD_DEFAULT, "cublasSgemm_v2"));
    if (!stream) return 3;
    void *handle = NULL;
    printf("cublasCreate_v2 status=%d\n", create(&handle));
    printf("cublasSetAtomicsMode status=%d\n", atomics(handle, 1 /* ALLOWED */));
    printf("cublasSetStream_v2 status=%d\n", stream(handle, (void *)0x5000));
    float a = 1, b = 0, x[4] = {0}, y[4] = {0}, z[4] = {0};
    printf("cublasSgemm_v2 status=%d\n", sgemm(handle, 0, 0, 2, 2, 2, &a, x, 2, y, 2, &b, z, 2));
    printf("cublasDestroy_v2 status=%d\n", destroy(handle));
    return 0;
}

typedef void (*regfn_t)(void **, const char *, char *, const char *, int, uint3 *, uint3 *,
                           dim3 *, dim3 *, int *);
typedef cudaError_t (*rtlaunch_t)(const void *, dim3, dim3, void **, size_t, cudaStream_t);
typedef CUresult (*getfn_t)(CUfunction *, CUmodule, const char *);

static volatile int touched;
static void stub_force(void) { touched = 1; }

static int launch(void)
{
    void *rt = open_local("libcudart.so.13");
    regfn_t reg = (regfn_t)look(rt, "__cudaRegisterFunction");
    rtlaunch_t rtl = (rtlaunch_t)look(rt, "cudaLaunchKernel");
    static void *fatbin[1];
    reg(fatbin, (const char *)stub_force, (char *)K_FORCE, K_FORCE, -1, NULL, NULL, NULL, NULL,
        NULL);
    dim3 g = {2, 1, 1}, b = {64, 1, 1};
    printf("cudaLaunchKernel status=%d\n", (int)rtl((const void *)stub_force, g, b, NULL, 0, NULL));

    void *drv = open_local("libcuda.so.1");
    getfn_t getfn = (getfn_t)look(drv, "cuModuleGetFunction");
    launch_ex_fn ex = (launch_ex_fn)look(drv, "cuLaunchKernelEx");
    CUfunction f = NULL;
    if (getfn(&f, NULL, K_FORCE) != CUDA_SUCCESS) return 4;
    CUlaunchConfig c;
    memset(&c, 0, sizeof c);
    c.gridDimX = c.gridDimY = c.gridDimZ = 1;
    c.blockDimX = 32, c.blockDimY = c.blockDimZ = 1;
    printf("cuLaunchKernelEx status=%d\n", (int)ex(&c, f, NULL, NULL));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "cublas")) return cublas();
    if (!strcmp(argv[1], "launch")) return launch();
    return 2;
}
