/* tf.c: TensorFlow's op-determinism query (libtensorflow_framework.so.2).
 *
 * Every TensorFlow 2.9 to 2.21 asks one exported function whether ops must be deterministic:
 * tensorflow::OpDeterminismRequired() (2.9, 2.10), tsl::OpDeterminismRequired() (2.11 on).
 * It answers TF_DETERMINISTIC_OPS (read once) or what tf.config.experimental.
 * enable_op_determinism() last set (EnableOpDeterminism). TF's own libraries, the kernels
 * and the Python binding call it through the PLT/GOT, so the preloaded shim answers them,
 * and nothing is exported into the environment (children see nothing).
 *
 * The same query both selects deterministic implementations (CPU scatter, tf.data order,
 * cuDNN algorithms, GPU reductions...) and, at a few call sites, makes TF raise (an op with
 * no deterministic GPU implementation: UnimplementedError; a random op with no seed; the
 * Python seed checks). So the answer depends on who asks:
 *
 *   log      TF's own answer; each asking call site recorded once (observed).
 *   enforce  yes at every native call site except the known raising ones (RAISING below) and
 *            the Python binding (whose callers are the seed checks): there TF's own answer,
 *            so a training that runs without the shim still runs. Each site recorded once
 *            (forced, or observed with the reason).
 *   strict   yes everywhere: TF raises its own errors where it has no deterministic path.
 *
 * The call site is the first frame outside the shim (libunwind, one walk per call; TF
 * itself takes a mutex per call); its function is named once from the object's symbol
 * table (TF's wheels keep .symtab) and the class is kept in a fixed lock-free table. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "hooks.h"

#define SITES 1024  /* call sites remembered (a power of two) */
#define PROBES 32

enum { SITE_NONE, SITE_SELECT, SITE_RAISES, SITE_PYTHON, SITE_UNKNOWN };

static struct site {
    _Atomic uintptr_t ip;
    _Atomic int cls;
} sites[SITES];

/* Functions (mangled-name fragments) where TF raises when determinism is required: the
 * seed checks of the random kernels and tf.timestamp on every device, and the GPU kernels
 * TF documents as having no deterministic implementation (any TF 2.9-2.21). A fragment
 * matches the class name inside the mangled name of the op's Compute or a template. */
static const char *const RAISING[] = {
    "GuardedPhiloxRandom4Init", /* random ops with seed = seed2 = 0 */
    "TimestampOp",
    "NonDeterministicInts",
    "SampleDistortedBoundingBox",
    "FractionalMaxPool", "FractionalAvgPool",
    "SparseTensorDenseMatMulOp",
    "BincountOp", /* Bincount, DenseBincount, SparseBincount, RaggedBincount */
    "AdjustContrastOp",
    "ResizeNearestNeighborOpGrad",
    "CropAndResizeGrad",
    "CTCLossOpGPU",
    "SegmentReductionGPUOp", "UnsortedSegmentReductionOp", "SparseSegmentGradOp",
    "SparseSegmentReduction",
    "SoftmaxXentWithLogitsOp", "SparseSoftmaxXentWithLogitsOp",
    "MaxPoolingGradGradOp", "MaxPoolingGradGradWithArgmaxOp",
    "Dilation2DBackprop",
    "ScatterNdUpdateOp", "ScatterNdOp", "TensorScatter",
    "RandomShuffle", "RandomPoisson", "RandomGamma", "Multinomial",
    NULL};

static _Atomic int python_noted;

static int classify(const char *mangled, const char *module)
{
    if (module && strstr(module, "_pywrap_determinism")) return SITE_PYTHON;
    if (mangled && (strstr(mangled, "pybind11") || strstr(mangled, "_pywrap_determinism")))
        return SITE_PYTHON;
    if (!mangled || !mangled[0]) return SITE_UNKNOWN;
    for (const char *const *r = RAISING; *r; r++)
        if (strstr(mangled, *r)) return SITE_RAISES;
    return SITE_SELECT;
}

/* The first frame outside the shim, and (when name != NULL) its function's mangled name. */
static uintptr_t caller_walk(char *name, size_t namesz)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) return 0;
    for (int i = 0; i < 16 && unw_step(&cur) > 0; i++) {
        unw_word_t ip, off;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0) return 0;
        if (ds_addr_is_self((const void *)ip)) continue;
        if (name) (void)unw_get_proc_name(&cur, name, namesz, &off);
        return (uintptr_t)ip;
    }
    return 0;
}

/* Stack walks stay apart from fork (backtrace.c's gate), as every capture in the shim. */
static uintptr_t caller(char *name, size_t namesz)
{
    if (name) name[0] = 0;
    ds_fork_gate_enter();
    uintptr_t ip = caller_walk(name, namesz);
    ds_fork_gate_leave();
    return ip;
}

static struct site *site_slot(uintptr_t ip, bool *fresh)
{
    uint64_t h = ds_hash64(&ip, sizeof ip, 0x7f);
    *fresh = false;
    for (int p = 0; p < PROBES; p++) {
        struct site *s = &sites[(h + (uint64_t)p) & (SITES - 1)];
        uintptr_t cur = atomic_load_explicit(&s->ip, memory_order_acquire);
        if (cur == ip) return s;
        if (cur == 0) {
            uintptr_t zero = 0;
            if (atomic_compare_exchange_strong(&s->ip, &zero, ip)) {
                *fresh = true;
                return s;
            }
            if (zero == ip) return s;
        }
    }
    return NULL;
}

struct site_info {
    const char *function;
    const char *module;
    int cls;
    bool tf_answer, answer;
};

