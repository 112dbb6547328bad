/* layer_kernels_drv.c: kernel launches through the CUDA driver, and the driver entry
 * points handed out by name.
 *
 * cuLaunchKernel and friends are hooked by name. Code that asks for them with
 * cuGetProcAddress[_v2] (or through the runtime's cudaGetDriverEntryPoint[ByVersion])
 * gets the real function's pointer, which no symbol hook sees: such a pointer comes back
 * as a trampoline that calls exactly that pointer, after the same check as the hooks.
 * Trampolines are a fixed pool of small functions per signature (each reads its target
 * from its own slot); nothing is generated at run time. A request for cuGetProcAddress
 * itself comes back wrapped too, so later lookups through it are seen. Other names
 * pass through untouched. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "hooks.h"
#include "launch.h"

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void **, void **);
typedef CUresult (*launch_ex_fn)(const CUlaunchConfig *, CUfunction, void **, void **);
typedef CUresult (*launch_coop_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                   unsigned, unsigned, CUstream, void **);
typedef CUresult (*graph_fn)(CUgraphExec, CUstream);
typedef CUresult (*multi_fn)(CUDA_LAUNCH_PARAMS *, unsigned, unsigned);
typedef CUresult (*unload_fn)(void *); /* cuModuleUnload, cuLibraryUnload */
typedef CUresult (*gpa1_fn)(const char *, void **, int, cuuint64_t);
typedef CUresult (*gpa2_fn)(const char *, void **, int, cuuint64_t,
                            CUdriverProcAddressQueryResult *);

/* ---- the check every driver launch makes ------------------------------------------------ */
static bool drv_check(const struct ds_kinfo *k, enum ds_hook hook, enum ds_hook via, unsigned gx,
                      unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz)
{
    struct ds_klaunch l = {
        .hook = hook, .via = via, .has_dims = true,
        .grid = {gx, gy, gz}, .block = {bx, by, bz},
        .refusal = "CUDA_ERROR_NOT_PERMITTED",
    };
    return ds_kernel_flagged_launch(k, &l);
}

#define DRV_GATE(hook, via, f, gx, gy, gz, bx, by, bz)                                    \
    do {                                                                                  \
        const struct ds_kinfo *k_ = ds_kernel_lookup(DS_KK_DRV, (const void *)(f));      \
        if (DS_UNLIKELY(k_->flagged) &&                                                   \
            drv_check(k_, (hook), (via), (gx), (gy), (gz), (bx), (by), (bz)))             \
            return CUDA_ERROR_NOT_PERMITTED;                                              \
    } while (0)

/* A watch (hash mode) around the launch; none, one load and a branch. */
static void drv_watched(struct ds_kwatched *w, enum ds_hook hook, CUfunction f, unsigned gx,
                        unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream s, void **params, void **extra)
{
    bool ptsz = hook == DS_HOOK_cuLaunchKernel_ptsz || hook == DS_HOOK_cuLaunchKernelEx_ptsz ||
                hook == DS_HOOK_cuLaunchCooperativeKernel_ptsz;
    *w = (struct ds_kwatched){.hook = hook, .kind = DS_KK_DRV, .fn = (const void *)f,
                              .name = ds_kernel_name(DS_KK_DRV, (const void *)f),
                              .params = params, .extra = extra, .stream = (void *)s,
                              .ptsz = ptsz, .grid = {gx, gy, gz}, .block = {bx, by, bz},
                              .smem = smem};
}
#define DRV_LAUNCH(call, ...)                             \
    do {                                                  \
        const struct ds_kwatch *w_ = ds_kwatch_now();     \
        if (DS_LIKELY(w_ == NULL)) return call;           \
        struct ds_kwatched v_;                            \
        drv_watched(&v_, __VA_ARGS__);                    \
        void *ws_ = w_->pre(&v_);                         \
        CUresult st_ = call;                              \
        w_->post(ws_, (int)st_);                          \
        return st_;                                       \
    } while (0)

