/* layer_torch.c: PyTorch's determinism switches and alerts (at::Context, libtorch_cpu).
 *
 * torch asks at::Context whether to use deterministic algorithms (and whether cuDNN
 * should be deterministic, or benchmark) through exported member functions, which
 * libtorch_cuda and libtorch_cpu itself call through the PLT, so the preloaded shim
 * answers them. Ops that have no deterministic implementation call the static
 * at::Context::alertNotDeterministic(name), which checks the flag itself: interposing
 * it names every such op, with or without the flag.
 *
 *   log      the getters and setters pass through; every alert is recorded and passed on;
 *            a program switching determinism off is recorded.
 *   enforce  the getters answer "deterministic" (cuDNN too, benchmark off); torch's own
 *            flags are set to match once; a program switching them off is overruled and
 *            recorded; an alert is recorded and does not raise (torch's warn-only
 *            behaviour, into the log) unless the program itself asked torch for errors
 *            (use_deterministic_algorithms(True) without warn_only).
 *   strict   as enforce, but an alert is recorded, then torch raises its own RuntimeError.
 *
 * In strict mode (and whenever torch is to decide), the real alertNotDeterministic
 * runs with the reentrancy guard released: it reads the flag through our getter, and
 * the C++ exception it throws leaves through this C frame and the wrapper's (both have
 * unwind tables) with the guard already balanced. */
#include <stdio.h>
#include <string.h>

#include "hooks.h"
#include "pystack.h"

#define OP_MAX 256 /* bytes of an op name kept */

/* What the program last asked of setDeterministicAlgorithms. */
enum { PROG_NONE, PROG_OFF, PROG_WARN, PROG_ERROR };
static _Atomic int prog_det = PROG_NONE;

/* Once per process, at the first hooked torch call: check which parts this torch has,
 * and in enforce/strict set torch's own flags to what the getters answer. */
static _Atomic int setup_state; /* 0 not yet, 1 running or done */

typedef void *(*global_context_fn)(void);

/* Short names for the mangled hooks. ID() and REAL() expand the short name first, then
 * paste it (DS_HOOK_<name>, DS_REAL(<name>)). */
#define GET_ALGOS _ZNK2at7Context23deterministicAlgorithmsEv
#define GET_WARN _ZNK2at7Context31deterministicAlgorithmsWarnOnlyEv
#define GET_CUDNN_DET _ZNK2at7Context18deterministicCuDNNEv
#define GET_CUDNN_BENCH _ZNK2at7Context14benchmarkCuDNNEv
#define SET_ALGOS _ZN2at7Context26setDeterministicAlgorithmsEbb
#define SET_CUDNN_DET _ZN2at7Context21setDeterministicCuDNNEb
#define SET_CUDNN_BENCH _ZN2at7Context17setBenchmarkCuDNNEb
#define ALERT_STD _ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE
#define ALERT_C10 _ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE
#define ID_(name) DS_HOOK_##name
#define ID(name) ID_(name)
#define REAL(name) DS_REAL(name)

/* In enforce/strict: does an alert raise? */
static bool alerts_raise(void)
{
    return ds_cfg.mode == DS_MODE_STRICT ||
           atomic_load_explicit(&prog_det, memory_order_relaxed) == PROG_ERROR;
}

static const struct {
    enum ds_hook hook;
    const char *what;
    const char *without;
} parts[] = {
    {ID(GET_ALGOS), "at::Context::deterministicAlgorithms() const",
     "torch's deterministic-algorithms switch cannot be forced on"},
    {ID(GET_WARN), "at::Context::deterministicAlgorithmsWarnOnly() const",
     "torch's warn-only setting cannot be forced"},
    {ID(GET_CUDNN_DET), "at::Context::deterministicCuDNN() const",
     "cuDNN determinism cannot be forced on"},
    {ID(GET_CUDNN_BENCH), "at::Context::benchmarkCuDNN() const",
     "cuDNN benchmark (autotuning) cannot be forced off"},
    {ID(SET_ALGOS), "at::Context::setDeterministicAlgorithms(bool, bool)",
     "torch's own deterministic-algorithms flag is left as it is and a program switching "
     "it off is not seen (the getter still answers)"},
    {ID(SET_CUDNN_DET), "at::Context::setDeterministicCuDNN(bool)",
     "torch's own cuDNN-deterministic flag is left as it is and a program switching it "
     "off is not seen (the getter still answers)"},
    {ID(SET_CUDNN_BENCH), "at::Context::setBenchmarkCuDNN(bool)",
     "torch's own cuDNN-benchmark flag is left as it is and a program switching it on "
     "is not seen (the getter still answers)"},
};

