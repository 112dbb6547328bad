#!/bin/bash
# Edges of the cuBLAS layer: no libcudart, many threads, streams and handles, settings,
# the exported names.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH CUBLAS_PROG_SETENV DETSHIM_CUBLAS_WORKSPACE_CONFIG
val() { sed -n "s/^$1=//p" out | head -n1; }
statuses_ok() { ! grep -Ev '^(s[12]|b[12])=|=0$' out | grep -q .; }
routines() { grep -E '^cublas(Sgemm_v2|Dgemm_v2_64|GemmEx) handle=' record; }

# ---- a process without libcudart ----
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog_nort" streams > out 2> err
check "no cudart: libcudart is really absent" bash -c "! ldd '$CPROGS/cublas_prog_nort' | grep -q libcudart"
check "no cudart: every call succeeds" statuses_ok
check "no cudart: the routines keep the default workspace" [ "$(routines | grep -vc 'workspace=default')" -eq 0 ]
check "no cudart: said once on stderr" [ "$(grep -c 'neither cudaMalloc (libcudart) nor cuMemAlloc_v2 (libcuda) is loaded' err)" -eq 1 ]
check "no cudart: said once in the log" [ "$(q 'select(.type=="notice" and .layer=="cublas")|.message' | grep -c 'neither cudaMalloc')" -eq 1 ]
check "no cudart: the sharing of the default pool is observed" \
    [ "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" = "cublasSgemm_v2" ]
