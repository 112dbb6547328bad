/* cublas_modes.c: the cuBLAS layer at cublasSetAtomicsMode (ALLOWED forced to NOT_ALLOWED
 * in enforce and strict) and cublasSetMathMode (reduced-precision modes recorded, every mode
 * forced to CUBLAS_PEDANTIC_MATH with DETSHIM_PEDANTIC_MATH=1). */
#include "cublas_layer.h"

/* ---- cublasSetAtomicsMode ------------------------------------------------------------- */
cublasStatus_t ds_policy_cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode)
{
    struct hstate *h = cb_hfind(handle);
    if (mode == CUBLAS_ATOMICS_NOT_ALLOWED) {
        cublasStatus_t st = DS_REAL(cublasSetAtomicsMode)(handle, mode);
        if (st == CUBLAS_STATUS_SUCCESS && h) atomic_store(&h->atomics, (int)mode);
        return st;
    }
    bool force = ds_enforcing();
    cublasAtomicsMode_t use = force ? CUBLAS_ATOMICS_NOT_ALLOWED : mode;
    cublasStatus_t st = DS_REAL(cublasSetAtomicsMode)(handle, use);
    if (st == CUBLAS_STATUS_SUCCESS && h) atomic_store(&h->atomics, (int)use);
    if (force && st != CUBLAS_STATUS_SUCCESS) return st; /* nothing was forced: the caller sees the failure */
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasSetAtomicsMode, force ? DS_ACT_FORCED : DS_ACT_OBSERVED, 0)) {
        char detail[320];
        if (force)
            snprintf(detail, sizeof detail,
                     "cublasSetAtomicsMode(%d = CUBLAS_ATOMICS_ALLOWED) on handle %p forced to "
                     "CUBLAS_ATOMICS_NOT_ALLOWED: atomics implementations (symv, hemv) are not "
                     "reproducible run to run", (int)mode, (void *)handle);
        else
            snprintf(detail, sizeof detail,
                     "cublasSetAtomicsMode(%d = CUBLAS_ATOMICS_ALLOWED) on handle %p: routines with "
                     "an atomics implementation (symv, hemv) may differ run to run", (int)mode,
                     (void *)handle);
        struct ws_info info = {.handle = handle};
        ds_event_log(&ev, detail, cb_handle_extra, &info);
    }
    return st;
}

/* ---- cublasSetMathMode ---------------------------------------------------------------- */
static const char *math_base_name(unsigned base)
{
    switch (base) {
    case CUBLAS_DEFAULT_MATH: return "CUBLAS_DEFAULT_MATH";
    case CUBLAS_TENSOR_OP_MATH: return "CUBLAS_TENSOR_OP_MATH";
    case CUBLAS_PEDANTIC_MATH: return "CUBLAS_PEDANTIC_MATH";
    case CUBLAS_TF32_TENSOR_OP_MATH: return "CUBLAS_TF32_TENSOR_OP_MATH";
    case CUBLAS_FP32_EMULATED_BF16X9_MATH: return "CUBLAS_FP32_EMULATED_BF16X9_MATH";
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH: return "CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH";
    default: return NULL;
    }
}

static const char *math_base_why(unsigned base)
{
    switch (base) {
    case CUBLAS_DEFAULT_MATH: return "";
    case CUBLAS_TENSOR_OP_MATH: return "; half-precision tensor cores may be used for single precision";
    case CUBLAS_TF32_TENSOR_OP_MATH: return "; single-precision routines may use TF32 tensor cores";
    case CUBLAS_FP32_EMULATED_BF16X9_MATH: return "; single precision may be emulated with BF16x9";
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH: return "; double precision may be emulated in fixed point";
    default: return "; an unknown math mode";
    }
}

struct math_info {
    cublasHandle_t handle;
    unsigned mode, forced_to;
    bool forced;
};

