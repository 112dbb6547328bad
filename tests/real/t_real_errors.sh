#!/bin/bash
# The real libraries' statuses come back unchanged through the shim in every mode: calls
# that fail without a GPU or with bad arguments (runtime, cuBLAS, cuBLASLt, cuDNN, the
# backend API), each looked up by handle (the dlsym road: the shim's wrapper). No crash,
# valid logs. The one intended difference: strict refuses every spatial-transformer sampler
# backward (it has no deterministic form) with CUDNN_STATUS_NOT_SUPPORTED.
. "$(dirname "$0")/lib_real.sh"
# Statuses the shim still changes in strict mode (issue 15 item 4: a failure unrelated to
# determinism reported as "no deterministic alternative"): reported, not failed, until fixed.
KNOWN_STRICT=""  # issue 15 item 4 landed: every strict status must match the library
"$RPROGS/real_prog" errors > base 2> base.err
check "without the shim: the program ran to the end" grep -qx end base
grep -v '^where ' base > want
for mode in $MODES; do
    DETSHIM_MODE=$mode DETSHIM_VERBOSE=2 run_shim "$RPROGS/real_prog" errors > out 2> err
    rc=$?
    check "$mode: ran to the end, exit 0" [ $rc -eq 0 ] && grep -qx end out
    grep -v '^where ' out > got
    if [ "$mode" = strict ]; then
        sed 's/^cudnnSpatialTfSamplerBackward .*/cudnnSpatialTfSamplerBackward 3000/' want > want.strict
        for k in $KNOWN_STRICT; do
            w=$(sed -n "s/^$k //p" want); g=$(sed -n "s/^$k //p" got)
            if [ "$w" != "$g" ]; then
                echo "ok - # TODO strict: $k returns $g, the library $w (issue 15 item 4)"
                sed -i "s/^$k .*/$k $w/" got
            fi
        done
        check "strict: every status as the library's (sampler backward refused: 3000)" diff want.strict got
    else
        check "$mode: every status exactly the library's" diff want got
    fi
    hooked_where=$(grep '^where ' out | grep -v -E ' (cudaGetDeviceCount|cublasGetVersion_v2|cublasLtCreate|cublasLtMatmulPreferenceCreate|cublasLtMatmulDescCreate|cudnnCreate) ' | awk '{print $3}' | sort -u)
    if [ "$mode" = off ]; then
        check "off: every lookup by handle is the library's own" bash -c "! grep '^where ' '$T/out' | grep -q libdetshim"
    else
        check "$mode: every hooked name looked up by handle is the shim's wrapper" [ "$hooked_where" = libdetshim.so ]
        check "$mode: names the shim does not hook are the libraries' own" \
            bash -c "! grep -E '^where (cudaGetDeviceCount|cublasGetVersion_v2|cublasLtCreate|cudnnCreate) ' '$T/out' | grep -q libdetshim"
        check "$mode: the shim found the real functions in $CUDA_LIB" \
            grep -q "resolved cublasCreate_v2 via soname in $CUDA_LIB/libcublas.so.13" err
        check "$mode: the real cuDNN too" grep -q "resolved cudnnConvolutionBackwardData via .* in $CUDA_LIB/libcudnn" err
        check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fi
    fresh
done
finish
