#!/bin/bash
# The tf layer in front of a fake libtensorflow_framework.so.2, loaded RTLD_LOCAL through a
# fake kernels library with a selecting site (tf.data's GetOptimizations) and a raising one
# (TimestampOp::Compute), for TF's two namespaces (tensorflow:: 2.9-2.10, tsl:: 2.11 on).
. "$(dirname "$0")/../../preload/lib.sh"
unset TF_DETERMINISTIC_OPS
expect() { # expect SELECT TIMESTAMP: both namespaces, first and cached answers
    printf '%s\n' "tsl select=$1 timestamp=$2" "tsl again select=$1 timestamp=$2" \
        "tensorflow select=$1 timestamp=$2" "tensorflow again select=$1 timestamp=$2"
}
ev() { q "select(.type==\"event\" and .layer==\"tf\" and (.function|test(\"$1\")))|.action" | sort -u | tr '\n' ' '; }

"$TF_PROG" "$TF_FAKE_DIR" >out
check "plain: TF's own answer (no), nothing raises" [ "$(cat out)" = "$(expect 0 runs)" ]
for mode in off log; do
    fresh; DETSHIM_MODE=$mode run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
    check "$mode: answers untouched" [ "$(cat out)" = "$(expect 0 runs)" ]
done
check "log: the selecting site is recorded (observed)" [ "$(ev GetOptimizations)" = "observed " ]
check "log: the raising site is recorded (observed)" [ "$(ev TimestampOp)" = "observed " ]
check "log: sites named from the symbol table, classified" \
    [ "$(q 'select(.type=="event" and .layer=="tf")|.site_class' | sort -u | tr '\n' ' ')" = "raises selects " ]
check "log: one event per site (4 sites)" [ "$(q 'select(.type=="event" and .layer=="tf")|.site' | sort -u | wc -l)" = 4 ]

fresh; run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
check "enforce (default): selection forced on, the raising site keeps TF's answer" \
    [ "$(cat out)" = "$(expect 1 runs)" ]
check "enforce: the selecting site is forced" [ "$(ev GetOptimizations)" = "forced " ]
check "enforce: the raising site is observed" [ "$(ev TimestampOp)" = "observed " ]
check "enforce: both hooks were called (summary)" \
    [ "$(q 'select(.type=="summary")|.calls["_ZN3tsl21OpDeterminismRequiredEv"]')" = 4 ] 
check "enforce: nothing exported to the environment" \
    [ -z "$(DETSHIM_MODE=enforce LD_PRELOAD=$SHIM env | grep -E '^TF_(DETERMINISTIC_OPS|CUDNN_DETERMINISTIC)=')" ]

fresh; DETSHIM_MODE=strict run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
check "strict: yes everywhere, TF raises where it has no deterministic path" \
    [ "$(cat out)" = "$(expect 1 raises)" ]

fresh; DETSHIM_DISABLE=tf run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
check "DETSHIM_DISABLE=tf: untouched" [ "$(cat out)" = "$(expect 0 runs)" ]

fresh; TF_DETERMINISTIC_OPS=1 run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
check "enforce with TF_DETERMINISTIC_OPS=1: TF's own yes is kept (the program asked for raises)" \
    [ "$(cat out)" = "$(expect 1 raises)" ]

fresh; run_shim "$TF_PROG" "$TF_FAKE_DIR" disable >out
check "enforce: disable_op_determinism does not switch selection off" [ "$(cat out)" = "$(expect 1 runs)" ]
check "enforce: the switch-off is recorded" \
    [ "$(q 'select(.type=="event" and .symbol=="_ZN3tsl19EnableOpDeterminismEb")|.action')" = "forced" ]

# the header records what decides DeePMD-kit's and TF's paths
fresh
DP_BACKEND=tensorflow DP_INTERFACE_PREC=high DP_INTRA_OP_PARALLELISM_THREADS=2 \
DP_INTER_OP_PARALLELISM_THREADS=1 TF_CUDNN_DETERMINISTIC=1 TF_ENABLE_ONEDNN_OPTS=0 \
TF_INTRA_OP_PARALLELISM_THREADS=3 TF_INTER_OP_PARALLELISM_THREADS=4 XLA_FLAGS=--xla_gpu_deterministic_ops \
TF_DETERMINISTIC_OPS=0 run_shim "$TF_PROG" "$TF_FAKE_DIR" >out
check "header env: DeePMD-kit and TF variables" \
    [ "$(q 'select(.type=="header")|.env|[.DP_BACKEND,.DP_INTERFACE_PREC,.DP_INTRA_OP_PARALLELISM_THREADS,.DP_INTER_OP_PARALLELISM_THREADS,.TF_DETERMINISTIC_OPS,.TF_CUDNN_DETERMINISTIC,.TF_ENABLE_ONEDNN_OPTS,.TF_INTRA_OP_PARALLELISM_THREADS,.TF_INTER_OP_PARALLELISM_THREADS,.XLA_FLAGS]|join(" ")')" = \
      "tensorflow high 2 1 0 1 0 3 4 --xla_gpu_deterministic_ops" ]
finish
