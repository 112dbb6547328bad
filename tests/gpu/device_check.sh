#!/bin/bash
# device_check.sh: the GPU acceptance run, as one script (device time is scarce).
#
#   tests/gpu/device_check.sh BUILD_DIR [OUT_DIR]
#
# BUILD_DIR holds a build of this tree (shim/libdetshim.so, probes/*, optionally
# deps/ with shared libraries the machine lacks, e.g. libunwind.so.8) and mini_dp.py.
# Runs the acceptance workload plain, with torch's switch and under the shim, the
# probes without and with the shim (`detshim doctor`), and prints one table; logs go to
# OUT_DIR. Issue 18's timing table alone: tests/gpu/measure.sh.
# Nothing here is skipped silently: a missing piece prints "n/a (why)".
set -u
B=$(cd "${1:?usage: device_check.sh BUILD_DIR [OUT_DIR]}" && pwd)
OUT=${2:-${OUT:-/tmp/detshim-gpu}}
mkdir -p "$OUT"
SHIM="$B/shim/libdetshim.so"
[ -d "$B/deps" ] && export LD_LIBRARY_PATH="$B/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY=${PYTHON:-python3}
STEPS=${STEPS:-200}
MINI="$B/mini_dp.py"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# the detshim command from this tree, wherever it was copied to
detshim_cmd() { PYTHONPATH="$REPO/scripts" "$PY" -c 'import sys; from detshimtool.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
ROWS=()
row() { ROWS+=("$(printf '%-44s | %s' "$1" "$2")"); echo "[row] $1 | $2"; }

if ! nvidia-smi -L >/dev/null 2>&1; then echo "no GPU here"; exit 77; fi
nvidia-smi -L | tee "$OUT/gpu.txt"
"$PY" -c 'import torch,sys; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' | tee -a "$OUT/gpu.txt"
ldd "$SHIM" | tee "$OUT/ldd.txt" | grep -q "not found" && echo "WARNING: the shim misses a dependency: $(grep 'not found' "$OUT/ldd.txt")"

# The vendor libraries torch uses, for the probes (linked against libcudart.so.13 etc.)
NV=$("$PY" -c 'import nvidia,os; print(os.path.dirname(nvidia.__file__) if nvidia.__file__ else list(nvidia.__path__)[0])' 2>/dev/null)
PROBE_LIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')/usr/local/cuda/lib64

digest() { grep -m1 '^digest ' "$1" | cut -d' ' -f2 | cut -c1-16; }
msstep() { sed -n 's/^# ms_per_step \([0-9.]*\).*/\1/p' "$1" | tail -n1; }

# mini NAME ENV... -- ARGS...: one mini_dp run; prints "digest ms"
mini() {
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$PY" "$MINI" --steps "$STEPS" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
    echo "$(digest "$OUT/$name.out") $(msstep "$OUT/$name.err")"
}

# ---- 1. the acceptance workload (issue 3) -------------------------------------------
declare -A D M
for i in 1 2 3; do read -r D[plain$i] M[plain$i] <<<"$(mini plain$i X=1 -- )"; done
read -r D[torch] M[torch] <<<"$(mini torchswitch CUBLAS_WORKSPACE_CONFIG=:4096:8 -- --deterministic)"
for i in 1 2 3; do
    read -r D[shim$i] M[shim$i] <<<"$(mini shim$i LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/shim$i-%p.jsonl" -- )"
done
row "mini_dp f64 plain x3 digests" "${D[plain1]} ${D[plain2]} ${D[plain3]}"
row "mini_dp f64 torch switch digest" "${D[torch]}"
row "mini_dp f64 shim enforce x3 digests" "${D[shim1]} ${D[shim2]} ${D[shim3]}"
same=no; [ -n "${D[shim1]}" ] && [ "${D[shim1]}" = "${D[shim2]}" ] && [ "${D[shim2]}" = "${D[shim3]}" ] && same=yes
row "  shim runs identical" "$same"
row "  shim digest == torch switch digest" "$([ -n "${D[torch]}" ] && [ "${D[shim1]}" = "${D[torch]}" ] && echo yes || echo no)"
row "ms/step plain | torch switch | shim" "${M[plain1]} ${M[plain2]} ${M[plain3]} | ${M[torch]} | ${M[shim1]} ${M[shim2]} ${M[shim3]}"
for p in f32:--precision=float32 gather:--op=gather; do
    n=${p%%:*}; a=${p#*:}
    read -r d1 m1 <<<"$(mini ${n}_plain1 X=1 -- ${a/=/ })"
    read -r d2 m2 <<<"$(mini ${n}_plain2 X=1 -- ${a/=/ })"
    read -r e1 k1 <<<"$(mini ${n}_shim1 LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/${n}_shim1-%p.jsonl" -- ${a/=/ })"
    read -r e2 k2 <<<"$(mini ${n}_shim2 LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/${n}_shim2-%p.jsonl" -- ${a/=/ })"
    row "mini_dp $n plain x2 | shim x2" "$d1 $d2 | $e1 $e2 ($([ -n "$e1" ] && [ "$e1" = "$e2" ] && echo same || echo DIFFER))"
