#!/bin/bash
# fork: every child logs to its own file, with its own header and counts.
. "$(dirname "$0")/lib.sh"
run_shim "$PROGS/core_prog" fork 4 5 > out
check "five logs (parent + 4 children)" [ "$(nlogs)" -eq 5 ]
check "all valid" "$PYTHON" "$LOGCHECK" $(logs)
pids=$(for f in $(logs); do head -n1 "$f" | jq -r .pid; done | sort -u | wc -l)
check "five distinct pids in the headers" [ "$pids" -eq 5 ]
for f in $(logs); do
    check "$(basename "$f"): its own 5 calls" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2' "$f")" -eq 5 ]
    check "$(basename "$f"): file named after the pid in its header" \
        [ "$(basename "$f")" = "log-$(head -n1 "$f" | jq -r .pid).jsonl" ]
done
finish
