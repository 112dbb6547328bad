#!/bin/bash
# DeePMD-kit's default backend (TensorFlow) on the CPU: `dp --tf train` for 5 steps on a tiny
# water set, plain and under the shim (enforce, strict), compared bitwise (learning curve and
# checkpoint). deepmd-kit in the venv scripts/test-deps.sh makes; skipped (77) without it.
. "$(dirname "$0")/../../preload/lib.sh"
LD_LIBRARY_PATH=$(echo "$LD_LIBRARY_PATH" | tr ':' '\n' | grep -vx "$TF_FAKE_DIR" | paste -sd:)
export LD_LIBRARY_PATH
VENV=${DETSHIM_TF_VENV:-/opt/detshim-tf}
if [ ! -x "$VENV/bin/dp" ] || ! "$VENV/bin/python" -c 'import deepmd, tensorflow' >/dev/null 2>&1; then
    echo "skipped: no deepmd-kit with TensorFlow in $VENV (scripts/test-deps.sh installs them)"
    rm -rf "$T"; exit 77
fi
skip_if_sanitized "TensorFlow is not built with the sanitizer runtime"
export TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 TF_INTRA_OP_PARALLELISM_THREADS=1 TF_INTER_OP_PARALLELISM_THREADS=1
unset DP_BACKEND TF_DETERMINISTIC_OPS
train() { # train DIR [env...]
    local d=$1; shift
    mkdir -p "$d" && "$VENV/bin/python" "$(dirname "$0")/dp_data.py" "$d" &&
        (cd "$d" && env "$@" "$VENV/bin/dp" --tf train input.json >train.log 2>&1)
}
same() { cmp -s "$T/$1/lcurve.out" "$T/$2/lcurve.out" &&
         cmp -s "$T/$1/model.ckpt-5.data-00000-of-00001" "$T/$2/model.ckpt-5.data-00000-of-00001"; }
check "plain dp --tf train runs" train plain
check "plain: 6 learning-curve lines and a checkpoint" \
    [ "$(grep -vc '^#' plain/lcurve.out)" = 6 -a -s plain/model.ckpt-5.data-00000-of-00001 ]
check "a second plain run" train plain2
check "plain runs agree bitwise on the CPU" same plain plain2
for mode in enforce strict; do
    check "$mode: dp --tf train runs under the shim" \
        train $mode DETSHIM_MODE=$mode DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="$SHIM"
    check "$mode: learning curve and checkpoint bitwise equal to plain" same plain $mode
done
# DeePMD-kit's TF graph (tf.compat.v1 Session, seeded initialisers) asks TF's determinism
# question nowhere on the CPU: the layer has nothing to answer, and must change nothing.
check "the logs name TensorFlow's framework library among the loaded vendor libraries" \
    [ "$(cat "$T"/log-*.jsonl | jq -r 'select(.type=="header")|.libraries[].name' | grep -c '^libtensorflow_framework')" = 2 ]
finish
