#!/bin/bash
# cublasSetAtomicsMode(ALLOWED): forced to NOT_ALLOWED in enforce and strict (recorded with
# the caller's stack), passed through and recorded in log mode, where symv/hemv on such a
# handle are recorded too. cublasGetAtomicsMode is not hooked: it reports the real state.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH CUBLAS_PROG_SETENV DETSHIM_CUBLAS_WORKSPACE_CONFIG
val() { sed -n "s/^$1=//p" out | head -n1; }
ev() { q "select(.type==\"event\" and .symbol==\"$1\")|$2" | head -n1; }
modes_set() { sed -n 's/^cublasSetAtomicsMode .* mode=//p' record | tr '\n' ' ' | sed 's/ $//'; }
atomics_in() { sed -n "s/^$1 .* atomics=\([0-9]*\) .*/\1/p" record; }

for mode in enforce strict; do
    DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" atomics > out 2> err
    check "$mode: the call succeeds" [ "$(val setatomics)" = "0" ]
    check "$mode: cuBLAS was asked for NOT_ALLOWED (0), both times" [ "$(modes_set)" = "0 0" ]
    check "$mode: cublasGetAtomicsMode reports what is in force (0)" [ "$(val atomics)" = "0" ]
    check "$mode: symv ran without atomics" [ "$(atomics_in cublasSsymv_v2)" = "0" ]
    check "$mode: hemv (_v2_64) ran without atomics" [ "$(atomics_in cublasZhemv_v2_64)" = "0" ]
    check "$mode: one forced event (not blocked: enforce can fix it)" \
        [ "$(q 'select(.type=="event" and .symbol=="cublasSetAtomicsMode")|.action' | tr '\n' ' ')" = "forced " ]
    check "$mode: the event's stack is the caller's (main)" [ "$(ev cublasSetAtomicsMode '.stack[0].function')" = "main" ]
    check "$mode: the event names the handle" [ "$(ev cublasSetAtomicsMode '.handle|startswith("0x")')" = "true" ]
    check "$mode: no symv/hemv event" [ -z "$(q 'select(.type=="event" and (.symbol|test("symv|hemv")))|.symbol')" ]
    check "$mode: nothing on stderr" [ ! -s err ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
done

DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" atomics > out 2> err
check "log: cuBLAS was asked for ALLOWED (1), then NOT_ALLOWED" [ "$(modes_set)" = "1 0" ]
check "log: cublasGetAtomicsMode reports 1" [ "$(val atomics)" = "1" ]
check "log: symv ran with atomics allowed" [ "$(atomics_in cublasSsymv_v2)" = "1" ]
check "log: an observed cublasSetAtomicsMode event" [ "$(ev cublasSetAtomicsMode .action)" = "observed" ]
check "log: an observed cublasSsymv_v2 event" [ "$(ev cublasSsymv_v2 .action)" = "observed" ]
check "log: an observed cublasZhemv_v2_64 event" [ "$(ev cublasZhemv_v2_64 .action)" = "observed" ]
check "log: the symv event says why" grep -q "atomics allowed" <(ev cublasSsymv_v2 .detail)
check "log: setting NOT_ALLOWED is no event" [ "$(q 'select(.type=="event" and .symbol=="cublasSetAtomicsMode")|.action' | wc -l)" -eq 1 ]
check "log: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
DETSHIM_MODE=off run_shim "$CPROGS/cublas_prog" atomics > out 2> err
check "off: passed through" [ "$(modes_set)" = "1 0" -a "$(val atomics)" = "1" ]
check "off: no log" [ "$(nlogs)" -eq 0 ]
finish
