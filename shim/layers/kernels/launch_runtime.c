/* layer_kernels_rt.c: kernel launches through the CUDA runtime.
 *
 * nvcc's launch stubs (CUDA 12.x/13) call __cudaLaunchKernel[_ptsz] with a cudaKernel_t;
 * hand-written code and torch call cudaLaunchKernel[_ptsz] / cudaLaunchKernelExC[_ptsz]
 * with the host stub. Both are named by the runtime's cudaFuncGetName (which takes
 * either), or, with runtimes that lack it, by what __cudaRegisterFunction and
 * __cudaGetKernel recorded. A flagged kernel is recorded (log, enforce) or refused with
 * cudaErrorNotPermitted (strict); clean kernels go straight to the runtime. */
#include "hooks.h"
#include "launch.h"

/* The refusal a stub cannot see (it drops __cudaLaunchKernel's status): reported by this
 * thread's next cudaGetLastError / cudaPeekAtLastError, as the runtime reports its own
 * launch errors. */
static DS_TLS cudaError_t pending_refusal;

static bool rt_check(const struct ds_kinfo *k, enum ds_hook hook, dim3 g, dim3 b)
{
    struct ds_klaunch l = {
        .hook = hook, .via = DS_HOOK_COUNT, .has_dims = true,
        .grid = {g.x, g.y, g.z}, .block = {b.x, b.y, b.z},
        .refusal = "cudaErrorNotPermitted",
    };
    if (!ds_kernel_flagged_launch(k, &l)) return false;
    pending_refusal = cudaErrorNotPermitted;
    return true;
}

static const dim3 no_dims = {0, 0, 0};

/* A watch (hash mode) around the launch; none, one load and a branch. */
static void rt_watched(struct ds_kwatched *w, enum ds_hook hook, const void *fn, dim3 g, dim3 b,
                       size_t smem, cudaStream_t s, bool ptsz, void **args)
{
    *w = (struct ds_kwatched){.hook = hook, .kind = DS_KK_RT, .fn = fn,
                              .name = ds_kernel_name(DS_KK_RT, fn), .params = args,
                              .stream = (void *)s, .ptsz = ptsz, .grid = {g.x, g.y, g.z},
                              .block = {b.x, b.y, b.z}, .smem = (unsigned)smem};
}
#define RT_LAUNCH(hook, fn, g, b, smem, s, ptsz, args, call)                              \
    do {                                                                                  \
        const struct ds_kwatch *w_ = ds_kwatch_now();                                     \
        if (DS_LIKELY(w_ == NULL)) return call;                                           \
        struct ds_kwatched v_;                                                            \
        rt_watched(&v_, (hook), (const void *)(fn), (g), (b), (smem), (s), (ptsz), (args)); \
        void *ws_ = w_->pre(&v_);                                                         \
        cudaError_t st_ = call;                                                           \
        w_->post(ws_, (int)st_);                                                          \
        return st_;                                                                       \
    } while (0)

/* The fast path of every runtime launch: a table lookup; flagged kernels only go further. */
#define RT_GATE(hook, fn, g, b)                                                        \
    do {                                                                               \
        const struct ds_kinfo *k_ = ds_kernel_lookup(DS_KK_RT, (const void *)(fn));    \
        if (DS_UNLIKELY(k_->flagged) && rt_check(k_, (hook), (g), (b)))                \
            return cudaErrorNotPermitted;                                              \
    } while (0)

cudaError_t ds_policy___cudaLaunchKernel(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim,
                                         void **args, size_t sharedMem, cudaStream_t stream)
{
    RT_GATE(DS_HOOK___cudaLaunchKernel, kernel, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK___cudaLaunchKernel, kernel, gridDim, blockDim, sharedMem, stream, false, args,
              DS_REAL(__cudaLaunchKernel)(kernel, gridDim, blockDim, args, sharedMem, stream));
}

cudaError_t ds_policy___cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 gridDim, dim3 blockDim,
                                              void **args, size_t sharedMem, cudaStream_t stream)
{
    RT_GATE(DS_HOOK___cudaLaunchKernel_ptsz, kernel, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK___cudaLaunchKernel_ptsz, kernel, gridDim, blockDim, sharedMem, stream, true, args,
              DS_REAL(__cudaLaunchKernel_ptsz)(kernel, gridDim, blockDim, args, sharedMem, stream));
}

