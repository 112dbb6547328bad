#!/bin/bash
# cublasSetMathMode: reduced-precision modes recorded (once per handle and mode);
# DETSHIM_PEDANTIC_MATH=1 forces CUBLAS_PEDANTIC_MATH (2) on every call and every new
# handle, in enforce and strict only.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH CUBLAS_PROG_SETENV DETSHIM_CUBLAS_WORKSPACE_CONFIG
vals() { sed -n "s/^$1=//p" out | tr '\n' ' ' | sed 's/ $//'; }
modes_set() { sed -n 's/^cublasSetMathMode .* mode=//p' record | tr '\n' ' ' | sed 's/ $//'; }
mev() { q 'select(.type=="event" and .symbol=="cublasSetMathMode")|[.action,.math_mode,.math_mode_name]|@tsv'; }

# 3 TF32, 16 DEFAULT|DISALLOW_REDUCED_PRECISION_REDUCTION, 3 again, 2 PEDANTIC, 0 DEFAULT, 19 TF32|DISALLOW
for mode in log enforce; do
    DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" math 3 16 3 2 0 19 > out 2> err
    check "$mode: math modes passed through" [ "$(modes_set)" = "3 16 3 2 0 19" ]
    check "$mode: cublasGetMathMode reports them" [ "$(vals math)" = "3 16 3 2 0 19" ]
    check "$mode: observed events for TF32 (once), DEFAULT without DISALLOW, TF32|DISALLOW" \
        [ "$(mev | tr '\n' ';')" = "observed	3	CUBLAS_TF32_TENSOR_OP_MATH;observed	0	CUBLAS_DEFAULT_MATH;observed	19	CUBLAS_TF32_TENSOR_OP_MATH|CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;" ]
    check "$mode: the TF32 detail names TF32 and the missing DISALLOW flag" \
        bash -c "jq -r 'select(.type==\"event\" and .math_mode==3)|.detail' '$(onelog)' | grep -q 'TF32 tensor cores.*no CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION'"
    check "$mode: summary counts all 6 calls" [ "$(q 'select(.type=="summary")|.calls.cublasSetMathMode')" = "6" ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
done

for mode in enforce strict; do
    DETSHIM_PEDANTIC_MATH=1 DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" math 3 16 2 > out 2> err
    check "$mode pedantic: the new handle is set to PEDANTIC right after create" \
        [ "$(sed -n '2p' record | sed 's/^\(cublasSetMathMode\) .* mode=/\1 /')" = "cublasSetMathMode 2" ]
    check "$mode pedantic: the program finds PEDANTIC at create" [ "$(vals math_at_create)" = "2" ]
    check "$mode pedantic: cuBLAS was only ever asked for PEDANTIC" [ "$(modes_set)" = "2 2 2 2" ]
    check "$mode pedantic: cublasGetMathMode reports PEDANTIC" [ "$(vals math)" = "2 2 2" ]
    check "$mode pedantic: forced events for 3 and 16" \
        [ "$(q 'select(.type=="event" and .symbol=="cublasSetMathMode")|[.action,.math_mode,.forced_to]|@tsv' | tr '\n' ';')" = "forced	3	2;forced	16	2;" ]
    check "$mode pedantic: a forced create event" \
        [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.action' | sort | tr '\n' ' ')" = "forced observed " ]
    fresh
done
DETSHIM_PEDANTIC_MATH=1 DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" math 3 > out 2> err
check "log pedantic: nothing forced" [ "$(modes_set)" = "3" -a "$(vals math_at_create)" = "0" ]
check "log pedantic: a notice says it changes nothing" \
    grep -q "DETSHIM_PEDANTIC_MATH=1 changes nothing in log mode" <(q 'select(.type=="notice")|.message')
fresh
DETSHIM_PEDANTIC_MATH=maybe DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" math 3 > out 2> err
check "bad DETSHIM_PEDANTIC_MATH: one clear message" \
    [ "$(grep -c "DETSHIM_PEDANTIC_MATH='maybe' is not valid; accepted values: 0, 1, yes, no, true, false, on, off; using 0" err)" -eq 1 ]
check "bad DETSHIM_PEDANTIC_MATH: a notice in the log" \
    grep -q "DETSHIM_PEDANTIC_MATH='maybe' is not valid" <(q 'select(.type=="notice")|.message')
check "bad DETSHIM_PEDANTIC_MATH: treated as 0" [ "$(modes_set)" = "3" ]
check "bad DETSHIM_PEDANTIC_MATH: header env shows the value" [ "$(q 'select(.type=="header")|.env.DETSHIM_PEDANTIC_MATH')" = "maybe" ]
fresh
for yes in yes ON true; do
    DETSHIM_PEDANTIC_MATH=$yes DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" math 3 > out 2> err
    check "DETSHIM_PEDANTIC_MATH=$yes accepted" [ "$(modes_set)" = "2 2" -a ! -s err ]
    fresh
done
DETSHIM_PEDANTIC_MATH=0 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" math 3 > out 2> err
check "DETSHIM_PEDANTIC_MATH=0: nothing forced" [ "$(modes_set)" = "3" ]
finish
