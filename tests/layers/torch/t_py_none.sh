#!/bin/bash
# Python without torch: no log file, the same output as without the shim (but for the
# cuBLAS pin the core applies to every process in enforce mode when asked to). And the Python stack of
# another layer's event, from a hooked call made with and without the GIL (ctypes).
. "$(dirname "$0")/../../preload/lib.sh"
. "$(dirname "$0")/pylib.sh"
P=$TORCH_PY/plain.py
C=$TORCH_PY/ctypes_call.py
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_CONFIG

fresh
"$PYTHON" "$P" > plain.out
run_shim "$PYTHON" "$P" > out 2> err
check "no torch: no log file" [ "$(nlogs)" = 0 ]
check "no torch: nothing on stderr" [ ! -s err ]
check "no torch: same output" diff <(grep -v CUBLAS plain.out) <(grep -v CUBLAS out)
check "no torch: CUBLAS_WORKSPACE_CONFIG is not exported by default" grep -qx "CUBLAS_WORKSPACE_CONFIG unset" out
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 run_shim "$PYTHON" "$P" > out 2> err
check "no torch, DETSHIM_CUBLAS_WORKSPACE_CONFIG=1: only the core's pin differs" grep -qx "CUBLAS_WORKSPACE_CONFIG :4096:8" out

fresh
run_shim "$PYTHON" "$C" "$PROGS/libmiddle.so" pydll > out 2> err
check "GIL held: the fake cuBLAS answered" grep -qx "status 0" out
check "GIL held: a cuBLAS event carries the Python stack: file, line, function" \
    [ "$(pyat '.symbol=="cublasCreate_v2"' "$C" | tr '\n' '|')" = "$(line_of CREATE "$C") create|$(line_of MAIN "$C") <module>|" ]
check "GIL held: innermost Python frame first" [ "$(ev '.pystack[0].function')" = "create" ]
check "GIL held: no note" [ "$(ev 'has("pystack_note")')" = false ]
check "GIL held: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"

fresh
run_shim "$PYTHON" "$C" "$PROGS/libmiddle.so" cdll > out 2> err
check "GIL released by ctypes: the call went through" grep -qx "status 0" out
check "GIL released by ctypes: the Python stack all the same, no note" \
    [ "$(pyat '.symbol=="cublasCreate_v2"' "$C" | tr '\n' '|')$(ev 'has("pystack_note")')" = "$(line_of CREATE "$C") create|$(line_of MAIN "$C") <module>|false" ]
finish
