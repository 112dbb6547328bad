/* kmany: the kernels layer with many kernels, unloads and the multi-device launch, through
 * the fake driver's modules (fake_cuda.c: an image "fake-module\n" + one name a line).
 *
 *   kmany many N F R      one module of N kernels, the last F of them flagged (DeePMD-kit's
 *                         force kernel by name); each launched once with cuLaunchKernel, then
 *                         the N-F clean ones again R times; prints "flagged status=<s>" per
 *                         flagged launch of the first pass and "round ns_per_launch=<t>"
 *                         (the fastest of the R rounds, wall clock)
 *   kmany reuse HOW       a module with a clean kernel: launched, unloaded; a module with a
 *                         flagged kernel loaded next (same address); launched. HOW: module
 *                         (cuModuleUnload), pointer (cuModuleUnload from cuGetProcAddress_v2),
 *                         library (cuLibraryLoadData / cuLibraryGetKernel / cuLibraryUnload).
 *                         Prints "same=<0|1>", "clean status=<s>", "flagged status=<s>"
 *   kmany multi           cuLaunchCooperativeKernelMultiDevice with {clean} and then
 *                         {clean, flagged}, by symbol and by a cuGetProcAddress_v2 pointer;
 *                         prints "<how> <list> status=<s>"
 *   kmany lookups N       N cuModuleGetFunction of one name; prints the heap growth in bytes
 *   kmany bench N K       K clean kernels, each launched once, then N launches cycling over
 *                         them (tests/bench/cost.sh: the cost per launch with K kernels known)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels_common.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* the multi-device launch */

#define FLAGGED "_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii"

static CUresult launch(CUfunction f)
{
    return cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static CUfunction *load_many(int n, int nf);

static int many(int n, int nf, int rounds)
{
    CUfunction *f = load_many(n, nf);
    if (!f) return 1;
    for (int i = 0; i < n; i++) {
        CUresult r = launch(f[i]);
        if (i >= n - nf) printf("flagged status=%d\n", (int)r);
    }
    double best = 1e300; /* the fastest round: a loaded machine slows some rounds */
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int i = 0; i < n - nf; i++) launch(f[i]);
        double t = (now() - t0) / (n - nf);
        if (t < best) best = t;
    }
    printf("round ns_per_launch=%.0f\n", best);
    free(f);
    return 0;
}

/* the measured part (callgrind --toggle-collect=bench_rounds) */
__attribute__((noinline)) void bench_rounds(CUfunction *f, long n, int k);
__attribute__((noinline)) void bench_rounds(CUfunction *f, long n, int k)
{
    for (long i = 0, j = 0; i < n; i++, j = j + 1 == k ? 0 : j + 1) launch(f[j]);
}

static int bench(long n, int k)
{
    CUfunction *f = load_many(k, 0);
    if (!f) return 1;
    for (int i = 0; i < k; i++) launch(f[i]);
    bench_rounds(f, n, k);
    free(f);
    return 0;
}

/* One module of n kernels, the last nf flagged; its functions, or NULL. */
static CUfunction *load_many(int n, int nf)
{
    size_t cap = (size_t)n * 64 + 16;
    char *img = malloc(cap), *p = img;
    p += sprintf(p, "fake-module\n");
    for (int i = 0; i < n; i++)
        p += i < n - nf ? sprintf(p, "clean_kernel_%d\n", i) : sprintf(p, FLAGGED "_%d\n", i);
    CUmodule m;
    CUresult lr = cuModuleLoadData(&m, img);
    free(img);
    if (lr != CUDA_SUCCESS) return NULL;
    CUfunction *f = malloc(sizeof *f * (size_t)n);
    char name[128];
    for (int i = 0; i < n; i++) {
        if (i < n - nf) snprintf(name, sizeof name, "clean_kernel_%d", i);
        else snprintf(name, sizeof name, FLAGGED "_%d", i);
        if (cuModuleGetFunction(&f[i], m, name) != CUDA_SUCCESS) { free(f); return NULL; }
    }
    return f;
}

typedef CUresult (*unload_fn)(CUmodule);