static void setup(const void *self)
{
    int expected = 0;
    if (DS_LIKELY(atomic_load_explicit(&setup_state, memory_order_relaxed) != 0)) return;
    if (!atomic_compare_exchange_strong(&setup_state, &expected, 1)) return;

    /* A missing symbol disables that part alone: say so once, here. */
    bool loud = ds_enforcing();
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (!ds_real(parts[i].hook))
            ds_notice("torch", loud, "%s (%s) was not found in libtorch_cpu: %s",
                      parts[i].what, ds_hooks[parts[i].hook].name, parts[i].without);
    if (!ds_real(ID(ALERT_STD)) && !ds_real(ID(ALERT_C10)))
        ds_notice("torch", loud,
                  "at::Context::alertNotDeterministic was found in libtorch_cpu under neither "
                  "known mangling (%s, %s): ops without a deterministic implementation are not "
                  "recorded, and torch raises or warns for them as it is set",
                  ds_hooks[ID(ALERT_STD)].name, ds_hooks[ID(ALERT_C10)].name);

    if (!ds_enforcing()) return;
    /* torch's own flags, to match the getters (for any reader that does not call
     * them: an inlined read in some build). The alert hook has no `this`. */
    void *ctx = (void *)self;
    if (!ctx) {
        global_context_fn gc =
            (global_context_fn)ds_resolve_symbol("_ZN2at13globalContextEv", DS_LIB_TORCH, NULL);
        if (gc) ctx = gc();
    }
    if (!ctx) return; /* the getters still answer */
    if (ds_real(ID(SET_ALGOS))) REAL(SET_ALGOS)(ctx, true, !alerts_raise());
    if (ds_real(ID(SET_CUDNN_DET))) REAL(SET_CUDNN_DET)(ctx, true);
    if (ds_real(ID(SET_CUDNN_BENCH))) REAL(SET_CUDNN_BENCH)(ctx, false);
}

/* ---- getters: called on hot paths (every op that has a choice): no allocation, no lock */
bool ds_policy__ZNK2at7Context23deterministicAlgorithmsEv(const void *self)
{
    setup(self);
    return ds_enforcing() ? true : REAL(GET_ALGOS)(self);
}

bool ds_policy__ZNK2at7Context31deterministicAlgorithmsWarnOnlyEv(const void *self)
{
    setup(self);
    return ds_enforcing() ? !alerts_raise() : REAL(GET_WARN)(self);
}

bool ds_policy__ZNK2at7Context18deterministicCuDNNEv(const void *self)
{
    setup(self);
    return ds_enforcing() ? true : REAL(GET_CUDNN_DET)(self);
}

bool ds_policy__ZNK2at7Context14benchmarkCuDNNEv(const void *self)
{
    setup(self);
    return ds_enforcing() ? false : REAL(GET_CUDNN_BENCH)(self);
}

/* ---- setters: the program's own switches ---------------------------------------- */
struct setting {
    const char *name;
    bool requested, value;
    int warn_only; /* -1: not a parameter of this setter */
};

static void setting_extra(struct jbuf *jb, void *arg)
{
    const struct setting *s = arg;
    jb_str(jb, "setting", s->name);
    jb_bool(jb, "requested", s->requested);
    if (s->warn_only >= 0) jb_bool(jb, "warn_only", s->warn_only);
    jb_bool(jb, "value", s->value);
}

