/* A fake libtorch_cpu: at::Context as torch exports it, written in C. The symbols carry
 * the Itanium-mangled names of the real members (a member takes `this` first).
 *   FAKE_STD_VIEW       alertNotDeterministic as torch 2.x: std::string_view const &,
 *                       libstdc++ layout {size_t len; const char *str}
 *   (default)           as torch 1.13: c10::basic_string_view<char> const &, {begin, size}
 *   FAKE_NO_WARN_ONLY   lacks deterministicAlgorithmsWarnOnly (as torch before 1.11)
 * Every call is recorded (fake_record.h). Like torch, alertNotDeterministic reads the
 * flags through the exported getters (the PLT: the preloaded shim answers them); C has
 * no exceptions, so "raise" is counted (fake_torch_raised) and recorded. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fake_record.h"

struct context {
    bool deterministic_cudnn, benchmark_cudnn, deterministic_algorithms, warn_only;
};
static struct context the_context;
static int raised;

void *global_context(void) __asm__("_ZN2at13globalContextEv");
void *global_context(void) { return &the_context; }

bool det_algos(const struct context *c) __asm__("_ZNK2at7Context23deterministicAlgorithmsEv");
bool det_algos(const struct context *c) { return c->deterministic_algorithms; }

#ifndef FAKE_NO_WARN_ONLY
bool warn_only(const struct context *c) __asm__("_ZNK2at7Context31deterministicAlgorithmsWarnOnlyEv");
bool warn_only(const struct context *c) { return c->warn_only; }
#endif

bool det_cudnn(const struct context *c) __asm__("_ZNK2at7Context18deterministicCuDNNEv");
bool det_cudnn(const struct context *c) { return c->deterministic_cudnn; }

bool bench_cudnn(const struct context *c) __asm__("_ZNK2at7Context14benchmarkCuDNNEv");
bool bench_cudnn(const struct context *c) { return c->benchmark_cudnn; }

void set_algos(struct context *c, bool b, bool w) __asm__("_ZN2at7Context26setDeterministicAlgorithmsEbb");
void set_algos(struct context *c, bool b, bool w)
{
    fake_record("setDeterministicAlgorithms b=%d warn_only=%d", b, w);
    c->deterministic_algorithms = b;
    c->warn_only = w;
}

void set_cudnn(struct context *c, bool b) __asm__("_ZN2at7Context21setDeterministicCuDNNEb");
void set_cudnn(struct context *c, bool b)
{
    fake_record("setDeterministicCuDNN b=%d", b);
    c->deterministic_cudnn = b;
}

void set_bench(struct context *c, bool b) __asm__("_ZN2at7Context17setBenchmarkCuDNNEb");
void set_bench(struct context *c, bool b)
{
    fake_record("setBenchmarkCuDNN b=%d", b);
    c->benchmark_cudnn = b;
}

#ifdef FAKE_STD_VIEW
struct view { size_t len; const char *str; };
#define VIEW_PTR(v) (v)->str
#define VIEW_LEN(v) (v)->len
#define ALERT "_ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE"
#else
struct view { const char *begin; size_t size; };
#define VIEW_PTR(v) (v)->begin
#define VIEW_LEN(v) (v)->size
#define ALERT "_ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE"
#endif

void alert(const struct view *v) __asm__(ALERT);
void alert(const struct view *v)
{
    bool det = det_algos(global_context());
#ifdef FAKE_NO_WARN_ONLY
    bool warn = false;
#else
    bool warn = det && warn_only(global_context());
#endif
    fake_record("alertNotDeterministic op=%.*s -> %s", (int)VIEW_LEN(v), VIEW_PTR(v),
                !det ? "nothing" : warn ? "warn" : "raise");
    if (det && !warn) raised++;
}

/* torch 1.13 to 2.9 (aten/src/ATen/Context.cpp): the cuBLAS-config check accepts exactly
 * :4096:8 or :16:8; the alert (called by libtorch_cuda at each cuBLAS routine) reads the
 * check once and the flags through the exported getters (the PLT, as torch does). */
bool check_cublas(struct context *c) __asm__("_ZN2at7Context30checkCuBLASConfigDeterministicEv");
bool check_cublas(struct context *c)
{
    (void)c;
    const char *v = getenv("CUBLAS_WORKSPACE_CONFIG");
    bool ok = v && (!strcmp(v, ":4096:8") || !strcmp(v, ":16:8"));
    fake_record("checkCuBLASConfigDeterministic -> %d", ok);
    return ok;
}

void alert_cublas(const struct context *c) __asm__("_ZNK2at7Context33alertCuBLASConfigNotDeterministicEv");
void alert_cublas(const struct context *c)
{
    static int config_ok = -1;
    if (config_ok < 0) config_ok = check_cublas(global_context());
    bool det = det_algos(c);
#ifdef FAKE_NO_WARN_ONLY
    bool warn = false;
#else
    bool warn = det && warn_only(c);
#endif
    const char *what = !det || config_ok ? "nothing" : warn ? "warn" : "raise";
    fake_record("alertCuBLASConfigNotDeterministic -> %s", what);
    if (det && !config_ok && !warn) raised++;
}

int fake_torch_raised(void);
int fake_torch_raised(void) { return raised; }
