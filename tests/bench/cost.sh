#!/bin/bash
# cost.sh: what the shim costs, counted with callgrind (instructions: repeatable, unlike
# time) against the fake vendor libraries, plus the start-up of a non-CUDA program.
#   tests/bench/cost.sh SHIM KPROG BENCH_GEMM FAKES_DIR
# Per-call cost = (Ir at 2N calls - Ir at N calls) / N, for a program without the shim
# and under the shim in each mode; the table shows what the shim adds.
set -u
SHIM=$1 KPROG=$2 GEMM=$3 FAKES=$4
N=${N:-20000}
export LD_LIBRARY_PATH="$FAKES${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }

ir() { # ir ENV... -- CMD...: total instructions of the command
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" DETSHIM_LOG="$tmp/log-%p.jsonl" valgrind --tool=callgrind \
        --callgrind-out-file="$tmp/cg.out" "$@" >/dev/null 2>"$tmp/vg.err" || { cat "$tmp/vg.err" >&2; echo 0; return; }
    sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg.out" | head -n1
}
per_call() { # per_call CALLS_PER_UNIT ENV... -- PROG: instructions per call
    local k=$1; shift
    local a b
    a=$(ir "$@" $N); b=$(ir "$@" $((2 * N)))
    echo $(( (b - a) / (N * k) ))
}

printf '%-34s %10s %10s %10s %10s\n' "path (instructions per call)" "no shim" "off" "log" "enforce"
for what in launch gemm; do
    if [ $what = launch ]; then prog=("$KPROG" bench); k=4; else prog=("$GEMM"); k=1; fi
    base=$(per_call $k X=1 -- "${prog[@]}")
    row="$base"
    for m in off log enforce; do
        row="$row $(per_call $k LD_PRELOAD="$SHIM" DETSHIM_MODE=$m -- "${prog[@]}")"
    done
    set -- $row
    printf '%-34s %10s %10s %10s %10s\n' "$what (fake library)" "$1" "$2" "$3" "$4"
    printf '%-34s %10s %10s %10s %10s\n' "  added by the shim" "-" $(( $2 - $1 )) $(( $3 - $1 )) $(( $4 - $1 ))
done

# start-up: instructions and wall time of /bin/true with and without the shim
t0=$(ir X=1 -- /bin/true); t1=$(ir LD_PRELOAD="$SHIM" -- /bin/true)
printf 'start-up of /bin/true: %s instructions plain, %s with the shim (+%s)\n' "$t0" "$t1" $((t1 - t0))
python3 - "$SHIM" <<'PY'
import os, subprocess, sys, time
shim = sys.argv[1]
def best(env, n=300):
    t = []
    for _ in range(n):
        s = time.perf_counter(); subprocess.run(["/bin/true"], env=env); t.append(time.perf_counter() - s)
    t.sort(); return t[len(t) // 2] * 1e3
plain = dict(os.environ); pre = dict(os.environ, LD_PRELOAD=shim)
a, b = best(plain), best(pre)
print(f"start-up of /bin/true, median of 300: {a:.3f} ms plain, {b:.3f} ms with the shim (+{b - a:.3f} ms)")
PY