static void setting_event(enum ds_hook hook, enum ds_action act, struct setting *s,
                          const char *detail)
{
    uint64_t key[3] = {(uint64_t)s->requested, (uint64_t)(s->warn_only + 1),
                       ds_pystack_hash(ds_cfg.stack_depth)};
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, ds_hash64(key, sizeof key, 0x7e57)))
        ds_event_log(&ev, detail, setting_extra, s);
}

void ds_policy__ZN2at7Context26setDeterministicAlgorithmsEbb(void *self, bool b, bool warn_only)
{
    setup(self);
    atomic_store(&prog_det, !b ? PROG_OFF : warn_only ? PROG_WARN : PROG_ERROR);
    struct setting s = {"deterministic_algorithms", b, b, warn_only};
    if (!ds_enforcing()) {
        REAL(SET_ALGOS)(self, b, warn_only);
        if (!b)
            setting_event(ID(SET_ALGOS), DS_ACT_OBSERVED, &s,
                          "the program switched torch's deterministic algorithms off "
                          "(torch.use_deterministic_algorithms(False))");
        return;
    }
    bool eff_warn = !alerts_raise();
    REAL(SET_ALGOS)(self, true, eff_warn);
    s.value = true;
    if (!b)
        setting_event(ID(SET_ALGOS), DS_ACT_FORCED, &s,
                      "torch.use_deterministic_algorithms(False) overruled: deterministic "
                      "algorithms stay on");
    else if (warn_only && !eff_warn)
        setting_event(ID(SET_ALGOS), DS_ACT_FORCED, &s,
                      "torch.use_deterministic_algorithms(True, warn_only=True) overruled in "
                      "strict mode: ops without a deterministic implementation raise");
}

void ds_policy__ZN2at7Context21setDeterministicCuDNNEb(void *self, bool b)
{
    setup(self);
    struct setting s = {"cudnn_deterministic", b, b, -1};
    if (!ds_enforcing()) {
        REAL(SET_CUDNN_DET)(self, b);
        if (!b)
            setting_event(ID(SET_CUDNN_DET), DS_ACT_OBSERVED, &s,
                          "the program set torch.backends.cudnn.deterministic = False");
        return;
    }
    REAL(SET_CUDNN_DET)(self, true);
    s.value = true;
    if (!b)
        setting_event(ID(SET_CUDNN_DET), DS_ACT_FORCED, &s,
                      "torch.backends.cudnn.deterministic = False overruled: cuDNN stays "
                      "deterministic");
}

void ds_policy__ZN2at7Context17setBenchmarkCuDNNEb(void *self, bool b)
{
    setup(self);
    struct setting s = {"cudnn_benchmark", b, b, -1};
    if (!ds_enforcing()) {
        REAL(SET_CUDNN_BENCH)(self, b);
        if (b)
            setting_event(ID(SET_CUDNN_BENCH), DS_ACT_OBSERVED, &s,
                          "the program set torch.backends.cudnn.benchmark = True (cuDNN "
                          "autotuning: the algorithm may differ run to run)");
        return;
    }
    REAL(SET_CUDNN_BENCH)(self, false);
    s.value = false;
    if (b)
        setting_event(ID(SET_CUDNN_BENCH), DS_ACT_FORCED, &s,
                      "torch.backends.cudnn.benchmark = True overruled: cuDNN autotuning "
                      "stays off");
}

/* ---- alerts ------------------------------------------------------------------------ */
struct alert {
    char op[OP_MAX + 1];
    size_t len;
};

static void alert_extra(struct jbuf *jb, void *arg)
{
    const struct alert *a = arg;
    jb_strn(jb, "op", a->op, a->len);
}

typedef void (*alert_fn)(const void *);

/* Call torch's alertNotDeterministic, which may throw: the guard is released first. */
static void real_alert_unguarded(alert_fn real, const void *caller)
{
    ds_depth--;
    real(caller);
    ds_depth++;
}

