#!/bin/bash
# 16 threads launching through four entry points (a trampoline among them): one event per
# site, exact counts, whole lines; in strict mode nothing flagged runs.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=log run_shim "$PROGS/kprog" threads 16 500 > out 2> err
L=$(onelog)
check "valid log (whole lines, seq without gaps)" "$PYTHON" "$LOGCHECK" "$L"
check "four events, one per site, named by the thread function" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.stack[1].function) \(.symbol) \(.kernel_mangled=="'"$K_INDEX"'")"' | sort | paste -sd'|')" = \
      "thread_drv cuLaunchKernel true|thread_ptr cuLaunchKernel true|thread_rt cudaLaunchKernel true|thread_stub __cudaLaunchKernel true" ]
check "exact site counts (16 x 500 each)" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|.count]|@csv')" = "8000,8000,8000,8000" ]
check "exact call counts" \
    [ "$(q 'select(.type=="summary")|.calls|"\(.cudaLaunchKernel) \(.__cudaLaunchKernel) \(.cuLaunchKernel)"')" = "16000 8000 16000" ]
check "the fake ran every launch" [ "$(launched "$K_INDEX") $(launched "$K_AXPY")" = "32000 8000" ]
check "clean kernel never recorded" [ "$(grep -c "$K_AXPY" "$L")" -eq 0 ]
fresh
# the same while another thread forks and execs: no deadlock, whole lines, exact counts,
# every child with its own valid log (this test found children hanging on a libunwind lock
# and on the loader's object-list lock that another thread held at fork time: the shim's
# stack walks, object walks and dlopen/dlclose now wait for a fork, and a fork for them).
# Runs in the plain build; not under the sanitizers, whose runtimes' own allocator locks can
# be held by another thread at fork, so that the child hangs at its first malloc inside the
# runtime (seen in __asan::Allocator::Allocate and in TSan's SizeClassAllocator64).
if [ -z "${DETSHIM_SANITIZED:-}" ]; then
KPROG_FORKS=25 DETSHIM_MODE=log run_shim "$PROGS/kprog" threads 16 300 > out 2> err
check "fork+exec during launches: every child ran and exited 0" grep -qx "forked 25 children, all exited 0" out
# the parent's log is the one whose header says not forked (a child's header carries the same
# cmdline, and the order of the files' names follows pids, which wrap: never pick by either)
P=$(for f in $(logs); do head -n1 "$f" | jq -r 'select(.forked==false)|.log'; done)
check "fork+exec: exactly one log not forked (the parent's)" [ -n "$P" -a "$(echo "$P" | wc -l)" -eq 1 ]
check "fork+exec: the parent's counts exact" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|.count]|@csv' "$P")" = "4800,4800,4800,4800" ]
check "fork+exec: 26 logs (parent + 25 children), all valid" \
    bash -c "[ \$(ls $T/log-*.jsonl | wc -l) -eq 26 ] && '$PYTHON' '$LOGCHECK' $T/log-*.jsonl"
check "fork+exec: each child logged its own three launches" \
    [ "$(for f in $(logs); do [ "$f" = "$P" ] || jq -r 'select(.type=="event" and .layer=="kernels")|.symbol' "$f" | sort | paste -sd,; done | sort -u)" = "cuLaunchKernel,cuLaunchKernel,cudaLaunchKernel" ]
fi
fresh
DETSHIM_MODE=strict run_shim "$PROGS/kprog" threads 16 200 > out 2> err
check "strict: four blocked sites, exact counts" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|"\(.action):\(.count)"]|unique|@csv')" = '"blocked:3200"' ]
check "strict: one paragraph per site" [ "$(grep -c '^detshim: strict mode refused' err)" -eq 4 ]
check "strict: no flagged launch ran, every clean one did" [ "$(launched "$K_INDEX") $(launched "$K_AXPY")" = "0 3200" ]
finish