static inline __attribute__((always_inline)) CUresult launch(enum ds_hook hook, enum ds_hook via, launch_fn real, CUfunction f,
                       unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned smem, CUstream s, void **params, void **extra)
{
    DRV_GATE(hook, via, f, gx, gy, gz, bx, by, bz);
    DRV_LAUNCH(real(f, gx, gy, gz, bx, by, bz, smem, s, params, extra), hook, f, gx, gy, gz, bx,
               by, bz, smem, s, params, extra);
}

static inline __attribute__((always_inline)) CUresult launch_ex(enum ds_hook hook, enum ds_hook via, launch_ex_fn real,
                          const CUlaunchConfig *c, CUfunction f, void **params, void **extra)
{
    if (c)
        DRV_GATE(hook, via, f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY,
                 c->blockDimZ);
    else
        DRV_GATE(hook, via, f, 0, 0, 0, 0, 0, 0);
    if (!c) return real(c, f, params, extra);
    DRV_LAUNCH(real(c, f, params, extra), hook, f, c->gridDimX, c->gridDimY, c->gridDimZ,
               c->blockDimX, c->blockDimY, c->blockDimZ, c->sharedMemBytes, c->hStream, params,
               extra);
}

static inline __attribute__((always_inline)) CUresult launch_coop(enum ds_hook hook, enum ds_hook via, launch_coop_fn real,
                            CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                            unsigned by, unsigned bz, unsigned smem, CUstream s, void **params)
{
    DRV_GATE(hook, via, f, gx, gy, gz, bx, by, bz);
    DRV_LAUNCH(real(f, gx, gy, gz, bx, by, bz, smem, s, params), hook, f, gx, gy, gz, bx, by, bz,
               smem, s, params, NULL);
}

/* cuLaunchCooperativeKernelMultiDevice (deprecated, still exported by CUDA 13's libcuda):
 * every kernel of the list is checked and recorded; in strict mode one flagged kernel
 * refuses the whole launch (it is one launch across the devices). Not watched by hash mode. */
static CUresult launch_multi(enum ds_hook hook, enum ds_hook via, multi_fn real,
                             CUDA_LAUNCH_PARAMS *list, unsigned n, unsigned flags)
{
    bool refuse = false;
    for (unsigned i = 0; list && i < n; i++) {
        const CUDA_LAUNCH_PARAMS *p = &list[i];
        const struct ds_kinfo *k = ds_kernel_lookup(DS_KK_DRV, (const void *)p->function);
        if (DS_UNLIKELY(k->flagged) && drv_check(k, hook, via, p->gridDimX, p->gridDimY,
                                                  p->gridDimZ, p->blockDimX, p->blockDimY,
                                                  p->blockDimZ))
            refuse = true;
    }
    if (refuse) return CUDA_ERROR_NOT_PERMITTED;
    return real(list, n, flags);
}

/* ---- the hooked symbols ------------------------------------------------------------------ */
#define NOVIA DS_HOOK_COUNT

CUresult ds_policy_cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                  unsigned int bx, unsigned int by, unsigned int bz,
                                  unsigned int smem, CUstream s, void **params, void **extra)
{
    return launch(DS_HOOK_cuLaunchKernel, NOVIA, DS_REAL(cuLaunchKernel), f, gx, gy, gz, bx, by,
                  bz, smem, s, params, extra);
}

CUresult ds_policy_cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                       unsigned int gz, unsigned int bx, unsigned int by,
                                       unsigned int bz, unsigned int smem, CUstream s,
                                       void **params, void **extra)
{
    return launch(DS_HOOK_cuLaunchKernel_ptsz, NOVIA, DS_REAL(cuLaunchKernel_ptsz), f, gx, gy, gz,
                  bx, by, bz, smem, s, params, extra);
}

CUresult ds_policy_cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params,
                                    void **extra)
{
    return launch_ex(DS_HOOK_cuLaunchKernelEx, NOVIA, DS_REAL(cuLaunchKernelEx), config, f, params,
                     extra);
}

CUresult ds_policy_cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                         void **params, void **extra)
{
    return launch_ex(DS_HOOK_cuLaunchKernelEx_ptsz, NOVIA, DS_REAL(cuLaunchKernelEx_ptsz), config,
                     f, params, extra);
}

