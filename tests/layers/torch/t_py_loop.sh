#!/bin/bash
# torch 1.13 on the CPU, an alerting op (put_) in a function called from a loop: torch's
# binding releases the GIL around the op, and the event still names the op's line and the
# caller's (shim/core/pyframes.c); strict mode's refusal names the Python line first.
. "$(dirname "$0")/../../preload/lib.sh"
. "$(dirname "$0")/pylib.sh"
P=$TORCH_PY/loop.py
alert() { ev "select(.symbol==\"$C10\")|$1"; }

fresh
run_shim "$PYTHON" "$P" > out 2> err
check "enforce: the program ran" grep -qx trained out
check "enforce: one alert event naming put_" [ "$(alert .op)" = put_ ]
check "enforce: the native stack says the binding ran it (the GIL released there)" \
    [ "$(alert '[.stack[].module|select(test("libtorch_python"))]|length>0')" = true ]
check "enforce: the Python stack: the op's line, the caller's line in the loop, the module's" \
    [ "$(pyat ".symbol==\"$C10\"" "$P" | tr '\n' '|')" = "$(line_of OP "$P") scatter|$(line_of CALLER "$P") train|$(line_of MAIN "$P") <module>|" ]
check "enforce: no note" [ "$(alert 'has("pystack_note")')" = false ]
check "enforce: both calls on that one site" \
    [ "$(q "select(.type==\"summary\")|[.sites[]|select(.symbol==\"$C10\").count]|add")" = 2 ]
check "enforce: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"

fresh
DETSHIM_MODE=strict run_shim "$PYTHON" "$P" > out 2> err
check "strict: torch raised (the program stopped)" [ ! -s out ]
check "strict: the refusal's first location is the op's Python line" \
    [ "$(grep -A1 'strict mode refused' err | sed -n 2p)" = "  at loop.py:$(line_of OP "$P") in scatter" ]
check "strict: then the caller's" [ "$(grep -A2 'strict mode refused' err | sed -n 3p)" = "      loop.py:$(line_of CALLER "$P") in train" ]
finish
