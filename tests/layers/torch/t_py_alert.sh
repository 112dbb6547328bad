#!/bin/bash
# An op without a deterministic implementation (put_ with accumulate=False, torch 1.13
# on the CPU): enforce records it and training goes on; strict records it, then torch
# raises its own RuntimeError; log records it (torch 1.13 calls the alert for put_ even
# with the flag off) and changes nothing.
. "$(dirname "$0")/../../preload/lib.sh"
. "$(dirname "$0")/pylib.sh"
P=$TORCH_PY/alert.py
LOG=$T/log-1.jsonl
MSG="RuntimeError: put_ does not have a deterministic implementation"
PUT=_ZN2at6native4put_ERNS_6TensorERKS1_S4_b  # at::native::put_ (demangled where __cxa_demangle is global)
alert() { ev "select(.symbol==\"$C10\")|$1"; }

fresh
DETSHIM_LOG=$LOG run_shim "$PYTHON" "$P" "$LOG" > out 2> err
check "enforce: put_ did not raise (3 times)" [ "$(grep -c '^put_ ran$' out)" = 3 ]
check "enforce: determinism still on at the end" grep -qx "deterministic_algorithms True" out
check "enforce: valid log" "$PYTHON" "$LOGCHECK" "$LOG"
check "enforce: one event naming put_, observed" [ "$(alert '[.op,.action,.mode]|@tsv')" = "put_	observed	enforce" ]
check "enforce: one call site, hit 3 times" \
    [ "$(q "select(.type==\"summary\")|.sites[]|select(.symbol==\"$C10\")|.count")" = 3 ]
check "enforce: native stack frame 0 is at::native::put_ in libtorch_cpu" \
    [ "$(alert '.stack[0]|[.mangled // .function,(.module|test("libtorch_cpu"))]|@tsv')" = "$PUT	true" ]
check "enforce: the native stack passes through torch's Python binding" \
    [ "$(alert '[.stack[].module|select(test("libtorch_python"))]|length>0')" = true ]
check "enforce: torch's binding released the GIL, the Python line is there all the same" \
    [ "$(pyat ".symbol==\"$C10\"" "$P")" = "$(line_of PUT "$P") <module>" ]
check "enforce: no note" [ "$(alert 'has("pystack_note")')" = false ]
check "enforce: nothing on stderr (no torch warning either)" [ ! -s err ]

fresh
DETSHIM_MODE=strict DETSHIM_LOG=$LOG run_shim "$PYTHON" "$P" "$LOG" > out 2> err
check "strict: torch's own RuntimeError, each time" [ "$(grep -c "^$MSG\$" out)" = 3 ]
check "strict: the event was in the log before the error reached Python" \
    [ "$(grep -c '^event already logged: True$' out)" = 3 ]
check "strict: one event naming put_, blocked" [ "$(alert '[.op,.action,.mode]|@tsv')" = "put_	blocked	strict" ]
check "strict: the event has the native stack" [ "$(alert '.stack[0]|.mangled // .function')" = "$PUT" ]
check "strict: refusal on stderr once, naming put_" [ "$(grep -c "strict mode refused $C10: put_" err)" = 1 ]
check "strict: the shim still in charge after the C++ exception (guard balanced)" \
    grep -qx "deterministic_algorithms True" out
check "strict: valid log" "$PYTHON" "$LOGCHECK" "$LOG"

fresh
DETSHIM_LOG=$LOG run_shim "$PYTHON" "$P" "$LOG" ask > out 2> err
check "enforce, program asked for errors: torch raises as asked" [ "$(grep -c "^$MSG\$" out)" = 3 ]
check "enforce, program asked for errors: recorded as observed" \
    [ "$(alert '[.op,.action]|@tsv')" = "put_	observed" ]

fresh
DETSHIM_MODE=log DETSHIM_LOG=$LOG run_shim "$PYTHON" "$P" "$LOG" > out 2> err
check "log: put_ ran (flag off, nothing changed)" [ "$(grep -c '^put_ ran$' out)" = 3 ]
check "log: the alert recorded although torch's flag is off" [ "$(alert '[.op,.action,.mode]|@tsv')" = "put_	observed	log" ]
check "log: determinism off at the end, as the program set it" grep -qx "deterministic_algorithms False" out

fresh
DETSHIM_MODE=log DETSHIM_LOG=$LOG run_shim "$PYTHON" "$P" "$LOG" ask > out 2> err
check "log, program asked for errors: torch raises as without the shim" [ "$(grep -c "^$MSG\$" out)" = 3 ]
check "log, program asked for errors: the event was logged first" [ "$(grep -c '^event already logged: True$' out)" = 3 ]

fresh
DETSHIM_MODE=off run_shim "$PYTHON" "$P" /dev/null > out 2> err
check "off: put_ ran, nothing logged" [ "$(grep -c '^put_ ran$' out)$(nlogs)" = 30 ]
finish