CUresult ds_policy_cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                             unsigned int gz, unsigned int bx, unsigned int by,
                                             unsigned int bz, unsigned int smem, CUstream s,
                                             void **params)
{
    return launch_coop(DS_HOOK_cuLaunchCooperativeKernel, NOVIA, DS_REAL(cuLaunchCooperativeKernel),
                       f, gx, gy, gz, bx, by, bz, smem, s, params);
}

CUresult ds_policy_cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                  unsigned int gz, unsigned int bx,
                                                  unsigned int by, unsigned int bz,
                                                  unsigned int smem, CUstream s, void **params)
{
    return launch_coop(DS_HOOK_cuLaunchCooperativeKernel_ptsz, NOVIA,
                       DS_REAL(cuLaunchCooperativeKernel_ptsz), f, gx, gy, gz, bx, by, bz, smem, s,
                       params);
}

/* Graph replays are counted; their kernels were checked when the graph was captured. */
CUresult ds_policy_cuGraphLaunch(CUgraphExec g, CUstream s)
{
    return DS_REAL(cuGraphLaunch)(g, s);
}

CUresult ds_policy_cuGraphLaunch_ptsz(CUgraphExec g, CUstream s)
{
    return DS_REAL(cuGraphLaunch_ptsz)(g, s);
}

CUresult ds_policy_cuLaunchCooperativeKernelMultiDevice(CUDA_LAUNCH_PARAMS *launchParamsList,
                                                        unsigned int numDevices,
                                                        unsigned int flags)
{
    return launch_multi(DS_HOOK_cuLaunchCooperativeKernelMultiDevice, NOVIA,
                        DS_REAL(cuLaunchCooperativeKernelMultiDevice), launchParamsList,
                        numDevices, flags);
}

/* Unloads: the kernels' addresses may be reused by kernels loaded later, so every cached
 * verdict is dropped once the driver has freed them (ds_kernels_forget). */
CUresult ds_policy_cuModuleUnload(CUmodule hmod)
{
    CUresult st = DS_REAL(cuModuleUnload)(hmod);
    if (st == CUDA_SUCCESS) ds_kernels_forget();
    return st;
}

CUresult ds_policy_cuLibraryUnload(CUlibrary library)
{
    CUresult st = DS_REAL(cuLibraryUnload)(library);
    if (st == CUDA_SUCCESS) ds_kernels_forget();
    return st;
}

CUresult ds_policy_cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    CUresult st = DS_REAL(cuModuleGetFunction)(hfunc, hmod, name);
    if (st == CUDA_SUCCESS && hfunc && *hfunc && !ds_knaming_drv_native())
        ds_kname_put(*hfunc, name);
    return st;
}

