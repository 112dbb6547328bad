#!/bin/bash
# One useful log, not one per worker: forked children that record nothing (DataLoader
# workers: a hooked call, no event, then _exit) leave no file; a child with an event gets
# its own log, marked forked; `detshim report` does not call a worker's _exit "killed".
. "$(dirname "$0")/lib.sh"
run_shim "$PROGS/core_prog" forkquiet 6 > out 2> err
check "quiet workers: they ran" [ "$(grep -c '^child-done$' out)" -eq 6 ]
check "quiet workers: one log (the parent's)" [ "$(nlogs)" -eq 1 ]
check "quiet workers: the parent's header says not forked" [ "$(q 'select(.type=="header")|.forked')" = false ]
fresh
run_shim "$PROGS/core_prog" forkevent 3 > out 2> err
check "workers with events: a log each, and the parent's" [ "$(nlogs)" -eq 4 ]
forked=0
for l in $(logs); do [ "$(q 'select(.type=="header")|.forked' "$l")" = true ] && forked=$((forked + 1)); done
check "workers with events: their headers say forked" [ "$forked" -eq 3 ]
if [ -n "${DETSHIM_CMD:-}" ]; then
    "$DETSHIM_CMD" report "$T" > rep 2>&1
    check "report: a worker's _exit is not called killed" bash -c "! grep -q killed rep && grep -q 'forked worker' rep"
fi
finish
