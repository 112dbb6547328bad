/* kprog: launches fake kernels through every launch entry point of the CUDA runtime and
 * driver, as compiled CUDA code, torch and Triton do. Linked against the fake
 * libcudart.so.13 and libcuda.so.1.
 *
 *   kprog all            every entry point x {index, force, axpy, fill}, twice from one
 *                        call site each; prints "<entry> <kernel> status=<n>"
 *   kprog threads T N    T threads, each N launches of index through cudaLaunchKernel,
 *                        (with KPROG_FORKS=K a further thread forks and execs K times meanwhile)
 *                        __cudaLaunchKernel, cuLaunchKernel and a cuGetProcAddress_v2
 *                        pointer, and N of axpy through cudaLaunchKernel
 *   kprog lasterr        a flagged launch (refused in strict), then a failing cudaMalloc of the
 *                        program's own: which last error is reported, in which order
 *   kprog reduce         one launch of clean_reduce (listed by a scanner file in a test)
 *   kprog unknown        a launch of a stub nobody registered
 *   kprog args N         N launches of a clean kernel through every entry point, with distinct
 *                        values in every launch argument (printed first)
 *   kprog bench N [ENTRY] N launches of a clean kernel through four entry points (or one), timed
 * With KPROG_CXX=1 it loads libstdc++ globally first, so the shim can demangle.
 * Every launcher is its own exported function, so stacks can be checked by name. */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels_common.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* cudaGetDriverEntryPoint */

#define NOINL __attribute__((noinline, visibility("default")))
/* after a call: keeps the caller's frame (no tail call), so stacks show it */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

/* The fake kernels' host stubs: distinct bodies, so no two are folded into one. */
static volatile int touched;
static void stub_index(void) { touched = 1; }
static void stub_force(void) { touched = 2; }
static void stub_axpy(void) { touched = 3; }
static void stub_fill(void) { touched = 4; }
static void stub_reduce(void) { touched = 5; }
static void stub_unknown(void) { touched = 6; }

struct kern {
    const char *label, *name;
    void (*stub)(void);
    cudaKernel_t handle; /* from __cudaGetKernel */
    CUfunction func;     /* from cuModuleGetFunction */
};
static struct kern kerns[] = {
    {"index", K_INDEX, stub_index, NULL, NULL},
    {"force", K_FORCE, stub_force, NULL, NULL},
    {"axpy", K_AXPY, stub_axpy, NULL, NULL},
    {"fill", K_FILL, stub_fill, NULL, NULL},
    {"reduce", K_REDUCE, stub_reduce, NULL, NULL},
};
enum { KI_INDEX, KI_FORCE, KI_AXPY, KI_FILL, KI_REDUCE, NK };

static void *fatbin_handle[1];

static void register_all(void)
{
    for (int i = 0; i < NK; i++) {
        __cudaRegisterFunction(fatbin_handle, (const char *)kerns[i].stub, (char *)kerns[i].name,
                               kerns[i].name, -1, NULL, NULL, NULL, NULL, NULL);
        if (__cudaGetKernel(&kerns[i].handle, (const void *)kerns[i].stub) != cudaSuccess)
            fprintf(stderr, "kprog: __cudaGetKernel failed for %s\n", kerns[i].label);
        if (cuModuleGetFunction(&kerns[i].func, NULL, kerns[i].name) != CUDA_SUCCESS)
            fprintf(stderr, "kprog: cuModuleGetFunction failed for %s\n", kerns[i].label);
    }
}

/* What every launch passes (`kprog args` changes them all) */
static dim3 G = {4, 2, 1}, B = {128, 1, 1};
static unsigned SMEM;
static cudaStream_t STREAM;
static void **ARGS;

static void show(const char *entry, const struct kern *k, int st)
{
    printf("%s %s status=%d\n", entry, k->label, st);
}

