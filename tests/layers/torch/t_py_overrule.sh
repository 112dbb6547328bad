#!/bin/bash
# A program that switches determinism off (torch.use_deterministic_algorithms(False),
# cudnn.benchmark = True, cudnn.deterministic = False) is overruled in enforce mode, and
# each attempt is logged once per call site with the Python file and line of the call.
. "$(dirname "$0")/../../preload/lib.sh"
. "$(dirname "$0")/pylib.sh"
P=$TORCH_PY/overrule.py
SETALG=_ZN2at7Context26setDeterministicAlgorithmsEbb
SETBENCH=_ZN2at7Context17setBenchmarkCuDNNEb
SETCUDNN=_ZN2at7Context21setDeterministicCuDNNEb
USE_OFF=$(line_of USE_OFF "$P") BENCH_ON=$(line_of BENCH_ON "$P")
CUDNN_DET_OFF=$(line_of CUDNN_DET_OFF "$P") BENCH_LOOP=$(line_of BENCH_LOOP "$P")

fresh
run_shim "$PYTHON" "$P" > out 2> err
check "enforce: use_deterministic_algorithms(False) overruled" grep -qx "after_use_deterministic_algorithms True" out
check "enforce: cudnn.benchmark = True overruled" grep -qx "after_cudnn_benchmark False" out
check "enforce: cudnn.deterministic = False overruled" grep -qx "after_cudnn_deterministic True" out
check "enforce: repeated cudnn.benchmark = True overruled" grep -qx "after_loop False" out
check "enforce: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
check "enforce: use_deterministic_algorithms(False) logged, forced, with what was asked" \
    [ "$(ev "select(.symbol==\"$SETALG\")|[.action,.setting,.requested,.warn_only,.value]|@tsv")" = "forced	deterministic_algorithms	false	false	true" ]
check "enforce: its Python stack names the file and line of the call, in switch_off" \
    [ "$(pyat ".symbol==\"$SETALG\"" "$P" | head -n1)" = "$USE_OFF switch_off" ]
check "enforce: ... and the caller of switch_off" \
    [ "$(pyat ".symbol==\"$SETALG\"" "$P" | sed -n 2p)" = "$(line_of CALL_SWITCH_OFF "$P") <module>" ]
check "enforce: the innermost Python frame is torch's own use_deterministic_algorithms" \
    [ "$(ev "select(.symbol==\"$SETALG\")|.pystack[0].function")" = "use_deterministic_algorithms" ]
check "enforce: cudnn.benchmark = True logged at its line and at the loop's line" \
    [ "$(pyat ".symbol==\"$SETBENCH\"" "$P" | sort -n | tr '\n' '|')" = "$BENCH_ON <module>|$BENCH_LOOP <module>|" ]
check "enforce: cudnn.benchmark events forced, value false" \
    [ "$(ev "select(.symbol==\"$SETBENCH\")|[.action,.requested,.value]|@tsv" | sort -u)" = "forced	true	false" ]
check "enforce: the loop is one call site hit twice" \
    [ "$(q "select(.type==\"summary\")|.sites[]|select(.symbol==\"$SETBENCH\")|.count" | sort -n | tr '\n' ' ')" = "1 2 " ]
check "enforce: cudnn.deterministic = False logged at its line" \
    [ "$(pyat ".symbol==\"$SETCUDNN\"" "$P")" = "$CUDNN_DET_OFF <module>" ]
check "enforce: the native stack starts in torch's Python binding" \
    [ "$(ev "select(.symbol==\"$SETALG\")|.stack[0].module" | grep -c libtorch_python)" = 1 ]

fresh
DETSHIM_MODE=log run_shim "$PYTHON" "$P" > out 2> err
check "log: the program's switches take effect" \
    [ "$(cut -d' ' -f2 out | tr '\n' ' ')" = "False True False True " ]
check "log: each attempt recorded as observed, at its line" \
    [ "$(ev 'select(.setting)|"\(.action) \(.setting) \(.value)"' | sort | uniq -c | awk '{$1=$1};1' | tr '\n' '|')" = "2 observed cudnn_benchmark true|1 observed cudnn_deterministic false|1 observed deterministic_algorithms false|" ]
check "log: Python line of use_deterministic_algorithms(False)" \
    [ "$(pyat ".symbol==\"$SETALG\"" "$P" | head -n1)" = "$USE_OFF switch_off" ]
finish