check "no cudart: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog_nort" streams > out 2> err
check "no cudart, DETSHIM_CUBLAS_WORKSPACE_CONFIG=1: no sharing event (the pinned config covers it)" \
    [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
check "no cudart: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
CUBLAS_PROG_SETENV=:4096:2 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog_nort" streams > out 2> err
check "no cudart, unsafe config: the sharing is recorded as observed" \
    [ "$(q 'select(.type=="event" and .symbol=="cublasSgemm_v2")|.action')" = "observed" ]
fresh

# ---- cuBLAS refuses the shim's workspace ----
FAKE_CUBLAS_REFUSE_WORKSPACE=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "workspace refused: every call succeeds" statuses_ok
check "workspace refused: said once, with cuBLAS's status" [ "$(grep -c 'cublasSetWorkspace_v2 refused the shim.*(status 7)' err)" -eq 1 ]
check "workspace refused: the routines ran on the default workspace" [ "$(routines | grep -vc 'workspace=default')" -eq 0 ]
check "workspace refused: no forced event" [ -z "$(q 'select(.type=="event" and .action=="forced")|.symbol')" ]
fresh

# ---- the shim's own failed cudaMalloc never wipes or replaces the program's pending error ----
FAKE_CUDART_MALLOC_FAIL_FROM=33554432 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" pendingerror > out 2> err
check "pending error: the shim tried no cudaMalloc while the program's error was pending" \
    [ "$(grep -c '^cudaMalloc .*33554432' record)" -eq 0 ]
check "pending error: the program still reads its own error (98, invalid device function)" [ "$(val lasterror)" = 98 ]
check "pending error: the gemms ran" [ "$(grep -c '^cublasSgemm_v2 ' record)" -eq 2 ]
fresh
FAKE_CUDART_MALLOC_FAIL_FROM=33554432 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "no pending error: the shim's failure is not left for the program" [ "$(grep -c '^cudaMalloc size=33554432 failed' record)" -ge 1 ]
fresh

# ---- threads: each its own handle on two streams, 20 rounds ----
DETSHIM_CUBLAS_WORKSPACE_SIZE=64K DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" threads 8 > out 2> err
check "threads: every call succeeds" statuses_ok
check "threads: 8 handles x 2 streams x 20 rounds x 3 routines ran" [ "$(routines | wc -l)" -eq 960 ]
check "threads: none on the default workspace" [ "$(routines | grep -c 'workspace=default')" -eq 0 ]
check "threads: one workspace per (handle, stream), 16 in all, all distinct" \
    [ "$(routines | awk '{print $2, $3, $4}' | sort -u | wc -l)" -eq 16 -a "$(routines | awk '{print $4}' | sort -u | wc -l)" -eq 16 ]
check "threads: 16 allocations, 16 frees" \
    [ "$(grep -c '^cudaMalloc .* size=65536$' record)" -eq 16 -a "$(grep -c '^cudaFree ' record)" -eq 16 ]
check "threads: no sharing event" [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
check "threads: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh

# ---- more streams on one handle than the table holds ----
DETSHIM_CUBLAS_WORKSPACE_SIZE=64K DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" manystreams 40 > out 2> err
check "40 streams: every gemm succeeds" [ "$(val failed)" = "0" ]
check "40 streams: 31 get a workspace of their own (the 32nd tracked is the legacy default stream of a new handle)" [ "$(grep -c '^cudaMalloc .* size=65536$' record)" -eq 31 ]
check "40 streams: said once" [ "$(grep -c 'used on more than 32 streams' err)" -eq 1 ]
fresh
# ---- many handles, created and destroyed in turn (the table is reused) ----
DETSHIM_CUBLAS_WORKSPACE_SIZE=64K DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" handles 600 > out 2> err
check "600 handles: every gemm succeeds" [ "$(val failed)" = "0" ]
check "600 handles: all tracked (no table-full notice)" [ ! -s err ]
check "600 handles: each got its workspace, each freed" \
    [ "$(grep -c '^cudaMalloc ' record)" -eq 600 -a "$(grep -c '^cudaFree ' record)" -eq 600 ]
fresh

# ---- DETSHIM_CUBLAS_WORKSPACE_SIZE ----
for good in "64K 65536" "65536 65536" "1MiB 1048576" "2mb 2097152" "1G 1073741824"; do
    set -- $good
    DETSHIM_CUBLAS_WORKSPACE_SIZE=$1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog_nort" create > out 2> err
    DETSHIM_CUBLAS_WORKSPACE_SIZE=$1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
    check "DETSHIM_CUBLAS_WORKSPACE_SIZE=$1: $2 bytes" [ "$(grep -c "^cudaMalloc .* size=$2\$" record)" -eq 2 -a ! -s err ]
    check "DETSHIM_CUBLAS_WORKSPACE_SIZE=$1: in the header" [ "$(q 'select(.type=="header")|.env.DETSHIM_CUBLAS_WORKSPACE_SIZE' "$(logs | tail -n1)")" = "$1" ]
    fresh
done
for bad in lots -1 17G 12Q 4KB2 ' 5'; do
    DETSHIM_CUBLAS_WORKSPACE_SIZE=$bad DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
    check "DETSHIM_CUBLAS_WORKSPACE_SIZE='$bad': one message, the default 32 MiB used" \
        [ "$(grep -c "DETSHIM_CUBLAS_WORKSPACE_SIZE='$bad' is not valid; accepted values: a size in bytes up to 16G" err)" -eq 1 -a "$(grep -c '^cudaMalloc .* size=33554432$' record)" -eq 2 ]
    fresh
done

# ---- layer switches ----
DETSHIM_DISABLE=cublas DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "cublas disabled: nothing installed" [ "$(grep -c '^cublasSetWorkspace_v2\|^cudaMalloc' record)" -eq 0 ]
fresh

# ---- exported names: the _v2/_64 names, never the plain ones cublas_v2.h maps ----
nm -D --defined-only "$SHIM" | awk '{print $3}' > exports
for s in cublasCreate_v2 cublasSetStream_v2 cublasSetWorkspace_v2 cublasSetAtomicsMode cublasSetMathMode \
         cublasSgemm_v2 cublasSgemm_v2_64 cublasGemmEx_64 cublasGemmStridedBatchedEx cublasZhemv_v2_64 \
         cublasLtMatmul cublasLtMatmulAlgoGetHeuristic; do
    check "exports $s" grep -qx "$s" exports
done
for s in cublasCreate cublasSetStream cublasSetWorkspace cublasSgemm cublasSsymv cublasGetAtomicsMode cublasGetMathMode; do
    check "does not export $s" bash -c "! grep -qx '$s' '$T/exports'"
done
# ---- every argument of a 19-argument routine arrives unchanged, on the full check (the first
# call) and on the fast way (the calls after it), in each mode ----
for m in off log enforce strict; do
    DETSHIM_MODE=$m run_shim "$CPROGS/cublas_prog" args 4 > out 2> err
    want=$(grep '^args ' out)
    check "args $m: all four calls succeed" [ "$(grep -c '^gemmex=0$' out)" -eq 4 ]
    check "args $m: the library saw every argument as passed, four times" \
        [ "$(grep -cxF "cublasGemmEx $want" record)" -eq 4 ]
    [ $m = off ] || check "args $m: the summary counts all four calls" \
        [ "$(q 'select(.type=="summary")|.calls.cublasGemmEx')" = 4 ]
    fresh
done
finish