static void math_extra(struct jbuf *jb, void *arg)
{
    const struct math_info *m = arg;
    cb_hexp(jb, "handle", m->handle);
    jb_uint(jb, "math_mode", m->mode);
    char name[128];
    const char *b = math_base_name(m->mode & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
    snprintf(name, sizeof name, "%s%s", b ? b : "unknown",
             m->mode & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                 ? "|CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION" : "");
    jb_str(jb, "math_mode_name", name);
    if (m->forced) jb_uint(jb, "forced_to", m->forced_to);
}

/* Once per handle and mode: PyTorch sets the math mode before every matmul. */
static bool math_first(struct hstate *h, unsigned mode)
{
    if (!h) return true;
    uint32_t bit = 1u << (mode < 31 ? mode : 31);
    return !(atomic_fetch_or_explicit(&h->math_said, bit, memory_order_relaxed) & bit);
}

cublasStatus_t ds_policy_cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    cb_cfg_get();
    unsigned m = (unsigned)mode;
    unsigned base = m & ~(unsigned)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    struct math_info info = {.handle = handle, .mode = m};
    struct ds_event ev;
    if (ds_enforcing() && cb_cfg.pedantic && base != CUBLAS_PEDANTIC_MATH) {
        cublasStatus_t st = DS_REAL(cublasSetMathMode)(handle, CUBLAS_PEDANTIC_MATH);
        if (st == CUBLAS_STATUS_SUCCESS && math_first(cb_hfind(handle), m) &&
            ds_event_capture(&ev, DS_HOOK_cublasSetMathMode, DS_ACT_FORCED, m)) {
            char detail[320];
            const char *b = math_base_name(base);
            snprintf(detail, sizeof detail,
                     "cublasSetMathMode(%u%s%s) on handle %p forced to CUBLAS_PEDANTIC_MATH "
                     "(DETSHIM_PEDANTIC_MATH=1)", m, b ? " = " : "", b ? b : "", (void *)handle);
            info.forced = true;
            info.forced_to = CUBLAS_PEDANTIC_MATH;
            ds_event_log(&ev, detail, math_extra, &info);
        }
        return st;
    }
    cublasStatus_t st = DS_REAL(cublasSetMathMode)(handle, mode);
    bool reduced = base != CUBLAS_PEDANTIC_MATH &&
                   !(base == CUBLAS_DEFAULT_MATH && (m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    if (reduced && math_first(cb_hfind(handle), m) &&
        ds_event_capture(&ev, DS_HOOK_cublasSetMathMode, DS_ACT_OBSERVED, m)) {
        char detail[384];
        const char *b = math_base_name(base);
        snprintf(detail, sizeof detail,
                 "cuBLAS handle %p set to math mode %u (%s%s)%s%s: results can differ between GPU "
                 "models (DETSHIM_PEDANTIC_MATH=1 forces CUBLAS_PEDANTIC_MATH)", (void *)handle, m,
                 b ? b : "unknown",
                 m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                     ? "|CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION" : "",
                 math_base_why(base),
                 m & CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION
                     ? "" : "; reduced-precision reductions allowed (no "
                            "CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)");
        ds_event_log(&ev, detail, math_extra, &info);
    }
    return st;
}

/* ---- cuBLAS 13's emulation controls ---------------------------------------------------- */
/* Emulated arithmetic (BF16x9 for FP32, fixed point for FP64) is deterministic run to run but
 * its results differ from native arithmetic and may differ between GPU models and cuBLAS
 * versions: recorded (observed) like a reduced-precision math mode, once per handle and
 * setter, never changed. */
struct emu_info {
    cublasHandle_t handle;
    const char *setting;
    long long value;
};

static void emu_extra(struct jbuf *jb, void *arg)
{
    const struct emu_info *e = arg;
    cb_hexp(jb, "handle", e->handle);
    jb_str(jb, "emulation_setting", e->setting);
    jb_int(jb, "value", e->value);
}

static void emu_record(enum ds_hook hook, cublasHandle_t handle, unsigned bit, const char *setting,
                       long long value, cublasStatus_t st)
{
    if (st != CUBLAS_STATUS_SUCCESS) return; /* nothing changed */
    if (bit == 0 && value == CUBLAS_EMULATION_STRATEGY_DEFAULT) return;
    struct hstate *h = cb_hfind(handle);
    if (h && (atomic_fetch_or_explicit(&h->emu_said, 1u << bit, memory_order_relaxed) & (1u << bit))) return;
    struct ds_event ev;
    if (!ds_event_capture(&ev, hook, DS_ACT_OBSERVED, (uint64_t)value)) return;
    char detail[320];
    snprintf(detail, sizeof detail,
             "cuBLAS handle %p: %s set to %lld: emulated arithmetic is reproducible run to run, but its "
             "results differ from native arithmetic and may differ between GPU models and cuBLAS "
             "versions", (void *)handle, setting, value);
    struct emu_info info = {handle, setting, value};
    ds_event_log(&ev, detail, emu_extra, &info);
}

#define EMU_SETTER(bit, name, type, param, setting)                                              \
    cublasStatus_t ds_policy_##name(cublasHandle_t handle, type param)                           \
    {                                                                                            \
        cublasStatus_t st = DS_REAL(name)(handle, param);                                        \
        emu_record(DS_HOOK_##name, handle, bit, setting, (long long)(intptr_t)param, st);        \
        return st;                                                                               \
    }
EMU_SETTER(0, cublasSetEmulationStrategy, cublasEmulationStrategy_t, emulationStrategy,
           "emulation strategy")
EMU_SETTER(1, cublasSetEmulationSpecialValuesSupport, cudaEmulationSpecialValuesSupport, mask,
           "emulation special values support")
EMU_SETTER(2, cublasSetFixedPointEmulationMantissaControl, cudaEmulationMantissaControl,
           mantissaControl, "fixed-point emulation mantissa control")
EMU_SETTER(3, cublasSetFixedPointEmulationMaxMantissaBitCount, int, maxMantissaBitCount,
           "fixed-point emulation max mantissa bit count")
EMU_SETTER(4, cublasSetFixedPointEmulationMantissaBitOffset, int, mantissaBitOffset,
           "fixed-point emulation mantissa bit offset")
EMU_SETTER(5, cublasSetFixedPointEmulationMantissaBitCountPointer, int *, mantissaBitCount,
           "fixed-point emulation mantissa bit count pointer")
