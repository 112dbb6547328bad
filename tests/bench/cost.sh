#!/bin/bash
# cost.sh: what the shim costs, counted with callgrind (instructions: repeatable, unlike
# time) against the fake vendor libraries, plus the start-up of a non-CUDA program.
#   tests/bench/cost.sh SHIM KPROG BENCH_GEMM FAKES_DIR
# Per-call cost = (Ir at 2N calls - Ir at N calls) / N, for a program without the shim
# and under the shim in each mode; the table shows what the shim adds, per entry point.
# Exits 1 when the shim adds more than GOAL (60) instructions to any of them.
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
per_call() { # per_call ENV... -- CMD...: instructions per call (@N@ in CMD: the call count)
    local envs=() a b
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    a=$(ir "${envs[@]}" -- "${@//@N@/$N}"); b=$(ir "${envs[@]}" -- "${@//@N@/$((2 * N))}")
    echo $(( (b - a) / N ))
}

GOAL=${GOAL:-60}
over=0
printf '%-34s %10s %10s %10s %10s\n' "path (instructions per call)" "no shim" "off" "log" "enforce"
for what in cudaLaunchKernel __cudaLaunchKernel cuLaunchKernel cuLaunchKernel-pointer cublasSgemm_v2; do
    case $what in
    cublasSgemm_v2) prog=("$GEMM" @N@) ;;
    *) prog=("$KPROG" bench @N@ "$what") ;;
    esac
    base=$(per_call X=1 -- "${prog[@]}")
    row="$base"
    for m in off log enforce; do
        row="$row $(per_call LD_PRELOAD="$SHIM" DETSHIM_MODE=$m -- "${prog[@]}")"
    done
    set -- $row
    printf '%-34s %10s %10s %10s %10s\n' "$what (fake library)" "$1" "$2" "$3" "$4"
    printf '%-34s %10s %10s %10s %10s\n' "  added by the shim" "-" $(( $2 - $1 )) $(( $3 - $1 )) $(( $4 - $1 ))
    for v in $(( $2 - $1 )) $(( $3 - $1 )) $(( $4 - $1 )); do [ "$v" -le "$GOAL" ] || over=1; done
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
[ $over = 0 ] || { echo "over the goal of $GOAL instructions per call"; exit 1; }
