#!/bin/bash
# However the program leaves, the records already written are whole JSON Lines; the
# summary is there when the process exits normally.
. "$(dirname "$0")/lib.sh"
for how in exit _exit abort segv; do
    fresh
    run_shim "$PROGS/core_prog" "$how" 2 > out 2> err
    L=$(onelog)
    check "$how: log valid" "$PYTHON" "$LOGCHECK" "$L"
    check "$how: both events there" [ "$(q 'select(.type=="event")|.site' "$L" | wc -l)" -eq 2 ]
    if [ "$how" = exit ]; then
        check "$how: summary written" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2' "$L")" -eq 3 ]
    fi
done
finish
