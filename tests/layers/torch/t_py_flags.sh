#!/bin/bash
# Debian's torch 1.13 under the shim, no code change: what the program sees of torch's
# determinism switches and of CUBLAS_WORKSPACE_CONFIG, per mode.
. "$(dirname "$0")/../../preload/lib.sh"
. "$(dirname "$0")/pylib.sh"
P=$TORCH_PY/flags.py
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_CONFIG

fresh
run_shim "$PYTHON" "$P" > out 2> err
check "enforce: deterministic algorithms on" grep -qx "deterministic_algorithms True" out
check "enforce: warn-only (ops without a deterministic implementation do not stop training)" grep -qx "warn_only True" out
check "enforce: cudnn.deterministic True" grep -qx "cudnn_deterministic True" out
check "enforce: cudnn.benchmark False" grep -qx "cudnn_benchmark False" out
check "enforce: CUBLAS_WORKSPACE_CONFIG not exported by default" grep -qx "CUBLAS_WORKSPACE_CONFIG unset" out
check "enforce: one log, valid" "$PYTHON" "$LOGCHECK" $(logs)
check "enforce: no cuBLAS pin in the header" \
    [ -z "$(q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|.value')" ]
check "enforce: the getters were asked (summary)" \
    [ "$(q 'select(.type=="summary")|.calls._ZNK2at7Context23deterministicAlgorithmsEv')" -ge 1 ]
check "enforce: nothing missing in this torch (no notice)" [ "$(q 'select(.type=="notice")|.message' | wc -l)" = 0 ]
check "enforce: nothing on stderr" [ ! -s err ]

fresh
DETSHIM_MODE=strict run_shim "$PYTHON" "$P" > out 2> err
check "strict: deterministic algorithms on, not warn-only" \
    [ "$(grep -E '^(deterministic_algorithms|warn_only) ' out | tr '\n' ' ')" = "deterministic_algorithms True warn_only False " ]
check "strict: cuDNN deterministic, no benchmark" \
    [ "$(grep -E '^cudnn' out | tr '\n' ' ')" = "cudnn_deterministic True cudnn_benchmark False " ]

fresh
DETSHIM_MODE=log run_shim "$PYTHON" "$P" > out 2> err
check "log: torch's flags untouched" \
    [ "$(head -n4 out | tr '\n' ' ')" = "deterministic_algorithms False warn_only False cudnn_deterministic False cudnn_benchmark False " ]
check "log: nothing pinned" grep -qx "CUBLAS_WORKSPACE_CONFIG unset" out
check "log: header has no pin" [ "$(q 'select(.type=="header")|.pins|length')" = 0 ]
check "log: calls counted" [ "$(q 'select(.type=="summary")|.calls._ZNK2at7Context23deterministicAlgorithmsEv')" -ge 1 ]

fresh
DETSHIM_MODE=off run_shim "$PYTHON" "$P" > out 2> err
check "off: torch's flags untouched" \
    [ "$(head -n4 out | tr '\n' ' ')" = "deterministic_algorithms False warn_only False cudnn_deterministic False cudnn_benchmark False " ]
check "off: nothing pinned" grep -qx "CUBLAS_WORKSPACE_CONFIG unset" out
check "off: no log" [ "$(nlogs)" = 0 ]

fresh
DETSHIM_DISABLE=torch run_shim "$PYTHON" "$P" > out 2> err
check "torch layer disabled: torch's flags untouched" grep -qx "deterministic_algorithms False" out

fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 run_shim "$PYTHON" "$P" > out 2> err
check "enforce, opted in: CUBLAS_WORKSPACE_CONFIG pinned before Python started" grep -qx "CUBLAS_WORKSPACE_CONFIG :4096:8" out
check "enforce, opted in: the pin is in the header" \
    [ "$(q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|.value')" = ":4096:8" ]
fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_DISABLE=torch run_shim "$PYTHON" "$P" > out 2> err
check "torch layer disabled, opted in: the cuBLAS pin still applies" grep -qx "CUBLAS_WORKSPACE_CONFIG :4096:8" out

fresh
CUBLAS_WORKSPACE_CONFIG=:0:0 run_shim "$PYTHON" "$P" > out 2> err
check "enforce: a user's CUBLAS_WORKSPACE_CONFIG is left alone" grep -qx "CUBLAS_WORKSPACE_CONFIG :0:0" out
fresh
CUBLAS_WORKSPACE_CONFIG=:0:0 DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 run_shim "$PYTHON" "$P" > out 2> err
check "enforce, opted in: a nondeterministic CUBLAS_WORKSPACE_CONFIG is replaced" grep -qx "CUBLAS_WORKSPACE_CONFIG :4096:8" out
finish
