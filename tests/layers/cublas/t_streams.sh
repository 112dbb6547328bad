#!/bin/bash
# One workspace per stream: what the fake cuBLAS ran each routine with, per stream, and
# what the log says, in each mode.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH CUBLAS_PROG_SETENV DETSHIM_CUBLAS_WORKSPACE_CONFIG
val() { sed -n "s/^$1=//p" out | head -n1; }
# the distinct workspaces the routines ran with on stream $1
ws_on() { awk -v s="stream=$1" '/^cublas(Sgemm_v2|Dgemm_v2_64|GemmEx) / && $3 == s { print $4 }' record | sort -u | tr '\n' ' ' | sed 's/ $//'; }
nws_on() { ws_on "$1" | wc -w; }
setws_on() { awk -v s="stream=$1" '/^cublasSetWorkspace_v2 / && $3 == s' record | wc -l; }
ev() { q "select(.type==\"event\" and .symbol==\"$1\")|$2" | head -n1; }
statuses_ok() { ! grep -Ev '^(s[12]|b[12])=|=0$' out | grep -q .; }

# ---- two streams, default workspace ----
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
s1=$(val s1); s2=$(val s2)
check "enforce: every call succeeded" statuses_ok
check "enforce: s1's routines ran on one workspace" [ "$(nws_on "$s1")" -eq 1 ]
check "enforce: s2's routines ran on one workspace" [ "$(nws_on "$s2")" -eq 1 ]
check "enforce: not the default workspace" bash -c "! grep -E '^cublas(Sgemm|Dgemm|GemmEx).* workspace=default' record"
check "enforce: s1 and s2 have different workspaces" [ "$(ws_on "$s1")" != "$(ws_on "$s2")" ]
check "enforce: cublasSetWorkspace_v2 at the first gemm after each of the 3 cublasSetStream_v2" \
    [ "$(setws_on "$s1")" -eq 2 -a "$(setws_on "$s2")" -eq 1 ]
check "enforce: each installed with the default size 32 MiB" \
    [ "$(grep -c '^cublasSetWorkspace_v2 .* size=33554432$' record)" -eq 3 ]
check "enforce: allocated once per (handle, stream): 2 cudaMalloc of 32 MiB" \
    [ "$(grep -c '^cudaMalloc .* size=33554432$' record)" -eq 2 ]
check "enforce: the workspaces are the cudaMalloc'd ones" \
    [ "$(ws_on "$s1") $(ws_on "$s2")" = "$(sed -n 's/^cudaMalloc ptr=\([^ ]*\) size=33554432$/workspace=\1/p' record | tr '\n' ' ' | sed 's/ $//')" ]
check "enforce: freed when the handle is destroyed (after cublasDestroy_v2)" \
    [ "$(sed -n '/^cublasDestroy_v2/,$p' record | grep -c '^cudaFree ')" -eq 2 ]
check "enforce: a forced event at the gemm that needed it, none at cublasSetStream_v2" \
    [ "$(ev cublasSgemm_v2 .action)" = "forced" -a -z "$(ev cublasSetStream_v2 .action)" ]
check "enforce: one per pair" [ "$(q 'select(.type=="event" and .action=="forced")|.stream' | sort -u | wc -l)" -eq 2 ]
check "enforce: the event names handle, stream, workspace and size" \
    [ "$(ev cublasSgemm_v2 '[.stream,.workspace_size,(.workspace|startswith("0x")),(.handle|startswith("0x"))]|@tsv')" = "$s1	33554432	true	true" ]
check "enforce: the event's stack reaches the program's run_on" \
    [ "$(ev cublasSgemm_v2 '[.stack[].function]|index("run_on") != null')" = "true" ]
