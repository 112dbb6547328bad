#!/bin/bash
# dlsym/dlvsym on a vendor library's handle (dlopen RTLD_LOCAL, as TensorFlow, JAX,
# cuda-python and Triton reach CUDA): a hooked name returns the shim's wrapper, so the
# policy runs; any other name, and every lookup in off mode, returns the library's own.
. "$(dirname "$0")/lib_roads.sh"

for mode in enforce strict; do
    DETSHIM_MODE=$mode DETSHIM_VERBOSE=2 run_shim "$RPROGS/roads_prog" cublas > out 2> err
    check "$mode: cublasCreate_v2 by handle is the shim's" [ "$(where cublasCreate_v2)" = libdetshim.so ]
    check "$mode: cublasSetAtomicsMode by handle is the shim's" [ "$(where cublasSetAtomicsMode)" = libdetshim.so ]
    check "$mode: dlvsym by handle is the shim's too" [ "$(where dlvsym:cublasSetStream_v2)" = libdetshim.so ]
    check "$mode: a hot hook by handle is its exported front (the one a direct call binds to)" grep -qx "sgemm_is_global 1" out
    check "$mode: a name the shim does not hook is the library's own" [ "$(where cublasGetVersion_v2)" = libcublas.so.13 ]
    check "$mode: every call succeeds" [ "$(grep -c ' status=0$' out)" -eq 5 ]
    check "$mode: atomics ALLOWED reached cuBLAS as NOT_ALLOWED" grep -q '^cublasSetAtomicsMode .* mode=0$' record
    check "$mode: the shim installed its own workspace on the stream" grep -q '^cublasSetWorkspace_v2 .* stream=0x5000 workspace=0x' record
    check "$mode: the gemm ran on it, without atomics" grep -q '^cublasSgemm_v2 .* stream=0x5000 workspace=0x.* atomics=0' record
    check "$mode: the atomics request is an event" [ "$(ev cublasSetAtomicsMode)" = forced ]
    check "$mode: the shim counted the calls" [ "$(calls cublasCreate_v2)" -eq 1 -a "$(calls cublasSgemm_v2)" -eq 1 ]
    check "$mode: the shim's own lookups found the real functions (by soname)" grep -q "resolved cublasCreate_v2 via soname in .*libcublas.so.13" err
    check "$mode: verbose says what dlsym handed out" grep -q 'dlsym(handle of .*libcublas.so.13, "cublasCreate_v2") returns the shim' err
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
done

DETSHIM_MODE=log run_shim "$RPROGS/roads_prog" cublas > out 2> err
check "log: the shim's wrapper" [ "$(where cublasSetAtomicsMode)" = libdetshim.so ]
check "log: atomics passed as asked (1), recorded" [ "$(sed -n 's/^cublasSetAtomicsMode .* mode=//p' record)" = 1 -a "$(ev cublasSetAtomicsMode)" = observed ]
fresh

DETSHIM_MODE=off run_shim "$RPROGS/roads_prog" cublas > out 2> err
check "off: every lookup is the library's own" [ "$(grep '^where ' out | grep -vc ' libcublas.so.13$')" -eq 0 ]
check "off: the calls succeed, untouched" [ "$(grep -c ' status=0$' out)" -eq 5 ] && grep -q '^cublasSetAtomicsMode .* mode=1$' record
check "off: no log" [ "$(nlogs)" -eq 0 ]
fresh

# kernel launches looked up by handle in the runtime and the driver (Triton's launcher
# calls cuLaunchKernelEx through such a pointer)
DETSHIM_MODE=enforce run_shim "$RPROGS/roads_prog" launch > out 2> err
check "enforce: cudaLaunchKernel and cuLaunchKernelEx by handle are the shim's" \
    [ "$(where cudaLaunchKernel)" = libdetshim.so -a "$(where cuLaunchKernelEx)" = libdetshim.so ]
check "enforce: both launches ran" [ "$(status cudaLaunchKernel)" = 0 -a "$(status cuLaunchKernelEx)" = 0 ] && \
    [ "$(grep -c '^launch _Z27force_deriv_wrt_neighbors_a' record)" -eq 2 ]
check "enforce: the listed kernel is an event at both" [ "$(ev cudaLaunchKernel)" = observed -a "$(ev cuLaunchKernelEx)" = observed ]
fresh
DETSHIM_MODE=strict run_shim "$RPROGS/roads_prog" launch > out 2> err
check "strict: both launches refused (800)" [ "$(status cudaLaunchKernel)" = 800 -a "$(status cuLaunchKernelEx)" = 800 ]
check "strict: nothing launched" [ "$(grep -c '^launch ' record)" -eq 0 ]
check "strict: blocked at both" [ "$(ev cudaLaunchKernel)" = blocked -a "$(ev cuLaunchKernelEx)" = blocked ]
finish
