#!/bin/bash
# The issue's acceptance check: a program linked against the fake cuBLAS, run with
# LD_PRELOAD=libdetshim.so, produces a log whose header and event records (with a
# symbolised stack naming the test function) match the documented schema.
. "$(dirname "$0")/lib.sh"
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 run_shim "$PROGS/core_prog" create 3 > out  # the opt-in pin: its header record
check "program output unchanged" grep -qx "status=0" out
check "exactly one log" [ "$(nlogs)" -eq 1 ]
L=$(onelog)
check "log valid against docs/log-format.md" "$PYTHON" "$LOGCHECK" "$L"
check "header first, with pid and mode" [ "$(head -n1 "$L" | jq -r '[.type,.pid>1,.mode]|@tsv')" = "header	true	enforce" ]
check "header names the program" [ "$(q '.cmdline[1]? // empty' | head -n1)" = "create" ]
check "header lists the loaded fake cuBLAS with its path" \
    [ "$(q 'select(.type=="header")|.libraries[]|select(.name=="libcublas.so.13")|.realpath')" = "$(readlink -f "$FAKES/libcublas.so.13")" ]
check "header records the CUBLAS_WORKSPACE_CONFIG pin" \
    [ "$(q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|.value+" "+.action')" = ":4096:8 set" ]
check "header env shows the pinned value" [ "$(q 'select(.type=="header")|.env.CUBLAS_WORKSPACE_CONFIG')" = ":4096:8" ]
check "one event for the one call site" [ "$(q 'select(.type=="event")|.symbol' | wc -l)" -eq 1 ]
check "event names layer, symbol, action" [ "$(q 'select(.type=="event")|[.layer,.symbol,.action]|@tsv')" = "cublas	cublasCreate_v2	observed" ]
check "stack frame 0 is the calling (static) test function" \
    [ "$(q 'select(.type=="event")|.stack[0].function')" = "create_handles_here" ]
check "stack frame 0 is in the test program" \
    [ "$(q 'select(.type=="event")|.stack[0].module')" = "$(readlink -f "$PROGS/core_prog")" ]
check "stack reaches main" [ "$(q 'select(.type=="event")|[.stack[].function]|index("main") != null')" = "true" ]
check "no shim frames in the stack" [ "$(q 'select(.type=="event")|[.stack[].module|select(test("libdetshim"))]|length')" = "0" ]
check "device record once CUDA is initialised" [ "$(q 'select(.type=="device")|[.name,.sm_count,.compute_capability,.driver_version]|@tsv')" = "Fake GPU H100-like	132	9.0	13000" ]
check "summary counts every call" [ "$(q 'select(.type=="summary")|[.calls.cublasCreate_v2,.calls.cublasDestroy_v2,.sites[0].count,.events]|@tsv')" = "3	3	3	3" ]
check "the fake library really ran 3 creates" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 3 ]
finish