check "enforce: no sharing event" [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
check "enforce: summary counts the 3 cublasSetStream_v2 calls" [ "$(q 'select(.type=="summary")|.calls.cublasSetStream_v2')" = "3" ]
check "enforce: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh

DETSHIM_MODE=strict run_shim "$CPROGS/cublas_prog" streams > out 2> err
s1=$(val s1); s2=$(val s2)
check "strict: every call succeeded" statuses_ok
check "strict: each stream its own workspace" \
    [ "$(nws_on "$s1")" -eq 1 -a "$(nws_on "$s2")" -eq 1 -a "$(ws_on "$s1")" != "$(ws_on "$s2")" ]
check "strict: nothing on stderr" [ ! -s err ]
fresh

DETSHIM_CUBLAS_WORKSPACE_SIZE=1M DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "DETSHIM_CUBLAS_WORKSPACE_SIZE=1M: workspaces of 1 MiB" \
    [ "$(grep -c '^cublasSetWorkspace_v2 .* size=1048576$' record)" -eq 3 ]
fresh
DETSHIM_CUBLAS_WORKSPACE_SIZE=0 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "DETSHIM_CUBLAS_WORKSPACE_SIZE=0: no workspace installed" [ "$(grep -c '^cublasSetWorkspace_v2' record)" -eq 0 ]
check "... and none allocated" [ "$(grep -c '^cudaMalloc' record)" -eq 0 ]
check "... and the sharing of the default pool is observed (nothing exports CUBLAS_WORKSPACE_CONFIG)" \
    [ "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" = "cublasSgemm_v2" ]
fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_CUBLAS_WORKSPACE_SIZE=0 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "... with DETSHIM_CUBLAS_WORKSPACE_CONFIG=1: no sharing event (the pinned :4096:8 makes the default pool safe)" \
    [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
fresh

DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" streams > out 2> err
s1=$(val s1); s2=$(val s2)
check "log: every call succeeded" statuses_ok
check "log: nothing changed: no cublasSetWorkspace_v2, no cudaMalloc" \
    [ "$(grep -c '^cublasSetWorkspace_v2\|^cudaMalloc' record)" -eq 0 ]
check "log: routines on the default workspace on both streams" \
    [ "$(ws_on "$s1")" = "workspace=default" -a "$(ws_on "$s2")" = "workspace=default" ]
check "log: one observed event: s2 runs on the default workspace s1 also uses" \
    [ "$(q 'select(.type=="event" and .symbol!="cublasCreate_v2")|[.symbol,.action,.stream,.other_stream,.workspace]|@tsv')" = "cublasSgemm_v2	observed	$s2	$s1	default" ]
check "log: its detail says why" grep -q "default workspace that stream $s1 also uses" <(ev cublasSgemm_v2 .detail)
check "log: its stack reaches run_on" [ "$(ev cublasSgemm_v2 '[.stack[].function]|index("run_on") != null')" = "true" ]
check "log: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
CUBLAS_WORKSPACE_CONFIG=:4096:8 DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "log with CUBLAS_WORKSPACE_CONFIG=:4096:8: no sharing event (NVIDIA's fix 4)" \
    [ -z "$(q 'select(.type=="event" and .symbol!="cublasCreate_v2")|.symbol')" ]
fresh
DETSHIM_MODE=off run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "off: no cublasSetWorkspace_v2, no log" [ "$(grep -c '^cublasSetWorkspace_v2' record)" -eq 0 -a "$(nlogs)" -eq 0 ]
fresh

# ---- the program changes CUBLAS_WORKSPACE_CONFIG itself after the constructor ----
CUBLAS_PROG_SETENV=:4096:2 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
s1=$(val s1); s2=$(val s2)
check "program-set unsafe config, enforce: each stream still its own workspace" \
    [ "$(nws_on "$s1")" -eq 1 -a "$(nws_on "$s2")" -eq 1 -a "$(ws_on "$s1")" != "$(ws_on "$s2")" -a "$(ws_on "$s1")" != "workspace=default" ]
fresh
CUBLAS_PROG_SETENV=:4096:2 DETSHIM_CUBLAS_WORKSPACE_SIZE=0 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" streams > out 2> err
s1=$(val s1); s2=$(val s2)
check "... without shim workspaces, enforce: calls succeed" statuses_ok
check "... and the sharing is recorded as observed (not fixed)" \
    [ "$(q 'select(.type=="event" and .symbol=="cublasSgemm_v2")|[.action,.stream,.other_stream]|@tsv')" = "observed	$s2	$s1" ]
check "... saying the shim could not fix it" grep -q "could not give the stream a workspace of its own" <(ev cublasSgemm_v2 .detail)
fresh
CUBLAS_PROG_SETENV=:4096:2 DETSHIM_CUBLAS_WORKSPACE_SIZE=0 DETSHIM_MODE=strict run_shim "$CPROGS/cublas_prog" streams > out 2> err
check "... strict: s1's routines run" [ "$(val 'sgemm s1')" = "0" ]
check "... strict: s2's routines are refused (CUBLAS_STATUS_NOT_SUPPORTED)" \
    [ "$(val 'sgemm s2')" = "15" -a "$(val 'dgemm64 s2')" = "15" -a "$(val 'gemmex s2')" = "15" ]
check "... strict: the fake never ran them" [ "$(grep -c "^cublas.*gemm.* stream=$(val s2) " record)" -eq 0 ]
check "... strict: one refusal paragraph on stderr" [ "$(grep -c 'strict mode refused cublasSgemm_v2' err)" -eq 1 ]
check "... strict: it says how to allow it" grep -q "to allow it: set CUBLAS_WORKSPACE_CONFIG=:4096:8" err
check "... strict: blocked events" [ "$(q 'select(.type=="event" and .action=="blocked")|.symbol' | sort -u | tr '\n' ' ')" = "cublasDgemm_v2_64 cublasGemmEx cublasSgemm_v2 " ]
fresh

# ---- one program buffer on two streams ----
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" sharedws > out 2> err
s1=$(val s1); s2=$(val s2); b=$(val b1)
check "sharedws enforce: calls succeed" statuses_ok
check "sharedws enforce: s1 keeps the program's buffer" [ "$(ws_on "$s1")" = "workspace=$b" ]
check "sharedws enforce: s2 runs on a workspace of its own" \
    [ "$(nws_on "$s2")" -eq 1 -a "$(ws_on "$s2")" != "workspace=$b" -a "$(ws_on "$s2")" != "workspace=default" ]
check "sharedws enforce: of at least the program's size" grep -q "^cublasSgemm_v2 .* stream=$s2 .* size=33554432 " record
check "sharedws enforce: a forced cublasSetWorkspace_v2 event naming the replaced buffer" \
    [ "$(ev cublasSetWorkspace_v2 '[.action,.stream,.replaced]|@tsv')" = "forced	$s2	$b" ]
check "sharedws enforce: no observed sharing event" [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
fresh
DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" sharedws > out 2> err
s1=$(val s1); s2=$(val s2); b=$(val b1)
check "sharedws log: both streams run on the program's buffer" [ "$(ws_on "$s1")" = "workspace=$b" -a "$(ws_on "$s2")" = "workspace=$b" ]
check "sharedws log: the program's 4 cublasSetWorkspace_v2 only" [ "$(grep -c '^cublasSetWorkspace_v2' record)" -eq 4 ]
check "sharedws log: an observed event naming both streams and the buffer" \
    [ "$(ev cublasSgemm_v2 '[.action,.stream,.other_stream,.workspace]|@tsv')" = "observed	$s2	$s1	$b" ]
fresh

# ---- a buffer per stream (PyTorch's cache): the program's buffers are kept ----
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" ownws > out 2> err
s1=$(val s1); s2=$(val s2)
check "ownws enforce: the shim allocated nothing (only the program's two buffers)" \
    [ "$(grep -c '^cudaMalloc ' record)" -eq 2 -a "$(grep -c '^cudaMalloc .* size=33554432$' record)" -eq 0 ]
check "ownws enforce: the shim installed nothing" [ "$(grep -c '^cublasSetWorkspace_v2' record)" -eq 4 ]
check "ownws enforce: s1 runs on the program's b1" [ "$(ws_on "$s1")" = "workspace=$(val b1)" ]
check "ownws enforce: s2 runs on the program's b2" [ "$(ws_on "$s2")" = "workspace=$(val b2)" ]
check "ownws enforce: no cublasSetWorkspace_v2 event" [ -z "$(ev cublasSetWorkspace_v2 .action)" ]
check "ownws enforce: no observed event" [ -z "$(q 'select(.type=="event" and .action=="observed" and .symbol!="cublasCreate_v2")|.symbol')" ]
fresh
DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" ownws > out 2> err
check "ownws log: no event but the create" [ "$(q 'select(.type=="event")|.symbol' | sort -u)" = "cublasCreate_v2" ]

# ---- on demand: 64 streams, PyTorch's pattern against the program that sets nothing ----
fresh
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" torchstreams 64 > out 2> err
check "64 streams, own buffer after each cublasSetStream: every gemm succeeds" [ "$(val failed)" = "0" ]
check "64 streams, own buffer after each cublasSetStream: the shim allocated 0 bytes" \
    [ "$(grep '^cudaMalloc ' record | grep -vc 'size=65536$')" -eq 0 ]
check "... and installed nothing" [ "$(grep -c '^cublasSetWorkspace_v2' record)" -eq 64 ]
fresh
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" manystreams 64 > out 2> err
check "64 streams, nothing set: every gemm succeeds" [ "$(val failed)" = "0" ]
check "64 streams, nothing set: a workspace for each stream a gemm ran on (31 tracked; 992 MiB)" \
    [ "$(grep '^cudaMalloc .* size=33554432$' record | wc -l)" -eq 31 ]
fresh
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "a handle that runs nothing: nothing allocated" [ "$(grep -c '^cudaMalloc' record)" -eq 0 ]
fresh

# ---- a stream destroyed while its handle lives: its workspace is given back then ----
DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" dropstream > out 2> err
s1=$(val s1); s2=$(val s2)
check "dropstream: every call succeeds" statuses_ok
ws1=$(sed -n "s/^cublasSetWorkspace_v2 .* stream=$s1 workspace=\([^ ]*\) .*/\1/p" record | head -n1)
check "dropstream: s1's workspace freed before the handle is destroyed" \
    [ -n "$ws1" -a "$(sed -n '/^cublasDestroy_v2/q;p' record | grep -c "^cudaFree ptr=$ws1\$")" -eq 1 ]
check "dropstream: s2's freed with the handle" [ "$(sed -n '/^cublasDestroy_v2/,$p' record | grep -c '^cudaFree ')" -eq 1 ]
check "dropstream: s2 keeps running on its own workspace" \
    [ "$(grep -c "^cublasSgemm_v2 .* stream=$s2 .*workspace=default" record)" -eq 0 ]
finish
