#!/bin/bash
# fork() from a signal handler that interrupted the same thread inside the shim's stack
# capture (a profiler's or a watchdog's handler): the fork must not wait for itself.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer runtimes' own allocator locks are not fork-from-a-signal-handler safe"
for i in 1 2 3; do
    DETSHIM_LOG="$T/log-%p.jsonl" timeout 120 env LD_PRELOAD="$SHIM" "$PROGS/core_prog" sigfork 5000 > out 2> err
    check "run $i: finished (no hang)" grep -qx "status=0" out
done
finish