CUresult ds_policy_cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                    cuuint64_t flags)
{
    CUresult st = DS_REAL(cuGetProcAddress)(symbol, pfn, cudaVersion, flags);
    if (st == CUDA_SUCCESS && pfn && *pfn)
        *pfn = ds_kernels_wrap_entry(symbol, *pfn,
                                     (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0,
                                     DS_HOOK_cuGetProcAddress);
    return st;
}

CUresult ds_policy_cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                       cuuint64_t flags, CUdriverProcAddressQueryResult *status)
{
    CUresult st = DS_REAL(cuGetProcAddress_v2)(symbol, pfn, cudaVersion, flags, status);
    if (st == CUDA_SUCCESS && pfn && *pfn)
        *pfn = ds_kernels_wrap_entry(symbol, *pfn,
                                     (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0,
                                     DS_HOOK_cuGetProcAddress_v2);
    return st;
}

/* ---- trampolines ------------------------------------------------------------------------- */
enum tkind { TK_LAUNCH, TK_EX, TK_COOP, TK_GRAPH, TK_GPA1, TK_GPA2, TK_MULTI, TK_UNLOAD, TK_COUNT };

#define TSLOTS 32 /* per kind: (pointer, variant, getter) combinations */
static struct tslot pools[TK_COUNT][TSLOTS];
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
/* a fork child has only the forking thread: a lock another thread held is free again */
void ds_kernels_drv_atfork_child(void) { pthread_mutex_init(&pool_mu, NULL); }

/* Entering a trampoline: the same guard as a generated wrapper. */
#define TRAMP_ENTER(s, fn_t, real)                                                   \
    fn_t real = (fn_t)atomic_load_explicit(&(s)->target, memory_order_acquire);      \
    bool direct_ = ds_in_shim() || !ds_layer_active(DS_LAYER_KERNELS);              \
    if (!direct_) ds_enter((s)->hook)
#define TRAMP_LEAVE() \
    if (!direct_) ds_leave()



static CUresult t_launch(struct tslot *s, launch_fn real, CUfunction f, unsigned gx, unsigned gy,
                         unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem,
                         CUstream st, void **params, void **extra)
{
    ds_enter(s->hook); /* the call is counted here when the check said no */
    CUresult r = launch(s->hook, s->via, real, f, gx, gy, gz, bx, by, bz, smem, st, params, extra);
    ds_leave();
    return r;
}

static CUresult t_ex(struct tslot *s, launch_ex_fn real, const CUlaunchConfig *c, CUfunction f,
                     void **params, void **extra)
{
    ds_enter(s->hook); /* the call is counted here when the check said no */
    CUresult r = launch_ex(s->hook, s->via, real, c, f, params, extra);
    ds_leave();
    return r;
}

static CUresult t_coop(struct tslot *s, launch_coop_fn real, CUfunction f, unsigned gx,
                       unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned smem, CUstream st, void **params)
{
    ds_enter(s->hook); /* the call is counted here when the check said no */
    CUresult r = launch_coop(s->hook, s->via, real, f, gx, gy, gz, bx, by, bz, smem, st, params);
    ds_leave();
    return r;
}

static CUresult t_multi(struct tslot *s, CUDA_LAUNCH_PARAMS *list, unsigned n, unsigned flags)
{
    TRAMP_ENTER(s, multi_fn, real);
    CUresult r = direct_ ? real(list, n, flags) : launch_multi(s->hook, s->via, real, list, n, flags);
    TRAMP_LEAVE();
    return r;
}

static CUresult t_unload(struct tslot *s, void *handle)
{
    TRAMP_ENTER(s, unload_fn, real);
    CUresult r = real(handle);
    if (r == CUDA_SUCCESS) ds_kernels_forget(); /* whatever the layer's state: a cache fact */
    TRAMP_LEAVE();
    return r;
}

static CUresult t_graph(struct tslot *s, CUgraphExec g, CUstream st)
{
    TRAMP_ENTER(s, graph_fn, real);
    CUresult r = real(g, st);
    TRAMP_LEAVE();
    return r;
}

static CUresult t_gpa1(struct tslot *s, const char *symbol, void **pfn, int ver, cuuint64_t flags)
{
    TRAMP_ENTER(s, gpa1_fn, real);
    CUresult r = real(symbol, pfn, ver, flags);
    if (!direct_ && r == CUDA_SUCCESS && pfn && *pfn)
        *pfn = ds_kernels_wrap_entry(symbol, *pfn,
                                     (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0,
                                     s->hook);
    TRAMP_LEAVE();
    return r;
}

static CUresult t_gpa2(struct tslot *s, const char *symbol, void **pfn, int ver, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status)
{
    TRAMP_ENTER(s, gpa2_fn, real);
    CUresult r = real(symbol, pfn, ver, flags, status);
    if (!direct_ && r == CUDA_SUCCESS && pfn && *pfn)
        *pfn = ds_kernels_wrap_entry(symbol, *pfn,
                                     (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0,
                                     s->hook);
    TRAMP_LEAVE();
    return r;
}

/* One small function per slot and kind. A launch trampoline (tl_, te_, tc_) checks and
 * then calls its target, or its slow half (tls_, tes_, tcs_: the check said no). */
#define TR_SLOW(i)                                                                           \
    static CUresult tls_##i(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, \
                            unsigned by, unsigned bz, unsigned smem, CUstream st, void **p,  \
                            void **e)                                                        \
    {                                                                                        \
        struct tslot *s = &pools[TK_LAUNCH][i];                                              \
        launch_fn real = (launch_fn)atomic_load_explicit(&s->target, memory_order_acquire);  \
        return t_launch(s, real, f, gx, gy, gz, bx, by, bz, smem, st, p, e);                 \
    }                                                                                        \
    static CUresult tes_##i(const CUlaunchConfig *c, CUfunction f, void **p, void **e)      \
    {                                                                                        \
        struct tslot *s = &pools[TK_EX][i];                                                  \
        launch_ex_fn real = (launch_ex_fn)atomic_load_explicit(&s->target, memory_order_acquire); \
        return t_ex(s, real, c, f, p, e);                                                    \
    }                                                                                        \
    static CUresult tcs_##i(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, \
                            unsigned by, unsigned bz, unsigned smem, CUstream st, void **p)  \
    {                                                                                        \
        struct tslot *s = &pools[TK_COOP][i];                                                \
        launch_coop_fn real =                                                                \
            (launch_coop_fn)atomic_load_explicit(&s->target, memory_order_acquire);          \
        return t_coop(s, real, f, gx, gy, gz, bx, by, bz, smem, st, p);                      \
    }
#ifdef DS_ASM_FRONTS
/* The launch trampolines are assembly fronts (fronts_x86_64.S): ds_tl_<i>, ds_te_<i> and
 * ds_tc_<i> ask ds_tgate (gates.c) with ds_tdescs[kind][i] and jump, arguments untouched, to
 * the target or to the slow half. The assembly lays the descriptors out as 16 bytes each, 32
 * per kind. */
_Static_assert(sizeof(struct ds_tdesc) == 16 && TSLOTS == 32 && TK_LAUNCH == 0 && TK_EX == 1 &&
                   TK_COOP == 2, "fronts_x86_64.S knows this layout");
#define TR_LAUNCHERS(i)                                                                      \
    __attribute__((visibility("hidden"))) void ds_tl_##i(void);                             \
    __attribute__((visibility("hidden"))) void ds_te_##i(void);                             \
    __attribute__((visibility("hidden"))) void ds_tc_##i(void);
#define TR_LAUNCH_ADDR(i) (void *)ds_tl_##i, (void *)ds_te_##i, (void *)ds_tc_##i
#else
/* The C fronts' check (the assembly fronts ask hooks/gates.c): true means call the target
 * straight away (the shim is on the stack, the layer is off, or the kernel is clean and no
 * watch is active; counted in the last case). */
static inline bool tramp_direct(const struct tslot *s, uintptr_t f)
{
    if (ds_in_shim() || !ds_layer_active(DS_LAYER_KERNELS)) return true;
    if (DS_LIKELY(ds_log_is_settled() && ds_kernel_known_clean(DS_KK_DRV, f) &&
                  ds_kwatch_now() == NULL)) {
        ds_count_only(s->hook);
        return true;
    }
    return false;
}
#define TR_LAUNCHERS(i)                                                                      \
    static CUresult tl_##i(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, \
                           unsigned by, unsigned bz, unsigned smem, CUstream st, void **p,   \
                           void **e)                                                         \
    {                                                                                        \
        struct tslot *s = &pools[TK_LAUNCH][i];                                              \
        launch_fn real = (launch_fn)atomic_load_explicit(&s->target, memory_order_acquire);  \
        if (DS_LIKELY(tramp_direct(s, (uintptr_t)f)))                                     \
            return real(f, gx, gy, gz, bx, by, bz, smem, st, p, e);                          \
        return tls_##i(f, gx, gy, gz, bx, by, bz, smem, st, p, e);                           \
    }                                                                                        \
    static CUresult te_##i(const CUlaunchConfig *c, CUfunction f, void **p, void **e)       \
    {                                                                                        \
        struct tslot *s = &pools[TK_EX][i];                                                  \
        launch_ex_fn real = (launch_ex_fn)atomic_load_explicit(&s->target, memory_order_acquire); \
        if (DS_LIKELY(tramp_direct(s, (uintptr_t)f))) return real(c, f, p, e);            \
        return tes_##i(c, f, p, e);                                                          \
    }                                                                                        \
    static CUresult tc_##i(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, \
                           unsigned by, unsigned bz, unsigned smem, CUstream st, void **p)   \
    {                                                                                        \
        struct tslot *s = &pools[TK_COOP][i];                                                \
        launch_coop_fn real =                                                                \
            (launch_coop_fn)atomic_load_explicit(&s->target, memory_order_acquire);          \
        if (DS_LIKELY(tramp_direct(s, (uintptr_t)f)))                                     \
            return real(f, gx, gy, gz, bx, by, bz, smem, st, p);                             \
        return tcs_##i(f, gx, gy, gz, bx, by, bz, smem, st, p);                              \
    }
