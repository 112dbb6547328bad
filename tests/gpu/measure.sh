#!/bin/bash
# measure.sh: issue 18's "Measure", as one call on one card (device time is scarce).
#
#   tests/gpu/measure.sh BUILD_DIR [OUT_DIR]        (BUILD_DIR from tests/gpu/prepare.sh)
#
# 1. mini_dp.py --steps $STEPS (default 200), 3 runs each, round-robin so that drift hits
#    every configuration alike: plain, torch's switch (--deterministic), the shim with every
#    layer on (the default, enforce), the shim in log mode. Prints digest and ms/step per
#    run, then a table: distinct digests, median ms/step, ratio to plain.
# 2. detshim doctor on the same card (probes and the built-in training, 3 runs each).
# Budget: about 12 x 15 s + doctor (about 2-3 min) on an H100/H200; every run has a timeout.
# mini_dp.py: $MINI, else ../shared/workloads/mini_dp.py (from the repository root), else
# BUILD_DIR/mini_dp.py. Without a GPU: one line, exit 77.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "measure.sh: no GPU here (nvidia-smi -L failed): nothing measured"
    exit 77
fi
B=$(cd "${1:?usage: measure.sh BUILD_DIR [OUT_DIR]}" && pwd) || exit 2
OUT=${2:-${OUT:-/tmp/detshim-measure}}
mkdir -p "$OUT"
SHIM="$B/shim/libdetshim.so"
[ -f "$SHIM" ] || { echo "measure.sh: $SHIM missing (run tests/gpu/prepare.sh)"; exit 2; }
[ -d "$B/deps" ] && export LD_LIBRARY_PATH="$B/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY=${PYTHON:-python3}
STEPS=${STEPS:-200}
T=${RUN_TIMEOUT:-150}
MINI=${MINI:-}
for m in "$REPO/../shared/workloads/mini_dp.py" "$B/mini_dp.py"; do
    [ -z "$MINI" ] && [ -f "$m" ] && MINI=$m
done
nvidia-smi -L | tee "$OUT/gpu.txt"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1 | tee -a "$OUT/gpu.txt"
CARD=$(head -n1 "$OUT/gpu.txt")

declare -A D M
# one NAME I ENV... -- ARGS...: one mini_dp run
one() {
    local name=$1 i=$2; shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    timeout "$T" env "${envs[@]}" "$PY" "$MINI" --steps "$STEPS" "$@" > "$OUT/$name$i.out" 2> "$OUT/$name$i.err"
    local rc=$?
    D[$name$i]=$(sed -n 's/^digest //p' "$OUT/$name$i.out" | cut -c1-13)
    M[$name$i]=$(sed -n 's/^# ms_per_step \([0-9.]*\).*/\1/p' "$OUT/$name$i.err" | tail -n1)
    printf '%-8s run %d: digest %-13s ms/step %-8s rc=%d\n' "$name" "$i" "${D[$name$i]:-none}" "${M[$name$i]:-?}" "$rc"
}
CONFIGS=(plain torch shim log)
if [ -n "$MINI" ]; then
    echo "== mini_dp.py --steps $STEPS, 3 runs each ($MINI)"
    for i in 1 2 3; do
        one plain $i X=1 --
        one torch $i X=1 -- --deterministic
        one shim $i LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/shim$i-%p.jsonl" --
        one log $i LD_PRELOAD="$SHIM" DETSHIM_MODE=log DETSHIM_LOG="$OUT/log$i-%p.jsonl" --
    done
    med() { printf '%s\n' "$@" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print ""}'; }
    P=$(med "${M[plain1]}" "${M[plain2]}" "${M[plain3]}")
    {
        echo
        echo "mini_dp.py --steps $STEPS on $CARD"
        echo "| run | digests (3 runs) | distinct | ms/step | median | x plain |"
        echo "|---|---|---|---|---|---|"
        for c in "${CONFIGS[@]}"; do
            m=$(med "${M[${c}1]}" "${M[${c}2]}" "${M[${c}3]}")
            n=$(printf '%s\n' "${D[${c}1]}" "${D[${c}2]}" "${D[${c}3]}" | sort -u | grep -c .)
            r=$(awk -v a="$P" -v b="$m" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", b / a; else print "?" }')
            echo "| $c | ${D[${c}1]:-none} ${D[${c}2]:-none} ${D[${c}3]:-none} | $n | ${M[${c}1]:-?} ${M[${c}2]:-?} ${M[${c}3]:-?} | ${m:-?} | $r |"
        done
        echo "(plain: no switch; torch: --deterministic; shim: LD_PRELOAD, enforce, every layer; log: DETSHIM_MODE=log)"
        echo "goals: shim 1 digest in 3 runs, shim <= 1.05x plain, log <= 1.02x plain"
    } | tee "$OUT/mini_dp_table.md"
else
    echo "mini_dp.py not found (MINI, ../shared/workloads, $B/mini_dp.py): the workload is n/a"
fi

# ---- detshim doctor on the same card -----------------------------------------------------
# the vendor libraries torch ships, for the probes (linked against libcudart.so.13 etc.)
NV=$("$PY" -c 'import nvidia,os; print(list(nvidia.__path__)[0])' 2>/dev/null)
PROBE_LIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
echo
echo "== detshim doctor"
LD_LIBRARY_PATH="${PROBE_LIBS}${LD_LIBRARY_PATH:-}" DETSHIM_LIB="$SHIM" PYTHONPATH="$REPO/scripts" \
    timeout 330 "$PY" -c 'import sys; from detshimtool.cli import main; sys.exit(main(sys.argv[1:]))' \
    doctor --probes "$B/probes" --python "$PY" --timeout 100 --out "$OUT/doctor" 2>&1 | tee "$OUT/doctor.txt"
echo "doctor exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/doctor.txt"