static void site_extra(struct jbuf *jb, void *arg)
{
    const struct site_info *si = arg;
    jb_str(jb, "function", si->function);
    jb_str(jb, "site_class", si->cls == SITE_SELECT   ? "selects"
                             : si->cls == SITE_RAISES ? "raises"
                             : si->cls == SITE_PYTHON ? "python"
                                                      : "unknown");
    jb_bool(jb, "tf_answer", si->tf_answer);
    jb_bool(jb, "answer", si->answer);
}

static bool answer_for(int cls, bool tf_answer)
{
    if (tf_answer || ds_cfg.mode == DS_MODE_STRICT) return true;
    if (!ds_enforcing()) return false;
    return cls == SITE_SELECT;
}

static void record_site(enum ds_hook hook, uintptr_t ip, const char *mangled, int cls,
                        bool tf_answer, bool answer)
{
    char *dem = mangled[0] ? ds_demangle(mangled) : NULL;
    Dl_info di;
    const char *module = dladdr((void *)ip, &di) && di.dli_fname ? di.dli_fname : "?";
    struct site_info si = {dem ? dem : (mangled[0] ? mangled : "?"), module, cls, tf_answer,
                           answer};
    const char *detail;
    enum ds_action act = answer != tf_answer ? DS_ACT_FORCED : DS_ACT_OBSERVED;
    if (answer != tf_answer)
        detail = "TensorFlow asked whether op determinism is required: answered yes, so this "
                 "site takes its deterministic implementation";
    else if (!ds_enforcing())
        detail = "TensorFlow asked whether op determinism is required (log mode: TF's own "
                 "answer)";
    else if (tf_answer)
        detail = "TensorFlow asked whether op determinism is required: TF itself answers yes "
                 "(TF_DETERMINISTIC_OPS or enable_op_determinism)";
    else if (cls == SITE_RAISES)
        detail = "TensorFlow raises at this site when op determinism is required (no "
                 "deterministic implementation, or a missing seed): TF's own answer (no) is "
                 "kept in enforce mode; DETSHIM_MODE=strict answers yes and TF raises";
    else if (cls == SITE_PYTHON)
        detail = "TensorFlow's Python API asked (tf.config.experimental."
                 "is_op_determinism_enabled: the seed checks of random ops raise on yes): TF's "
                 "own answer is kept in enforce mode; DETSHIM_MODE=strict answers yes";
    else
        detail = "TensorFlow asked from a site the shim cannot name: TF's own answer is kept";
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, ip)) ds_event_log(&ev, detail, site_extra, &si);
    free(dem);
}

static bool query(enum ds_hook hook, bool tf_answer)
{
    char name[512];
    uintptr_t ip = caller(NULL, 0);
    bool fresh = false;
    struct site *s = ip ? site_slot(ip, &fresh) : NULL;
    int cls = s ? atomic_load_explicit(&s->cls, memory_order_acquire) : SITE_NONE;
    if (cls != SITE_NONE) return answer_for(cls, tf_answer);
    /* first time at this site (or the table is full: classified every time, no event) */
    (void)caller(name, sizeof name);
    Dl_info di;
    const char *module = dladdr((void *)ip, &di) && di.dli_fname ? di.dli_fname : NULL;
    cls = ip ? classify(name, module) : SITE_UNKNOWN;
    bool answer = answer_for(cls, tf_answer);
    if (s && fresh) {
        atomic_store_explicit(&s->cls, cls, memory_order_release);
        record_site(hook, ip, name, cls, tf_answer, answer);
        if (cls == SITE_PYTHON && ds_enforcing() && !tf_answer &&
            !atomic_exchange(&python_noted, 1))
            ds_notice("tf", false,
                      "tf.config.experimental.is_op_determinism_enabled() answers as TF itself "
                      "in enforce mode (its callers are the random-seed checks, which raise); "
                      "native kernels get the deterministic answer");
    }
    return answer;
}

bool ds_policy__ZN3tsl21OpDeterminismRequiredEv(void)
{
    return query(DS_HOOK__ZN3tsl21OpDeterminismRequiredEv,
                 DS_REAL(_ZN3tsl21OpDeterminismRequiredEv)());
}

bool ds_policy__ZN10tensorflow21OpDeterminismRequiredEv(void)
{
    return query(DS_HOOK__ZN10tensorflow21OpDeterminismRequiredEv,
                 DS_REAL(_ZN10tensorflow21OpDeterminismRequiredEv)());
}

/* The program's own switch passes through (TF then answers as the program asked, and the
 * query above still answers yes where it forces); switching it off is recorded. */
static void enable(enum ds_hook hook, void (*real)(bool), bool enabled)
{
    real(enabled);
    if (enabled) return;
    uint64_t key = 0x0ffU;
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, ds_enforcing() ? DS_ACT_FORCED : DS_ACT_OBSERVED, key))
        ds_event_log(&ev,
                     ds_enforcing()
                         ? "the program switched TF's op determinism off "
                           "(disable_op_determinism): the shim still answers yes where it "
                           "forces determinism"
                         : "the program switched TF's op determinism off "
                           "(disable_op_determinism)",
                     NULL, NULL);
}

void ds_policy__ZN3tsl19EnableOpDeterminismEb(bool enabled)
{
    enable(DS_HOOK__ZN3tsl19EnableOpDeterminismEb, DS_REAL(_ZN3tsl19EnableOpDeterminismEb),
           enabled);
}

void ds_policy__ZN10tensorflow19EnableOpDeterminismEb(bool enabled)
{
    enable(DS_HOOK__ZN10tensorflow19EnableOpDeterminismEb,
           DS_REAL(_ZN10tensorflow19EnableOpDeterminismEb), enabled);
}
