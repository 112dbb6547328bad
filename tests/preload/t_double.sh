#!/bin/bash
# Preloaded twice (a module and `detshim run`, from two paths): no recursion, one log,
# exact counts.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "checks the release artefact itself (exports, inertness in uninstrumented programs)"
mkdir copy && cp "$SHIM" copy/libdetshim.so
DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="$SHIM:$T/copy/libdetshim.so" "$PROGS/core_prog" create 3 > out 2> err
check "program ran" grep -qx "status=0" out
check "one log" [ "$(nlogs)" -eq 1 ]
check "one event, counted 3 (not twice)" [ "$(q 'select(.type=="summary")|[.calls.cublasCreate_v2,.events]|@tsv')" = "3	3" ]
check "the fake ran exactly 3 creates" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 3 ]
# the other order, and the copy first through `detshim run` (it prepends its library)
fresh
DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="$T/copy/libdetshim.so:$SHIM" "$PROGS/core_prog" create 3 > out 2> err
check "copy first: one log, one header, one summary" \
    [ "$(nlogs)-$(grep -c '"type":"header"' "$(onelog)")-$(grep -c '"type":"summary"' "$(onelog)")" = "1-1-1" ]
if [ -n "${DETSHIM_CMD:-}" ]; then
    fresh
    LD_PRELOAD="$T/copy/libdetshim.so" "$DETSHIM_CMD" run --log "$T/log-%p.jsonl" -- "$PROGS/core_prog" create 3 > out 2> err
    check "detshim run under a copy: one log, one header, one summary" \
        [ "$(nlogs)-$(grep -c '"type":"header"' "$(onelog)")-$(grep -c '"type":"summary"' "$(onelog)")" = "1-1-1" ]
fi
finish
