/* Stands where libtorch_cuda stands: it imports at::Context from the fake libtorch_cpu
 * and is itself opened RTLD_LOCAL by the program (torch_prog), as Python opens torch. */
#include <stdbool.h>
#include <stddef.h>

void *global_context(void) __asm__("_ZN2at13globalContextEv");
bool det_algos(const void *c) __asm__("_ZNK2at7Context23deterministicAlgorithmsEv");
#ifndef FAKE_NO_WARN_ONLY
bool warn_only(const void *c) __asm__("_ZNK2at7Context31deterministicAlgorithmsWarnOnlyEv");
#endif
bool det_cudnn(const void *c) __asm__("_ZNK2at7Context18deterministicCuDNNEv");
bool bench_cudnn(const void *c) __asm__("_ZNK2at7Context14benchmarkCuDNNEv");
void set_algos(void *c, bool b, bool w) __asm__("_ZN2at7Context26setDeterministicAlgorithmsEbb");
void set_cudnn(void *c, bool b) __asm__("_ZN2at7Context21setDeterministicCuDNNEb");
void set_bench(void *c, bool b) __asm__("_ZN2at7Context17setBenchmarkCuDNNEb");
int fake_torch_raised(void);

#ifdef FAKE_STD_VIEW
struct view { size_t len; const char *str; };
#define MAKE_VIEW(p, n) {(n), (p)}
#define ALERT "_ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE"
#else
struct view { const char *begin; size_t size; };
#define MAKE_VIEW(p, n) {(p), (n)}
#define ALERT "_ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE"
#endif
void alert(const struct view *v) __asm__(ALERT);

/* "det=1 warn=1 cudnn_det=1 bench=0" into out */
int fake_cuda_query(char *out, size_t n);
int fake_cuda_query(char *out, size_t n)
{
    const void *c = global_context();
    int warn = -1;
#ifndef FAKE_NO_WARN_ONLY
    warn = warn_only(c);
#endif
    return __builtin_snprintf(out, n, "det=%d warn=%d cudnn_det=%d bench=%d", det_algos(c), warn,
                              det_cudnn(c), bench_cudnn(c));
}

void fake_cuda_set(int which, bool b, bool w);
void fake_cuda_set(int which, bool b, bool w)
{
    void *c = global_context();
    if (which == 0) set_algos(c, b, w);
    if (which == 1) set_cudnn(c, b);
    if (which == 2) set_bench(c, b);
}

/* The op name is a view into a longer buffer (not NUL-terminated at its end). */
void fake_cuda_alert(const char *p, size_t n);
void fake_cuda_alert(const char *p, size_t n)
{
    struct view v = MAKE_VIEW(p, n);
    alert(&v);
}

/* a cuBLAS routine of libtorch_cuda (CUDABlas.cpp): the cuBLAS-config alert first */
void alert_cublas(const void *c) __asm__("_ZNK2at7Context33alertCuBLASConfigNotDeterministicEv");
void fake_cuda_gemm(void);
void fake_cuda_gemm(void) { alert_cublas(global_context()); }

int fake_cuda_raised(void);
int fake_cuda_raised(void) { return fake_torch_raised(); }