done

# ---- 2. what the log says (issues 3, 4) ---------------------------------------------
read -r D[log] M[log] <<<"$(mini logmode LD_PRELOAD="$SHIM" DETSHIM_MODE=log DETSHIM_LOG="$OUT/logmode-%p.jsonl" -- )"
read -r D[logg] M[logg] <<<"$(mini logmode_gather LD_PRELOAD="$SHIM" DETSHIM_MODE=log DETSHIM_LOG="$OUT/logmode_gather-%p.jsonl" -- --op gather)"
row "ms/step log mode (launch hooks on)" "${M[log]}"
kev() { jq -r 'select(.type=="event" and .layer=="kernels") | (.kernel_demangled // .kernel // .detail)' "$@" 2>/dev/null | sort | uniq -c | sort -rn | head -5 | tr '\n' ';'; }
row "log mode: flagged kernels (index_select)" "$(kev "$OUT"/logmode-*.jsonl)"
row "log mode: flagged kernels (gather)" "$(kev "$OUT"/logmode_gather-*.jsonl)"
row "enforce: flagged kernels launched" "$(kev "$OUT"/shim1-*.jsonl)"
row "enforce: events by layer/action" "$(jq -r 'select(.type=="event")|.layer+"/"+.action' "$OUT"/shim1-*.jsonl 2>/dev/null | sort | uniq -c | tr '\n' ';')"
row "device record" "$(jq -c 'select(.type=="device")|[.name,.sm_count,.driver_version,.runtime_version]' "$OUT"/shim1-*.jsonl 2>/dev/null | head -n1)"
row "hooked calls (enforce run)" "$(jq -c 'select(.type=="summary")|.calls' "$OUT"/shim1-*.jsonl 2>/dev/null | head -c 400)"

# ---- 3. probes (issues 4, 5, 6) ------------------------------------------------------
probe() { # probe NAME MODE(plain|shim|log): prints its overall digest
    local name=$1 mode=$2 bin="$B/probes/$1"
    [ -x "$bin" ] || { echo "n/a(not built)"; return; }
    local envs=(LD_LIBRARY_PATH="$PROBE_LIBS:${LD_LIBRARY_PATH:-}")
    case $mode in
        shim) envs+=(LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/probe_${name}_shim-%p.jsonl") ;;
        log) envs+=(LD_PRELOAD="$SHIM" DETSHIM_MODE=log DETSHIM_LOG="$OUT/probe_${name}_log-%p.jsonl") ;;
        strict) envs+=(LD_PRELOAD="$SHIM" DETSHIM_MODE=strict DETSHIM_LOG="$OUT/probe_${name}_strict-%p.jsonl") ;;
    esac
    env "${envs[@]}" "$bin" > "$OUT/probe_${name}_$mode.out" 2>&1
    local rc=$?
    local d; d=$(grep '^digest ' "$OUT/probe_${name}_$mode.out" | tail -n1 | cut -d' ' -f2 | cut -c1-16)
    echo "${d:-none}(rc=$rc)"
}
# the probes plain and under the shim: detshim doctor, the way BENCHMARKS.md's GPU rows are made
LD_LIBRARY_PATH="$PROBE_LIBS:${LD_LIBRARY_PATH:-}" DETSHIM_LIB="$SHIM" \
    detshim_cmd doctor --probes "$B/probes" --python "$PY" --out "$OUT/doctor" > "$OUT/doctor.txt" 2> "$OUT/doctor.err"