/* ---- runtime entry points ------------------------------------------------------------- */
NOINL int via___cudaLaunchKernel(struct kern *k)
{
    int r_ = __cudaLaunchKernel(k->handle, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}
NOINL int via___cudaLaunchKernel_ptsz(struct kern *k)
{
    int r_ = __cudaLaunchKernel_ptsz(k->handle, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cudaLaunchKernel(struct kern *k)
{
    int r_ = cudaLaunchKernel((const void *)k->stub, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cudaLaunchKernel_ptsz(struct kern *k)
{
    int r_ = cudaLaunchKernel_ptsz((const void *)k->stub, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}
static cudaLaunchConfig_t rt_config(void)
{
    cudaLaunchConfig_t c;
    memset(&c, 0, sizeof c);
    c.gridDim = G;
    c.blockDim = B;
    c.dynamicSmemBytes = SMEM;
    c.stream = STREAM;
    return c;
}
NOINL int via_cudaLaunchKernelExC(struct kern *k)
{
    cudaLaunchConfig_t c = rt_config();
    int r_ = cudaLaunchKernelExC(&c, (const void *)k->stub, ARGS);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cudaLaunchKernelExC_ptsz(struct kern *k)
{
    cudaLaunchConfig_t c = rt_config();
    int r_ = cudaLaunchKernelExC_ptsz(&c, (const void *)k->stub, ARGS);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cudaLaunchCooperativeKernel(struct kern *k)
{
    int r_ = cudaLaunchCooperativeKernel((const void *)k->stub, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cudaLaunchCooperativeKernel_ptsz(struct kern *k)
{
    int r_ = cudaLaunchCooperativeKernel_ptsz((const void *)k->stub, G, B, ARGS, SMEM, STREAM);
    KEEP_FRAME();
    return r_;
}

/* ---- driver entry points -------------------------------------------------------------- */
NOINL int via_cuLaunchKernel(struct kern *k)
{
    int r_ = cuLaunchKernel(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS, NULL);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cuLaunchKernel_ptsz(struct kern *k)
{
    int r_ = cuLaunchKernel_ptsz(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS, NULL);
    KEEP_FRAME();
    return r_;
}
static CUlaunchConfig drv_config(void)
{
    CUlaunchConfig c;
    memset(&c, 0, sizeof c);
    c.gridDimX = G.x, c.gridDimY = G.y, c.gridDimZ = G.z;
    c.blockDimX = B.x, c.blockDimY = B.y, c.blockDimZ = B.z;
    c.sharedMemBytes = SMEM;
    c.hStream = (CUstream)STREAM;
    return c;
}
NOINL int via_cuLaunchKernelEx(struct kern *k)
{
    CUlaunchConfig c = drv_config();
    int r_ = cuLaunchKernelEx(&c, k->func, ARGS, NULL);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cuLaunchKernelEx_ptsz(struct kern *k)
{
    CUlaunchConfig c = drv_config();
    int r_ = cuLaunchKernelEx_ptsz(&c, k->func, ARGS, NULL);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cuLaunchCooperativeKernel(struct kern *k)
{
    int r_ = cuLaunchCooperativeKernel(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS);
    KEEP_FRAME();
    return r_;
}
NOINL int via_cuLaunchCooperativeKernel_ptsz(struct kern *k)
{
    int r_ = cuLaunchCooperativeKernel_ptsz(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS);
    KEEP_FRAME();
    return r_;
}

/* ---- pointers handed out by name ------------------------------------------------------ */
static launch_fn p_gpa2, p_gpa2_ptsz, p_gpa1, p_self, p_dep, p_dep_ptsz, p_dbv, p_dbv_ptsz;
static launch_ex_fn p_gpa2_ex;
static launch_coop_fn p_gpa2_coop;
static graph_fn p_gpa2_graph;

static void *must(const char *what, int st, void *p)
{
    if (st != 0 || !p) {
        fprintf(stderr, "kprog: %s failed (status %d)\n", what, st);
        exit(3);
    }
    return p;
}

static void get_pointers(void)
{
    CUdriverProcAddressQueryResult q;
    enum cudaDriverEntryPointQueryResult qr;
    void *p = NULL;
    int st;
    st = cuGetProcAddress_v2("cuLaunchKernel", &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &q);
    p_gpa2 = (launch_fn)must("cuGetProcAddress_v2(cuLaunchKernel)", st, p);
    st = cuGetProcAddress_v2("cuLaunchKernel", &p, 13000,
                             CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &q);
    p_gpa2_ptsz = (launch_fn)must("cuGetProcAddress_v2(cuLaunchKernel, per-thread)", st, p);
    st = cuGetProcAddress_v2("cuLaunchKernelEx", &p, 13000, 0, &q);
    p_gpa2_ex = (launch_ex_fn)must("cuGetProcAddress_v2(cuLaunchKernelEx)", st, p);
    st = cuGetProcAddress_v2("cuLaunchCooperativeKernel", &p, 13000, 0, &q);
    p_gpa2_coop = (launch_coop_fn)must("cuGetProcAddress_v2(cuLaunchCooperativeKernel)", st, p);
    st = cuGetProcAddress_v2("cuGraphLaunch", &p, 13000, 0, &q);
    p_gpa2_graph = (graph_fn)must("cuGetProcAddress_v2(cuGraphLaunch)", st, p);
    st = cuGetProcAddress("cuLaunchKernel", &p, 11030, 0);
    p_gpa1 = (launch_fn)must("cuGetProcAddress(cuLaunchKernel)", st, p);
    /* the self-query: cuGetProcAddress asked for itself, then asked for a launch function */
    st = cuGetProcAddress_v2("cuGetProcAddress", &p, 13000, 0, &q);
    gpa2_fn self = (gpa2_fn)must("cuGetProcAddress_v2(cuGetProcAddress)", st, p);
    st = self("cuLaunchKernel", &p, 13000, 0, &q);
    p_self = (launch_fn)must("self(cuLaunchKernel)", st, p);
    st = cudaGetDriverEntryPoint("cuLaunchKernel", &p, cudaEnableDefault, &qr);
    p_dep = (launch_fn)must("cudaGetDriverEntryPoint", st, p);
    st = cudaGetDriverEntryPoint_ptsz("cuLaunchKernel", &p, cudaEnableDefault, &qr);
    p_dep_ptsz = (launch_fn)must("cudaGetDriverEntryPoint_ptsz", st, p);
    st = cudaGetDriverEntryPointByVersion("cuLaunchKernel", &p, 13000, cudaEnableDefault, &qr);
    p_dbv = (launch_fn)must("cudaGetDriverEntryPointByVersion", st, p);
    st = cudaGetDriverEntryPointByVersion_ptsz("cuLaunchKernel", &p, 13000, cudaEnableDefault, &qr);
    p_dbv_ptsz = (launch_fn)must("cudaGetDriverEntryPointByVersion_ptsz", st, p);
}

#define VIA_PTR(name, ptr)                                                       \
    NOINL int via_##name(struct kern *k)                                         \
    {                                                                            \
        int r_ = ptr(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS, NULL);          \
        KEEP_FRAME();                                                            \
        return r_;                                                               \
    }
VIA_PTR(ptr_cuGetProcAddress_v2, p_gpa2)
VIA_PTR(ptr_cuGetProcAddress_v2_ptsz, p_gpa2_ptsz)
VIA_PTR(ptr_cuGetProcAddress, p_gpa1)
VIA_PTR(ptr_self, p_self)
VIA_PTR(ptr_cudaGetDriverEntryPoint, p_dep)
VIA_PTR(ptr_cudaGetDriverEntryPoint_ptsz, p_dep_ptsz)
VIA_PTR(ptr_cudaGetDriverEntryPointByVersion, p_dbv)
VIA_PTR(ptr_cudaGetDriverEntryPointByVersion_ptsz, p_dbv_ptsz)
NOINL int via_ptr_cuGetProcAddress_v2_Ex(struct kern *k)
{
    CUlaunchConfig c = drv_config();
    int r_ = p_gpa2_ex(&c, k->func, ARGS, NULL);
    KEEP_FRAME();
    return r_;
}
NOINL int via_ptr_cuGetProcAddress_v2_Coop(struct kern *k)
{
    int r_ = p_gpa2_coop(k->func, G.x, G.y, G.z, B.x, B.y, B.z, SMEM, (CUstream)STREAM, ARGS);
    KEEP_FRAME();
    return r_;
}

static const struct {
    const char *name;
    int (*fn)(struct kern *);
} entries[] = {
#define E(n) {#n, via_##n}
    E(__cudaLaunchKernel), E(__cudaLaunchKernel_ptsz), E(cudaLaunchKernel),
    E(cudaLaunchKernel_ptsz), E(cudaLaunchKernelExC), E(cudaLaunchKernelExC_ptsz),
    E(cudaLaunchCooperativeKernel), E(cudaLaunchCooperativeKernel_ptsz),
    E(cuLaunchKernel), E(cuLaunchKernel_ptsz), E(cuLaunchKernelEx), E(cuLaunchKernelEx_ptsz),
    E(cuLaunchCooperativeKernel), E(cuLaunchCooperativeKernel_ptsz),
    E(ptr_cuGetProcAddress_v2), E(ptr_cuGetProcAddress_v2_ptsz), E(ptr_cuGetProcAddress_v2_Ex),
    E(ptr_cuGetProcAddress_v2_Coop), E(ptr_cuGetProcAddress), E(ptr_self),
    E(ptr_cudaGetDriverEntryPoint), E(ptr_cudaGetDriverEntryPoint_ptsz),
    E(ptr_cudaGetDriverEntryPointByVersion), E(ptr_cudaGetDriverEntryPointByVersion_ptsz),
#undef E
};

static void graphs(void)
{
    printf("graph cudaGraphLaunch status=%d\n", cudaGraphLaunch(NULL, NULL));
    printf("graph cudaGraphLaunch_ptsz status=%d\n", cudaGraphLaunch_ptsz(NULL, NULL));
    printf("graph cuGraphLaunch status=%d\n", cuGraphLaunch(NULL, NULL));
    printf("graph cuGraphLaunch_ptsz status=%d\n", cuGraphLaunch_ptsz(NULL, NULL));
    printf("graph ptr_cuGraphLaunch status=%d\n", p_gpa2_graph(NULL, NULL));
}

/* A name that is no launch function comes back untouched. */
static void passthrough(void)
{
    void *p = NULL, *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    CUdriverProcAddressQueryResult q;
    int st = cuGetProcAddress_v2("cuDriverGetVersion", &p, 13000, 0, &q);
    printf("passthrough status=%d same=%d\n", st, h && p == dlsym(h, "cuDriverGetVersion"));
}

static volatile int reps = 2; /* a loop the compiler cannot unroll: one call site */

NOINL void all(void)
{
    for (size_t e = 0; e < sizeof entries / sizeof *entries; e++)
        for (int k = KI_INDEX; k <= KI_FILL; k++) {
            int st[2] = {0, 0};
            for (int rep = 0; rep < reps; rep++) st[rep & 1] = entries[e].fn(&kerns[k]);
            show(entries[e].name, &kerns[k], st[0]);
            if (e == 0 && k == KI_INDEX) {
                /* what torch's C10_CUDA_KERNEL_LAUNCH_CHECK sees after a stub launch */
                int peek = cudaPeekAtLastError();
                int get1 = cudaGetLastError();
                int get2 = cudaGetLastError();
                printf("lasterror peek=%d get=%d then=%d\n", peek, get1, get2);
            }
        }
    graphs();
    passthrough();
}

/* ---- threads ---------------------------------------------------------------------------- */
static int per_thread;
NOINL void thread_rt(void) { via_cudaLaunchKernel(&kerns[KI_INDEX]); KEEP_FRAME(); }
NOINL void thread_stub(void) { via___cudaLaunchKernel(&kerns[KI_INDEX]); KEEP_FRAME(); }
NOINL void thread_drv(void) { via_cuLaunchKernel(&kerns[KI_INDEX]); KEEP_FRAME(); }
NOINL void thread_ptr(void) { via_ptr_cuGetProcAddress_v2(&kerns[KI_INDEX]); KEEP_FRAME(); }
NOINL void thread_clean(void) { via_cudaLaunchKernel(&kerns[KI_AXPY]); KEEP_FRAME(); }

/* The forker starts once every launching thread runs: a thread still starting may hold the
 * loader's lock (ThreadSanitizer's runtime walks the loaded objects at thread start), and a
 * child forked then would inherit it held: the runtime's hazard, not the shim's. */
static int nthreads;
static int started;
static void *thread_main(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < per_thread; i++) {
        thread_rt();
        thread_stub();
        thread_drv();
        thread_ptr();
        thread_clean();
    }
    return NULL;
}

/* With KPROG_FORKS=K: one more thread forks K times while the others launch; each child
 * launches once through every hooked family (so it logs to its own file) and execs
 * /bin/true (the shim preloaded into it, inert). */
NOINL void child_launches(void)
{
    thread_rt();
    thread_drv();
    thread_ptr();
    KEEP_FRAME();
}

static void *forker_main(void *arg)
{
    int k = *(int *)arg, forked = 0;
    while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < nthreads) sched_yield();
    for (int i = 0; i < k; i++) {
        pid_t p = fork();
        if (p == 0) {
            child_launches();
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        if (p > 0) {
            int st;
            waitpid(p, &st, 0);
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) forked++;
        }
    }
    printf("forked %d children, all exited 0\n", forked);
    return NULL;
}

/* ---- the hook's cost: N launches of a clean kernel each way, ns per launch ------------- */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void bench(long n, const char *only)
{
    static const char *names[] = {"cudaLaunchKernel", "__cudaLaunchKernel", "cuLaunchKernel",
                                  "cuLaunchKernel-pointer"};
    int (*fns[])(struct kern *) = {via_cudaLaunchKernel, via___cudaLaunchKernel,
                                   via_cuLaunchKernel, via_ptr_cuGetProcAddress_v2};
    for (int f = 0; f < 4; f++) {
        if (only && strcmp(only, names[f]) != 0) continue;
        for (long i = 0; i < 1000; i++) fns[f](&kerns[KI_AXPY]);
        double t0 = now();
        for (long i = 0; i < n; i++) fns[f](&kerns[KI_AXPY]);
        printf("bench %s %.1f ns/launch\n", names[f], (now() - t0) / (double)n * 1e9);
    }
}

/* A refusal and a runtime error of the program's own pending together. */
NOINL void lasterr(void)
{
    int st = via_cudaLaunchKernel(&kerns[KI_INDEX]);
    void *p = NULL;
    int m = cudaMalloc(&p, 64); /* FAKE_CUDART_MALLOC_FAIL_FROM=0: fails, sets the last error */
    int peek = cudaPeekAtLastError();
    int get1 = cudaGetLastError();
    int get2 = cudaGetLastError();
    int get3 = cudaGetLastError();
    printf("lasterr launch=%d malloc=%d peek=%d get=%d then=%d then=%d\n", st, m, peek, get1, get2, get3);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (getenv("KPROG_CXX") && !dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL)) {
        fprintf(stderr, "kprog: %s\n", dlerror());
        return 1;
    }
    cuInit(0);
    register_all();
    get_pointers();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "all")) {
        all();
    } else if (!strcmp(cmd, "threads") && argc == 4) {
        int t = atoi(argv[2]);
        per_thread = atoi(argv[3]);
        pthread_t th[64];
        if (t > 64) t = 64;
        nthreads = t;
        const char *forks = getenv("KPROG_FORKS");
        int k = forks ? atoi(forks) : 0;
        pthread_t forker;
        if (k > 0) pthread_create(&forker, NULL, forker_main, &k);
        for (int i = 0; i < t; i++) pthread_create(&th[i], NULL, thread_main, NULL);
        for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
        if (k > 0) pthread_join(forker, NULL);
    } else if (!strcmp(cmd, "bench") && (argc == 3 || argc == 4)) {
        bench(atol(argv[2]), argc == 4 ? argv[3] : NULL);
    } else if (!strcmp(cmd, "args") && argc == 3) {
        /* every launch argument distinct and unusual, N launches of a clean kernel through
         * each entry point: the first takes the kernels layer's full check, the later ones its
         * fast way; the fake libraries record what they received */
        static void *slots[4];
        G = (dim3){7, 5, 3}, B = (dim3){32, 4, 2}, SMEM = 4567, ARGS = slots;
        cudaStreamCreate(&STREAM);
        printf("want grid=7,5,3 block=32,4,2 smem=4567 stream=%p args=%p\n", (void *)STREAM, (void *)ARGS);
        int n = atoi(argv[2]), bad = 0;
        for (size_t e = 0; e < sizeof entries / sizeof *entries; e++)
            for (int i = 0; i < n; i++) bad += entries[e].fn(&kerns[KI_AXPY]) != 0;
        printf("entries %zu launches %d failed %d\n", sizeof entries / sizeof *entries,
               (int)(sizeof entries / sizeof *entries) * n, bad);
    } else if (!strcmp(cmd, "lasterr")) {
        lasterr();
    } else if (!strcmp(cmd, "reduce")) {
        show("cudaLaunchKernel", &kerns[KI_REDUCE], via_cudaLaunchKernel(&kerns[KI_REDUCE]));
    } else if (!strcmp(cmd, "unknown")) {
        struct kern u = {"unknown", "?", stub_unknown, NULL, NULL};
        show("cudaLaunchKernel", &u, via_cudaLaunchKernel(&u));
        show("cudaLaunchKernel", &kerns[KI_INDEX], via_cudaLaunchKernel(&kerns[KI_INDEX]));
    } else {
        return 2;
    }
    return 0;
}