#define TR_LAUNCH_ADDR(i) (void *)tl_##i, (void *)te_##i, (void *)tc_##i
#endif
#define TR_DEFS(i)                                                                           \
    TR_SLOW(i)                                                                               \
    TR_LAUNCHERS(i)                                                                          \
    static CUresult tg_##i(CUgraphExec g, CUstream st)                                      \
    {                                                                                        \
        return t_graph(&pools[TK_GRAPH][i], g, st);                                          \
    }                                                                                        \
    static CUresult t1_##i(const char *sym, void **pfn, int v, cuuint64_t fl)               \
    {                                                                                        \
        return t_gpa1(&pools[TK_GPA1][i], sym, pfn, v, fl);                                  \
    }                                                                                        \
    static CUresult t2_##i(const char *sym, void **pfn, int v, cuuint64_t fl,               \
                           CUdriverProcAddressQueryResult *q)                                \
    {                                                                                        \
        return t_gpa2(&pools[TK_GPA2][i], sym, pfn, v, fl, q);                               \
    }                                                                                        \
    static CUresult tm_##i(CUDA_LAUNCH_PARAMS *l, unsigned n, unsigned fl)                  \
    {                                                                                        \
        return t_multi(&pools[TK_MULTI][i], l, n, fl);                                       \
    }                                                                                        \
    static CUresult tu_##i(void *h)                                                          \
    {                                                                                        \
        return t_unload(&pools[TK_UNLOAD][i], h);                                            \
    }