static int reuse(const char *how)
{
    CUfunction a, b;
    CUresult ra, rb;
    if (!strcmp(how, "library")) {
        CUlibrary la, lb;
        CUkernel ka, kb;
        if (cuLibraryLoadData(&la, "fake-module\nclean_old_kernel\n", NULL, NULL, 0, NULL, NULL, 0) ||
            cuLibraryGetKernel(&ka, la, "clean_old_kernel"))
            return 1;
        a = (CUfunction)(void *)ka;
        ra = launch(a);
        if (cuLibraryUnload(la) != CUDA_SUCCESS) return 1;
        if (cuLibraryLoadData(&lb, "fake-module\n" FLAGGED "\n", NULL, NULL, 0, NULL, NULL, 0) ||
            cuLibraryGetKernel(&kb, lb, FLAGGED))
            return 1;
        b = (CUfunction)(void *)kb;
    } else {
        CUmodule ma, mb;
        unload_fn unload = cuModuleUnload;
        if (!strcmp(how, "pointer")) {
            void *fp = NULL;
            CUdriverProcAddressQueryResult q;
            if (cuGetProcAddress_v2("cuModuleUnload", &fp, 12000, 0, &q) != CUDA_SUCCESS) return 1;
            unload = (unload_fn)fp;
        }
        if (cuModuleLoadData(&ma, "fake-module\nclean_old_kernel\n") ||
            cuModuleGetFunction(&a, ma, "clean_old_kernel"))
            return 1;
        ra = launch(a);
        if (unload(ma) != CUDA_SUCCESS) return 1;
        if (cuModuleLoadData(&mb, "fake-module\n" FLAGGED "\n") ||
            cuModuleGetFunction(&b, mb, FLAGGED))
            return 1;
    }
    rb = launch(b);
    printf("same=%d\nclean status=%d\nflagged status=%d\n", a == b, (int)ra, (int)rb);
    return 0;
}

typedef CUresult (*multi_fn)(CUDA_LAUNCH_PARAMS *, unsigned, unsigned);

static int multi(void)
{
    CUmodule m;
    CUfunction c, f;
    if (cuModuleLoadData(&m, "fake-module\nclean_coop_kernel\n" FLAGGED "\n") ||
        cuModuleGetFunction(&c, m, "clean_coop_kernel") || cuModuleGetFunction(&f, m, FLAGGED))
        return 1;
    CUDA_LAUNCH_PARAMS l[2];
    memset(l, 0, sizeof l);
    l[0].function = c;
    l[1].function = f;
    for (int i = 0; i < 2; i++) l[i].gridDimX = l[i].gridDimY = l[i].gridDimZ = 2, l[i].blockDimX = 64,
        l[i].blockDimY = l[i].blockDimZ = 1;
    void *fp = NULL;
    CUdriverProcAddressQueryResult q;
    if (cuGetProcAddress_v2("cuLaunchCooperativeKernelMultiDevice", &fp, 12000, 0, &q)) return 1;
    multi_fn ptr = (multi_fn)fp;
    printf("symbol clean status=%d\n", (int)cuLaunchCooperativeKernelMultiDevice(l, 1, 0));
    printf("symbol mixed status=%d\n", (int)cuLaunchCooperativeKernelMultiDevice(l, 2, 0));
    printf("pointer clean status=%d\n", (int)ptr(l, 1, 0));
    printf("pointer mixed status=%d\n", (int)ptr(l, 2, 0));
    return 0;
}

static int lookups(long n)
{
    CUfunction f;
    if (cuModuleGetFunction(&f, NULL, K_AXPY)) return 1; /* the first one may keep a name */
    size_t before = mallinfo2().uordblks;
    for (long i = 0; i < n; i++)
        if (cuModuleGetFunction(&f, NULL, K_AXPY)) return 1;
    size_t after = mallinfo2().uordblks;
    printf("heap growth=%zu\n", after > before ? after - before : 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "many")) return many(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "reuse")) return reuse(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "multi")) return multi();
    if (argc >= 3 && !strcmp(argv[1], "lookups")) return lookups(atol(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "bench")) return bench(atol(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: kmany many N F R | reuse module|pointer|library | multi | lookups N | bench N K\n");
    return 2;
}