row "detshim doctor (exit $?)" "$(tail -n1 "$OUT/doctor.txt")"
while IFS= read -r l; do row "  doctor" "$l"; done < <(grep ' | ' "$OUT/doctor.txt" | tail -n +2)
probe cublaslt_align plain >/dev/null; probe cublaslt_align shim >/dev/null   # for the algo rows below
# the atomic-sum kernel is in no built-in list: the scanner's database flags it
if detshim_cmd scan "$B/probes/atomic_sum" -o "$OUT/atomic.db" > "$OUT/scan.out" 2>&1; then
    export DETSHIM_KERNELS="$OUT/atomic.db"
    row "scan probes/atomic_sum" "$(grep -c . "$OUT/atomic.db") db lines; $(tail -n2 "$OUT/scan.out" | head -n1)"
else
    row "scan probes/atomic_sum" "n/a ($(tail -n1 "$OUT/scan.out" 2>/dev/null))"
fi
row "probe atomic_sum log: flagged" "$(probe atomic_sum log >/dev/null; kev "$OUT"/probe_atomic_sum_log-*.jsonl)"
row "probe atomic_sum strict (refused: rc!=0, no digest)" "$(probe atomic_sum strict)"
unset DETSHIM_KERNELS
row "probe cublaslt_align algos plain" "$(grep -i 'algo' "$OUT/probe_cublaslt_align_plain.out" | tr '\n' ';' | head -c 300)"
row "probe cublaslt_align algos shim" "$(grep -i 'algo' "$OUT/probe_cublaslt_align_shim.out" | tr '\n' ';' | head -c 300)"

# ---- 4. cuDNN through torch (issue 6) --------------------------------------------------
if [ -f "$B/conv_check.py" ]; then
    c=()
    for i in 1 2 3; do
        c+=("$(LD_PRELOAD="$SHIM" DETSHIM_LOG="$OUT/conv$i-%p.jsonl" "$PY" "$B/conv_check.py" 2>"$OUT/conv$i.err" | sed -n 's/^digest //p' | cut -c1-16)")
    done
    c0=$("$PY" "$B/conv_check.py" 2>/dev/null | sed -n 's/^digest //p' | cut -c1-16)
    c0b=$("$PY" "$B/conv_check.py" 2>/dev/null | sed -n 's/^digest //p' | cut -c1-16)
    row "torch conv2d benchmark=True plain x2 | shim x3" "$c0 $c0b | ${c[*]}"
    row "  cudnn events under the shim" "$(jq -r 'select(.type=="event" and .layer=="cudnn")|.action+":"+.detail' "$OUT"/conv1-*.jsonl 2>/dev/null | sort | uniq -c | head -5 | tr '\n' ';')"
fi

# ---- 5. hash mode (issue 8), when built -------------------------------------------------
if [ -f "$REPO/shim/hash/hash_trace.c" ]; then
    for i in 1 2; do
        DETSHIM_MODE=log DETSHIM_HASH=1 DETSHIM_LOG="$OUT/hash$i-%p.jsonl" LD_PRELOAD="$SHIM" \
            "$PY" "$MINI" --steps 3 > "$OUT/hash$i.out" 2> "$OUT/hash$i.err"
    done
    row "hash mode diff (first divergence)" "$(detshim_cmd diff "$OUT"/hash1-*.trace.jsonl "$OUT"/hash2-*.trace.jsonl 2>&1 | head -n 4 | tr '\n' ';')"
    row "  hash mode paths (mini_dp run 1)" "$(jq -r 'select(.type=="call")|.path' "$OUT"/hash1-*.trace.jsonl 2>/dev/null | sort | uniq -c | tr '\n' ';'); $(jq -r 'select(.type=="notice" and (.message|test("digest kernel")))|.message' "$OUT"/hash1-*[0-9].jsonl 2>/dev/null | head -n1)"
    row "  hash mode records by call (run 1)" "$(jq -r 'select(.type=="call")|.call' "$OUT"/hash1-*.trace.jsonl 2>/dev/null | sort | uniq -c | sort -rn | head -6 | tr '\n' ';')"
    # under enforce: the same two runs should not diverge at all
    for i in 1 2; do
        DETSHIM_MODE=enforce DETSHIM_HASH=1 DETSHIM_LOG="$OUT/hashe$i-%p.jsonl" LD_PRELOAD="$SHIM" \
            "$PY" "$MINI" --steps 3 > "$OUT/hashe$i.out" 2> "$OUT/hashe$i.err"
    done
    row "hash mode diff under enforce (expect none)" "$(detshim_cmd diff "$OUT"/hashe1-*.trace.jsonl "$OUT"/hashe2-*.trace.jsonl 2>&1 | grep -m2 -E '^(no divergence|divergence|sequences|result)' | tr '\n' ';')"
    # the cost: ms/step from step 10 on, the same command plain and in hash mode
    p=$(env "$PY" "$MINI" --steps 20 2>&1 >/dev/null | sed -n 's/^# ms_per_step //p')
    h=$(DETSHIM_MODE=log DETSHIM_HASH=1 DETSHIM_LOG="$OUT/hasht-%p.jsonl" LD_PRELOAD="$SHIM" \
        "$PY" "$MINI" --steps 20 2>&1 >/dev/null | sed -n 's/^# ms_per_step //p')
    row "hash mode ms/step plain | hash (20 steps)" "$p | $h | x$(awk -v a="$p" -v b="$h" 'BEGIN { if (a > 0) printf "%.1f", b / a; else print "?" }')"