#define TR_ALL(M)                                                                  \
    M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15) \
    M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27) M(28) M(29)   \
    M(30) M(31)
TR_ALL(TR_DEFS)

#define TR_ROW(i) \
    {TR_LAUNCH_ADDR(i), (void *)tg_##i, (void *)t1_##i, (void *)t2_##i, (void *)tm_##i, (void *)tu_##i},
static void *const tramps[TSLOTS][TK_COUNT] = {TR_ALL(TR_ROW)};
#ifdef DS_ASM_FRONTS
#define TR_DESC_L(i) {&pools[TK_LAUNCH][i], (void *)tls_##i},
#define TR_DESC_E(i) {&pools[TK_EX][i], (void *)tes_##i},
#define TR_DESC_C(i) {&pools[TK_COOP][i], (void *)tcs_##i},
const struct ds_tdesc ds_tdescs[3][TSLOTS] = {{TR_ALL(TR_DESC_L)}, {TR_ALL(TR_DESC_E)},
                                              {TR_ALL(TR_DESC_C)}};
#endif
#undef TR_ROW
#undef TR_DEFS

/* ---- handing out trampolines ------------------------------------------------------------- */
static const struct {
    const char *name;
    enum tkind kind;
    enum ds_hook legacy, ptsz;
} launchers[] = {
    {"cuLaunchKernel", TK_LAUNCH, DS_HOOK_cuLaunchKernel, DS_HOOK_cuLaunchKernel_ptsz},
    {"cuLaunchKernelEx", TK_EX, DS_HOOK_cuLaunchKernelEx, DS_HOOK_cuLaunchKernelEx_ptsz},
    {"cuLaunchCooperativeKernel", TK_COOP, DS_HOOK_cuLaunchCooperativeKernel,
     DS_HOOK_cuLaunchCooperativeKernel_ptsz},
    {"cuGraphLaunch", TK_GRAPH, DS_HOOK_cuGraphLaunch, DS_HOOK_cuGraphLaunch_ptsz},
    /* no per-thread variants: the same hook either way */
    {"cuLaunchCooperativeKernelMultiDevice", TK_MULTI, DS_HOOK_cuLaunchCooperativeKernelMultiDevice,
     DS_HOOK_cuLaunchCooperativeKernelMultiDevice},
    {"cuModuleUnload", TK_UNLOAD, DS_HOOK_cuModuleUnload, DS_HOOK_cuModuleUnload},
    {"cuLibraryUnload", TK_UNLOAD, DS_HOOK_cuLibraryUnload, DS_HOOK_cuLibraryUnload},
};

static _Atomic int pool_full_said, gpa_unknown_said;

static void *tramp_for(enum tkind kind, void *target, enum ds_hook hook, enum ds_hook via)
{
    void *r = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < TSLOTS && !r; i++) {
        struct tslot *s = &pools[kind][i];
        void *t = atomic_load_explicit(&s->target, memory_order_relaxed);
        if (t == target && s->hook == hook && s->via == via) {
            r = tramps[i][kind];
        } else if (!t) {
            s->hook = hook;
            s->via = via;
            atomic_store_explicit(&s->target, target, memory_order_release);
            r = tramps[i][kind];
        }
    }
    pthread_mutex_unlock(&pool_mu);
    if (!r) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&pool_full_said, &expected, 1))
            ds_notice("kernels", true,
                      "more than %d distinct %s pointers handed out: further ones are returned "
                      "unwrapped, and launches through them are not seen",
                      TSLOTS, ds_hooks[hook].name);
    }
    return r;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void *ds_kernels_wrap_entry(const char *symbol, void *fn, bool per_thread, enum ds_hook via)
{
    if (!symbol || !fn || ds_addr_is_self(fn)) return fn;
    char base[64];
    size_t n = strlen(symbol);
    if (n >= sizeof base || strncmp(symbol, "cu", 2) != 0) return fn;
    memcpy(base, symbol, n + 1);
    if (ends_with(base, "_ptsz")) {
        base[n - 5] = 0;
        per_thread = true;
    }
    /* what the pointer is, when it is an exported symbol */
    Dl_info di;
    const char *sname = dladdr(fn, &di) && di.dli_sname && di.dli_saddr == fn ? di.dli_sname : NULL;
    for (size_t i = 0; i < sizeof launchers / sizeof *launchers; i++) {
        if (strcmp(base, launchers[i].name) != 0) continue;
        bool pt = per_thread || (sname && ends_with(sname, "_ptsz"));
        void *t = tramp_for(launchers[i].kind, fn, pt ? launchers[i].ptsz : launchers[i].legacy, via);
        return t ? t : fn;
    }
    if (strcmp(base, "cuGetProcAddress") == 0 || strcmp(base, "cuGetProcAddress_v2") == 0) {
        /* the self-query: the signature is that of the function returned, which only the
         * pointer can tell */
        enum tkind k;
        if (sname && strcmp(sname, "cuGetProcAddress_v2") == 0)
            k = TK_GPA2;
        else if (sname && strcmp(sname, "cuGetProcAddress") == 0)
            k = TK_GPA1;
        else if (fn == ds_real(DS_HOOK_cuGetProcAddress_v2))
            k = TK_GPA2;
        else if (fn == ds_real(DS_HOOK_cuGetProcAddress))
            k = TK_GPA1;
        else {
            int expected = 0;
            if (atomic_compare_exchange_strong(&gpa_unknown_said, &expected, 1))
                ds_notice("kernels", true,
                          "%s(\"%s\") returned %p, which is neither cuGetProcAddress nor "
                          "cuGetProcAddress_v2: it is returned unwrapped, and entry points "
                          "looked up through it are not seen",
                          ds_hooks[via].name, symbol, fn);
            return fn;
        }
        void *t = tramp_for(k, fn, k == TK_GPA2 ? DS_HOOK_cuGetProcAddress_v2 : DS_HOOK_cuGetProcAddress,
                            via);
        return t ? t : fn;
    }
    return fn;
}
