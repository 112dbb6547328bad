#!/bin/bash
# The gemm variants hooked since issue 15 (half precision, complex Ex/3m, grouped batches)
# get the same workspace policy as the rest of the family; cuBLAS 13's emulation controls
# are recorded like the math modes; a failed real call is never logged as "forced".
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH CUBLAS_PROG_SETENV DETSHIM_CUBLAS_WORKSPACE_CONFIG
val() { sed -n "s/^$1=//p" out | head -n1; }
statuses_ok() { ! grep -Ev '^(s[12]|b[12])=|=0$' out | grep -q .; }
NEW='cublas(Hgemm|HgemmStridedBatched_64|CgemmEx|Zgemm3m_64|SgemmGroupedBatched)'
on_default() { grep -E "^$NEW handle=.* stream=$1 workspace=default" record | wc -l; }

nm -D --defined-only "$SHIM" | awk '{print $3}' > exports
for s in cublasHgemm cublasHgemm_64 cublasHgemmBatched_64 cublasHgemmStridedBatched cublasCgemmEx_64 \
         cublasCgemm3m cublasCgemm3mEx_64 cublasCgemm3mBatched cublasCgemm3mStridedBatched_64 cublasZgemm3m_64 \
         cublasSgemmGroupedBatched_64 cublasDgemmGroupedBatched cublasGemmGroupedBatchedEx_64 \
         cublasSetEmulationStrategy cublasSetFixedPointEmulationMaxMantissaBitCount cudaStreamDestroy; do
    check "exports $s" grep -qx "$s" exports
done

DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" newgemms > out 2> err
s1=$(val s1); s2=$(val s2)
check "enforce: every new routine succeeds" statuses_ok
check "enforce: all 5 ran on both streams" [ "$(grep -cE "^$NEW handle=" record)" -eq 10 ]
check "enforce: none on the default pool" [ "$(on_default "$s1")" -eq 0 -a "$(on_default "$s2")" -eq 0 ]
check "enforce: cublasHgemm got every argument unchanged (its __half pointers too)" \
    [ "$(grep -c '^cublasHgemm args 1 0 11 12 13 0x[0-9a-f]* 0x[0-9a-f]* 14 0x[0-9a-f]* 15 0x[0-9a-f]* 0x[0-9a-f]* 16$' record)" -eq 2 ]
check "enforce: the workspace was made at the first new routine (cublasHgemm)" \
    [ "$(q 'select(.type=="event" and .action=="forced")|.symbol' | sort -u)" = "cublasHgemm" ]
check "enforce: counted" [ "$(q 'select(.type=="summary")|.calls.cublasSgemmGroupedBatched')" = 2 ]
fresh
DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" newgemms > out 2> err
s1=$(val s1); s2=$(val s2)
check "log: s2's new routines run on the default pool s1 also used" [ "$(on_default "$s2")" -eq 5 ]
check "log: the sharing is observed at the first one, naming both streams" \
    [ "$(q 'select(.type=="event" and .symbol!="cublasCreate_v2")|[.symbol,.action,.stream,.other_stream]|@tsv')" = "cublasHgemm	observed	$s2	$s1" ]
fresh
CUBLAS_PROG_SETENV=:4096:2 DETSHIM_CUBLAS_WORKSPACE_SIZE=0 DETSHIM_MODE=strict run_shim "$CPROGS/cublas_prog" newgemms > out 2> err
check "strict, no shim workspaces: s2's new routines are refused" \
    [ "$(grep -cE '^(hgemm|hgemmsb64|cgemmex|zgemm3m64|sgrouped)=15$' out)" -eq 5 ]
fresh

# ---- emulation controls (cuBLAS 13; a build against CUDA 12 headers has none) ----
if DETSHIM_FAKE_RECORD=/dev/null "$CPROGS/cublas_prog" emulation 2 40 >/dev/null 2>&1; [ $? -eq 77 ]; then
    echo "# emulation controls: not in these headers, not checked"
else
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" emulation 2 40 > out 2> err
check "emulation: the calls reach cuBLAS unchanged" \
    [ "$(grep -c '^cublasSetEmulationStrategy .* strategy=2$' record)$(grep -c '^cublasSetFixedPointEmulationMaxMantissaBitCount .* bits=40$' record)" = 11 ]
check "emulation: both recorded as observed, with their values" \
    [ "$(q 'select(.type=="event" and .symbol!="cublasCreate_v2")|[.symbol,.action,.emulation_setting,.value]|@tsv' | sort | tr '\n' '|')" = "cublasSetEmulationStrategy	observed	emulation strategy	2|cublasSetFixedPointEmulationMaxMantissaBitCount	observed	fixed-point emulation max mantissa bit count	40|" ]
check "emulation: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" emulation 0 > out 2> err
check "emulation strategy DEFAULT: not recorded" [ -z "$(q 'select(.type=="event" and .symbol=="cublasSetEmulationStrategy")|.symbol')" ]
fresh
fi
fresh

# ---- a failed real call is not "forced" ----
FAKE_CUBLAS_FAIL_SETTERS=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" atomics > out 2> err
check "failed cublasSetAtomicsMode: the caller gets the failure" [ "$(val setatomics)" != 0 ]
check "failed cublasSetAtomicsMode: no forced event" [ -z "$(q 'select(.type=="event" and .action=="forced")|.symbol')" ]
fresh
FAKE_CUBLAS_FAIL_SETTERS=1 DETSHIM_PEDANTIC_MATH=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" math 3 > out 2> err
check "failed cublasSetMathMode: no forced event at cublasSetMathMode" \
    [ -z "$(q 'select(.type=="event" and .action=="forced" and .symbol=="cublasSetMathMode")|.symbol')" ]
finish