cudaError_t ds_policy_cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args,
                                       size_t sharedMem, cudaStream_t stream)
{
    RT_GATE(DS_HOOK_cudaLaunchKernel, func, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK_cudaLaunchKernel, func, gridDim, blockDim, sharedMem, stream, false, args,
              DS_REAL(cudaLaunchKernel)(func, gridDim, blockDim, args, sharedMem, stream));
}

cudaError_t ds_policy_cudaLaunchKernel_ptsz(const void *func, dim3 gridDim, dim3 blockDim,
                                            void **args, size_t sharedMem, cudaStream_t stream)
{
    RT_GATE(DS_HOOK_cudaLaunchKernel_ptsz, func, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK_cudaLaunchKernel_ptsz, func, gridDim, blockDim, sharedMem, stream, true, args,
              DS_REAL(cudaLaunchKernel_ptsz)(func, gridDim, blockDim, args, sharedMem, stream));
}


cudaError_t ds_policy_cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func,
                                          void **args)
{
    RT_GATE(DS_HOOK_cudaLaunchKernelExC, func, config ? config->gridDim : no_dims,
            config ? config->blockDim : no_dims);
    RT_LAUNCH(DS_HOOK_cudaLaunchKernelExC, func, config ? config->gridDim : no_dims,
              config ? config->blockDim : no_dims, config ? config->dynamicSmemBytes : 0,
              config ? config->stream : NULL, false, args, DS_REAL(cudaLaunchKernelExC)(config, func, args));
}

cudaError_t ds_policy_cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t *config, const void *func,
                                               void **args)
{
    RT_GATE(DS_HOOK_cudaLaunchKernelExC_ptsz, func, config ? config->gridDim : no_dims,
            config ? config->blockDim : no_dims);
    RT_LAUNCH(DS_HOOK_cudaLaunchKernelExC_ptsz, func, config ? config->gridDim : no_dims,
              config ? config->blockDim : no_dims, config ? config->dynamicSmemBytes : 0,
              config ? config->stream : NULL, true, args, DS_REAL(cudaLaunchKernelExC_ptsz)(config, func, args));
}

cudaError_t ds_policy_cudaLaunchCooperativeKernel(const void *func, dim3 gridDim, dim3 blockDim,
                                                  void **args, size_t sharedMem,
                                                  cudaStream_t stream)
{
    RT_GATE(DS_HOOK_cudaLaunchCooperativeKernel, func, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK_cudaLaunchCooperativeKernel, func, gridDim, blockDim, sharedMem, stream,
              false, args,
              DS_REAL(cudaLaunchCooperativeKernel)(func, gridDim, blockDim, args, sharedMem, stream));
}

cudaError_t ds_policy_cudaLaunchCooperativeKernel_ptsz(const void *func, dim3 gridDim,
                                                       dim3 blockDim, void **args,
                                                       size_t sharedMem, cudaStream_t stream)
{
    RT_GATE(DS_HOOK_cudaLaunchCooperativeKernel_ptsz, func, gridDim, blockDim);
    RT_LAUNCH(DS_HOOK_cudaLaunchCooperativeKernel_ptsz, func, gridDim, blockDim, sharedMem, stream,
              true, args,
              DS_REAL(cudaLaunchCooperativeKernel_ptsz)(func, gridDim, blockDim, args, sharedMem,
                                                        stream));
}

/* A graph replays kernels that were launched (and so classified, recorded or refused)
 * while its stream was being captured; the replay itself is counted, not inspected. */
cudaError_t ds_policy_cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    return DS_REAL(cudaGraphLaunch)(graphExec, stream);
}

cudaError_t ds_policy_cudaGraphLaunch_ptsz(cudaGraphExec_t graphExec, cudaStream_t stream)
{
    return DS_REAL(cudaGraphLaunch_ptsz)(graphExec, stream);
}

/* ---- naming at registration ---------------------------------------------------------- */
void ds_policy___cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                                      const char *deviceName, int thread_limit, uint3 *tid,
                                      uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize)
{
    DS_REAL(__cudaRegisterFunction)(fatCubinHandle, hostFun, deviceFun, deviceName, thread_limit,
                                    tid, bid, bDim, gDim, wSize);
    if (ds_knaming_rt_native()) return; /* the runtime names kernels itself */
    ds_kname_put(hostFun, deviceFun && *deviceFun ? deviceFun : deviceName);
}

cudaError_t ds_policy___cudaGetKernel(cudaKernel_t *kernel, const void *hostFun)
{
    cudaError_t st = DS_REAL(__cudaGetKernel)(kernel, hostFun);
    if (st == cudaSuccess && kernel && *kernel && !ds_knaming_rt_native()) {
        const char *n = ds_kname_get(hostFun);
        if (n) ds_kname_put(*kernel, n);
    }
    return st;
}