fi
# The digest kernel against the host function: probes/hash_digest (awkward sizes, unaligned
# odd ranges, a range over several 4 MiB host chunks) under hash mode with the kernel
# (DETSHIM_HASH=1) and with the host only (DETSHIM_HASH=host): the same digests call by call
# and range by range, every record on its path, and in each run a copy's output digest
# (taken where its path says) equal to its input's (the host source digested on the host).
hash_kernel_check() {
    local hb="$B/probes/hash_digest" m
    [ -x "$hb" ] || { echo "n/a (probes/hash_digest not built)"; return; }
    for m in 1 host; do
        env LD_LIBRARY_PATH="$PROBE_LIBS:${LD_LIBRARY_PATH:-}" LD_PRELOAD="$SHIM" DETSHIM_MODE=log \
            DETSHIM_HASH=$m DETSHIM_LOG="$OUT/hashdig_$m-%p.jsonl" "$hb" > "$OUT/hashdig_$m.out" 2>&1 \
            || { echo "FAIL (DETSHIM_HASH=$m: rc=$?, $(tail -n1 "$OUT/hashdig_$m.out"))"; return; }
    done
    local td th q='select(.type=="call")|[.seq,.call,.what,.in,.out,[.ranges[]?|[.arg,.bytes,.in,.out]]]'
    td=$(ls "$OUT"/hashdig_1-*.trace.jsonl 2>/dev/null | head -n1)
    th=$(ls "$OUT"/hashdig_host-*.trace.jsonl 2>/dev/null | head -n1)
    [ -n "$td" ] && [ -n "$th" ] || { echo "FAIL (no trace)"; return; }
    local n pd ph nulls copies
    n=$(jq -c "$q" "$td" | wc -l)
    pd=$(jq -r 'select(.type=="call")|.path' "$td" | sort -u | tr '\n' ' ')
    ph=$(jq -r 'select(.type=="call")|.path' "$th" | sort -u | tr '\n' ' ')
    nulls=$(jq -c 'select(.type=="call" and (.in == null or .out == null or ([.ranges[]?|.out == null]|any)))' "$td" "$th" | wc -l)
    copies=$(jq -r 'select(.type=="call" and (.what // "" | test("copy")))|.in==.out' "$td" "$th" | sort -u | tr '\n' ' ')
    if [ "$n" -lt 10 ] || [ "$pd" != "device " ] || [ "$ph" != "host " ] || [ "$nulls" != 0 ] || [ "$copies" != "true " ]; then
        echo "FAIL ($n calls; paths '$pd' / '$ph'; $nulls with a null digest; copies in==out: '$copies'; $(jq -r 'select(.type=="notice" and (.message|test("digest kernel")))|.message' "$OUT"/hashdig_1-*[0-9].jsonl | head -n1))"
    elif diff <(jq -c "$q" "$td") <(jq -c "$q" "$th") > "$OUT/hashdig.diff"; then
        echo "PASS ($n calls: device and host digests identical; copies in==out)"
    else
        echo "FAIL (digests differ, first: $(grep -m1 '^<' "$OUT/hashdig.diff" | head -c 200))"
    fi
}
row "hash digest kernel == host function" "$(hash_kernel_check)"

echo
echo "==== libdetshim GPU acceptance ($(head -n1 "$OUT/gpu.txt"))"
printf '%s\n' "${ROWS[@]}" | tee "$OUT/table.txt"
