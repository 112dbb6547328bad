/* torch_prog: drives a fake libtorch_cuda (and through it a fake libtorch_cpu) opened
 * RTLD_LOCAL, as Python opens torch, and prints what torch would have seen.
 *   torch_prog LIB CMD...
 *   query                 prints "det=D warn=W cudnn_det=C bench=B" (warn=-1: no getter)
 *   set-algos B W         setDeterministicAlgorithms(B, W)
 *   set-cudnn-det B       setDeterministicCuDNN(B)
 *   set-bench B           setBenchmarkCuDNN(B)
 *   alert NAME            alertNotDeterministic(NAME), the view ending inside a longer buffer
 *   alert2 NAME           the same from a second call site
 *   alert-long N          an op name of N 'x'
 *   gemm                  a cuBLAS routine of libtorch_cuda (its cuBLAS-config alert)
 *   raised                prints "raised=N": how often the fake torch would have thrown */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int (*query)(char *, size_t);
static void (*set)(int, bool, bool);
static void (*alert)(const char *, size_t);
static int (*raised)(void);
static void (*gemm)(void);

__attribute__((noinline)) static void alert_site_one(const char *name)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%sTRAILING", name); /* the view must stop before TRAILING */
    alert(buf, strlen(name));
}

__attribute__((noinline)) static void alert_site_two(const char *name)
{
    alert(name, strlen(name));
    __asm__ volatile("" ::: "memory"); /* keep the call from being a tail call */
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "torch_prog: %s\n", dlerror());
        return 1;
    }
    *(void **)&query = dlsym(h, "fake_cuda_query");
    *(void **)&set = dlsym(h, "fake_cuda_set");
    *(void **)&alert = dlsym(h, "fake_cuda_alert");
    *(void **)&raised = dlsym(h, "fake_cuda_raised");
    *(void **)&gemm = dlsym(h, "fake_cuda_gemm");
    if (!query || !set || !alert || !raised || !gemm) return 1;
    for (int i = 2; i < argc; i++) {
        const char *c = argv[i];
        const char *a1 = i + 1 < argc ? argv[i + 1] : "0";
        const char *a2 = i + 2 < argc ? argv[i + 2] : "0";
        if (!strcmp(c, "query")) {
            char out[128];
            query(out, sizeof out);
            printf("%s\n", out);
        } else if (!strcmp(c, "set-algos")) {
            set(0, atoi(a1), atoi(a2));
            i += 2;
        } else if (!strcmp(c, "set-cudnn-det")) {
            set(1, atoi(a1), false);
            i++;
        } else if (!strcmp(c, "set-bench")) {
            set(2, atoi(a1), false);
            i++;
        } else if (!strcmp(c, "alert")) {
            alert_site_one(a1);
            i++;
        } else if (!strcmp(c, "alert2")) {
            alert_site_two(a1);
            i++;
        } else if (!strcmp(c, "alert-long")) {
            size_t n = (size_t)atoi(a1);
            char *s = malloc(n + 1);
            if (!s) return 1;
            memset(s, 'x', n);
            s[n] = 0;
            alert_site_two(s);
            free(s);
            i++;
        } else if (!strcmp(c, "gemm")) {
            gemm();
        } else if (!strcmp(c, "raised")) {
            printf("raised=%d\n", raised());
        } else {
            fprintf(stderr, "torch_prog: unknown command %s\n", c);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