/* ---- unloads: a freed kernel's address may be reused by another kernel ---------------- */
cudaError_t ds_policy_cudaLibraryUnload(cudaLibrary_t library)
{
    cudaError_t st = DS_REAL(cudaLibraryUnload)(library);
    if (st == cudaSuccess) ds_kernels_forget();
    return st;
}

/* A shared library with device code is being unloaded (dlclose, or exit): its host stubs'
 * addresses may later hold another library's. */
void ds_policy___cudaUnregisterFatBinary(void **fatCubinHandle)
{
    DS_REAL(__cudaUnregisterFatBinary)(fatCubinHandle);
    ds_kernels_forget();
}

/* ---- driver entry points handed out by the runtime ------------------------------------- */
static bool rt_per_thread(unsigned long long flags, bool ptsz_entry)
{
    if (flags & cudaEnablePerThreadDefaultStream) return true;
    if (flags & cudaEnableLegacyStream) return false;
    return ptsz_entry; /* cudaEnableDefault: the caller's compilation mode */
}

static void rt_wrap(cudaError_t st, const char *symbol, void **funcPtr, bool per_thread,
                    enum ds_hook via)
{
    if (st == cudaSuccess && funcPtr && *funcPtr)
        *funcPtr = ds_kernels_wrap_entry(symbol, *funcPtr, per_thread, via);
}

cudaError_t ds_policy_cudaGetDriverEntryPoint(const char *symbol, void **funcPtr,
                                              unsigned long long flags,
                                              enum cudaDriverEntryPointQueryResult *driverStatus)
{
    cudaError_t st = DS_REAL(cudaGetDriverEntryPoint)(symbol, funcPtr, flags, driverStatus);
    rt_wrap(st, symbol, funcPtr, rt_per_thread(flags, false), DS_HOOK_cudaGetDriverEntryPoint);
    return st;
}

cudaError_t ds_policy_cudaGetDriverEntryPoint_ptsz(const char *symbol, void **funcPtr,
                                                   unsigned long long flags,
                                                   enum cudaDriverEntryPointQueryResult *driverStatus)
{
    cudaError_t st = DS_REAL(cudaGetDriverEntryPoint_ptsz)(symbol, funcPtr, flags, driverStatus);
    rt_wrap(st, symbol, funcPtr, rt_per_thread(flags, true), DS_HOOK_cudaGetDriverEntryPoint_ptsz);
    return st;
}

cudaError_t ds_policy_cudaGetDriverEntryPointByVersion(const char *symbol, void **funcPtr,
                                                       unsigned int cudaVersion,
                                                       unsigned long long flags,
                                                       enum cudaDriverEntryPointQueryResult *driverStatus)
{
    cudaError_t st =
        DS_REAL(cudaGetDriverEntryPointByVersion)(symbol, funcPtr, cudaVersion, flags, driverStatus);
    rt_wrap(st, symbol, funcPtr, rt_per_thread(flags, false),
            DS_HOOK_cudaGetDriverEntryPointByVersion);
    return st;
}

cudaError_t ds_policy_cudaGetDriverEntryPointByVersion_ptsz(
    const char *symbol, void **funcPtr, unsigned int cudaVersion, unsigned long long flags,
    enum cudaDriverEntryPointQueryResult *driverStatus)
{
    cudaError_t st = DS_REAL(cudaGetDriverEntryPointByVersion_ptsz)(symbol, funcPtr, cudaVersion,
                                                                   flags, driverStatus);
    rt_wrap(st, symbol, funcPtr, rt_per_thread(flags, true),
            DS_HOOK_cudaGetDriverEntryPointByVersion_ptsz);
    return st;
}

/* ---- the last error, with strict mode's refusals in it ----------------------------------- */
/* The program's own runtime error comes first: a refusal pending at the same time is
 * reported by the next call, so neither is lost. */
cudaError_t ds_policy_cudaGetLastError(void)
{
    cudaError_t st = DS_REAL(cudaGetLastError)(); /* clears the runtime's own */
    if (DS_UNLIKELY(pending_refusal != cudaSuccess) && st == cudaSuccess) {
        st = pending_refusal;
        pending_refusal = cudaSuccess;
    }
    return st;
}

cudaError_t ds_policy_cudaPeekAtLastError(void)
{
    cudaError_t st = DS_REAL(cudaPeekAtLastError)();
    return DS_UNLIKELY(pending_refusal != cudaSuccess) && st == cudaSuccess ? pending_refusal : st;
}
