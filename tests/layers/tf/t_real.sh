#!/bin/bash
# A real TensorFlow (tensorflow-cpu in the venv scripts/test-deps.sh makes, $DETSHIM_TF_VENV
# or /opt/detshim-tf) under the shim: which answers TF's own call sites get per mode, and the
# ops that raise when determinism is required run in enforce. Skipped (77) without TF.
. "$(dirname "$0")/../../preload/lib.sh"
# meson puts the fake libtensorflow_framework.so.2's directory on LD_LIBRARY_PATH: keep it
# away from the real TensorFlow
LD_LIBRARY_PATH=$(echo "$LD_LIBRARY_PATH" | tr ':' '\n' | grep -vx "$TF_FAKE_DIR" | paste -sd:)
export LD_LIBRARY_PATH
VENV=${DETSHIM_TF_VENV:-/opt/detshim-tf}
TFPY=$VENV/bin/python
if [ ! -x "$TFPY" ] || ! "$TFPY" -c 'import tensorflow' >/dev/null 2>&1; then
    echo "skipped: no TensorFlow in $VENV (scripts/test-deps.sh installs tensorflow-cpu there)"
    rm -rf "$T"; exit 77
fi
skip_if_sanitized "TensorFlow is not built with the sanitizer runtime"
export TF_CPP_MIN_LOG_LEVEL=3
unset TF_DETERMINISTIC_OPS
py() { "$@" "$TFPY" "$TF_PY" 2>err | grep -E '^(python_query|data|timestamp|normal|scatter)' ; }
ev() { q "select(.type==\"event\" and .layer==\"tf\" and (.function|test(\"$1\")))|.action" | sort -u | tr '\n' ' '; }

plain=$(py env)
check "plain TF: determinism not required, every op runs" \
    [ "$plain" = "$(printf 'python_query False\ndata ok\ntimestamp ok\nnormal ok')" ]
for mode in off log enforce; do
    fresh; out=$(py env DETSHIM_MODE=$mode DETSHIM_LOG=$T/log-%p.jsonl LD_PRELOAD=$SHIM)
    check "$mode: the program runs as plain (nothing raises; Python sees TF's own answer)" [ "$out" = "$plain" ] || { echo "$out"; tail -3 err; }
    [ $mode = off ] && continue
    want=observed; [ $mode = enforce ] && want=forced
    check "$mode: tf.data's deterministic selection site (GetOptimizations): $want" \
        [ "$(ev 'data::GetOptimizations')" = "$want " ]
    check "$mode: tf.timestamp's raising site keeps TF's answer" [ "$(ev 'TimestampOp::Compute')" = "observed " ]
    check "$mode: the random kernels' seed check keeps TF's answer" [ "$(ev 'GuardedPhiloxRandom::Init')" = "observed " ]
done
fresh; out=$(py env DETSHIM_MODE=strict DETSHIM_LOG=$T/log-%p.jsonl LD_PRELOAD=$SHIM)
check "strict: TF's determinism on everywhere: Python sees it, tf.timestamp and unseeded random ops raise" \
    [ "$out" = "$(printf 'python_query True\ndata ok\ntimestamp FailedPreconditionError\nnormal RuntimeError')" ]
check "strict: nothing exported into the environment" \
    [ "$(DETSHIM_MODE=strict LD_PRELOAD=$SHIM "$TFPY" -c 'import os; print(os.environ.get("TF_DETERMINISTIC_OPS"))' 2>/dev/null)" = None ]
finish
