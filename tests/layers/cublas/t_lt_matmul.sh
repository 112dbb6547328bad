#!/bin/bash
# cublasLtMatmul with a NULL algo: the library would choose from the pointers' alignments
# (the fake: id 1 when all are 256-aligned, else 2). In enforce/strict the shim asks the
# heuristic itself with normalised preferences and passes the algorithm it got.
. "$(dirname "$0")/../../preload/lib.sh"
unset DETSHIM_CUBLASLT_ALIGNMENT DETSHIM_CUBLASLT_REDUCTION FAKE_CUBLASLT_NEED_ALIGN LT_MASK
ran() { sed -n 's/^cublasLtMatmul \(algo=[a-z]* id=[0-9]*\) .*/\1/p' record | tr '\n' ';'; }
ev() { q "select(.type==\"event\" and .symbol==\"cublasLtMatmul\")|$1"; }

for mode in enforce strict; do
    DETSHIM_MODE=$mode run_shim "$CPROGS/lt_prog" null 64 0 16 > out 2> err
    check "$mode: both calls succeed" [ "$(sed -n 's/^matmul=//p' out | tr '\n' ' ')" = "0 0 " ]
    check "$mode: the same algorithm, chosen by the shim, for both" [ "$(ran)" = "algo=given id=2;algo=given id=2;" ]
    check "$mode: the heuristic saw normalised preferences and the call's workspace" \
        [ "$(grep -c '^cublasLtMatmulAlgoGetHeuristic .* align=16,16,16,16 mask=6 ws=1048576 -> id=2' record)" -eq 2 ]
    check "$mode: a forced event with the algorithm" [ "$(ev '[.action,.algo.id]|@tsv')" = "forced	2" ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
done
DETSHIM_MODE=log run_shim "$CPROGS/lt_prog" null 64 0 16 > out 2> err
check "log: the library chose by address (1, then 2)" [ "$(ran)" = "algo=internal id=1;algo=internal id=2;" ]
check "log: no heuristic call of the shim's" [ "$(grep -c '^cublasLtMatmulAlgoGetHeuristic' record)" -eq 0 ]
check "log: an observed event" [ "$(ev .action)" = "observed" ]
check "log: it names the alignments" grep -q "alignments 256/256/256/256 bytes" <(ev .detail)
fresh
DETSHIM_MODE=off run_shim "$CPROGS/lt_prog" null 64 0 16 > out 2> err
check "off: passed through" [ "$(ran)" = "algo=internal id=1;algo=internal id=2;" -a "$(nlogs)" -eq 0 ]
fresh
DETSHIM_MODE=enforce DETSHIM_DISABLE=cublaslt run_shim "$CPROGS/lt_prog" null 64 0 16 > out 2> err
check "cublaslt layer disabled: passed through" [ "$(ran)" = "algo=internal id=1;algo=internal id=2;" ]
fresh
FAKE_CUBLASLT_NEED_ALIGN=256 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" null 64 0 > out 2> err
check "heuristic finds nothing, enforce: passed through (library chooses)" [ "$(ran)" = "algo=internal id=1;" ]
check "... an observed event" [ "$(ev .action)" = "observed" ]
fresh
FAKE_CUBLASLT_NEED_ALIGN=256 DETSHIM_MODE=strict run_shim "$CPROGS/lt_prog" null 64 0 > out 2> err
check "heuristic finds nothing, strict: refused" [ "$(sed -n 's/^matmul=//p' out)" = "15" -a -z "$(ran)" ]
check "... a blocked event and a message" \
    [ "$(ev .action)" = "blocked" -a "$(grep -c 'strict mode refused cublasLtMatmul' err)" -eq 1 ]
fresh
DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 64 0 > out 2> err
check "an algo given by the caller is passed through untouched" [ "$(ran)" = "algo=given id=2;" ]
check "... and cublasLtMatmul logs nothing" [ -z "$(ev .action)" ]

# ---- a NULL algo on an invalid handle: cuBLASLt's own status, in every mode (issue 15 item 4) ----
saved_ld=${LD_LIBRARY_PATH-}
for lib in fake real; do
    if [ $lib = real ]; then
        [ -e /usr/local/cuda/lib/libcublasLt.so.13 ] || continue
        export LD_LIBRARY_PATH=/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    fi
    for mode in off log enforce strict; do
        DETSHIM_MODE=$mode run_shim "$CPROGS/lt_prog" badhandle 64 > out 2> err
        check "$lib, $mode: bad handle, NULL algo: CUBLAS_STATUS_NOT_INITIALIZED (1), not 15" [ "$(sed -n 's/^matmul=//p' out)" = 1 ]
        check "$lib, $mode: no refusal" bash -c "! grep -q 'strict mode refused' '$T/err'"
        fresh
    done
    DETSHIM_MODE=strict DETSHIM_VERBOSE=1 run_shim "$CPROGS/lt_prog" badhandle 64 > out 2> err
    check "$lib: said why (not a determinism matter)" grep -q "heuristic failed with status 1 (not a determinism matter)" err
    fresh
done
export LD_LIBRARY_PATH=$saved_ld

# ---- hash mode: cuBLAS's own cublasLtMatmul calls are not digested (issue 15 item 6) ----
DETSHIM_HASH=1 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" internalmatmul 64 > out 2> err
check "hash, from inside libcublas: the matmul ran" [ "$(sed -n 's/^matmul=//p' out)" = 0 -a "$(grep -c '^fake_cublas_internal_matmul status=0' record)" = 1 ]
tr=$(ls "$T"/*.trace.jsonl 2>/dev/null | head -n1)
check "hash, from inside libcublas: no cublasLtMatmul record in the trace" \
    [ "$(cat $tr /dev/null | jq -c 'select(.type=="call" and .call=="cublasLtMatmul")' | wc -l)" = 0 ]
fresh
finish