static void alert(enum ds_hook hook, alert_fn real, const void *caller, const char *p, size_t n)
{
    struct alert a;
    if (!p) n = 0;
    a.len = n < OP_MAX ? n : OP_MAX;
    if (a.len) memcpy(a.op, p, a.len);
    a.op[a.len] = 0;
    setup(NULL);

    enum ds_action act;
    bool pass_on;
    const char *what;
    if (ds_cfg.mode == DS_MODE_STRICT) {
        act = DS_ACT_BLOCKED;
        pass_on = true;
        what = "strict mode: torch raises its RuntimeError";
    } else if (ds_enforcing()) {
        act = DS_ACT_OBSERVED;
        pass_on = alerts_raise();
        what = pass_on ? "the program asked torch to raise for these "
                         "(use_deterministic_algorithms(True)): torch raises its RuntimeError"
                       : "it ran anyway (enforce mode: recorded instead of raised)";
    } else {
        act = DS_ACT_OBSERVED;
        pass_on = true;
        what = "log mode: passed on to torch unchanged";
    }

    uint64_t key[2] = {ds_hash64(a.op, a.len, 0xa1e7), ds_pystack_hash(ds_cfg.stack_depth)};
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, ds_hash64(key, sizeof key, 0))) {
        char detail[OP_MAX + 200];
        snprintf(detail, sizeof detail, "torch alert: %s has no deterministic implementation; %s",
                 a.len ? a.op : "(unnamed op)", what);
        ds_event_log(&ev, detail, alert_extra, &a);
        if (act == DS_ACT_BLOCKED)
            ds_refuse(&ev, a.len ? a.op : "an op without a deterministic implementation",
                      "DETSHIM_DISABLE=torch leaves torch's switches to the program");
    }
    if (pass_on) real_alert_unguarded(real, caller);
}

/* torch 2.x: libstdc++'s std::string_view is {size_t length; const char *data}. */
struct std_string_view {
    size_t len;
    const char *str;
};
/* torch 1.x: c10::basic_string_view<char> is {const char *begin_; size_t size_}. */
struct c10_string_view {
    const char *begin;
    size_t size;
};

void ds_policy__ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE(
    const void *caller)
{
    const struct std_string_view *v = caller;
    alert(ID(ALERT_STD), (alert_fn)REAL(ALERT_STD), caller, v ? v->str : NULL, v ? v->len : 0);
}

void ds_policy__ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE(
    const void *caller)
{
    const struct c10_string_view *v = caller;
    alert(ID(ALERT_C10), (alert_fn)REAL(ALERT_C10), caller, v ? v->begin : NULL,
          v ? v->size : 0);
}

/* ---- torch's cuBLAS-config check (torch up to 2.9) ------------------------------------ */
/* torch accepts only CUBLAS_WORKSPACE_CONFIG :4096:8 or :16:8 as deterministic, and with
 * deterministic algorithms on (which enforce answers) alerts at every cuBLAS routine
 * otherwise. The shim no longer exports the variable: while the cublas layer is active it
 * gives each (handle, stream) a workspace of its own, NVIDIA's other documented way, and
 * refuses in strict what it cannot fix; so the check answers "deterministic" and the
 * alert says nothing. Otherwise (log mode, the cublas layer disabled) torch decides. */
static bool cublas_layer_covers(void)
{
    return ds_enforcing() && ds_layer_active(DS_LAYER_CUBLAS);
}

bool ds_policy__ZN2at7Context30checkCuBLASConfigDeterministicEv(void *self)
{
    return cublas_layer_covers() ? true : DS_REAL(_ZN2at7Context30checkCuBLASConfigDeterministicEv)(self);
}

void ds_policy__ZNK2at7Context33alertCuBLASConfigNotDeterministicEv(const void *self)
{
    if (cublas_layer_covers()) return;
    /* torch may throw from here: the guard is released first */
    real_alert_unguarded(DS_REAL(_ZNK2at7Context33alertCuBLASConfigNotDeterministicEv), self);
}
