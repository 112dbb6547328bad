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
finish
