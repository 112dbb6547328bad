#!/bin/bash
# CUBLAS_WORKSPACE_CONFIG: not exported by default (the cuBLAS layer's per-(handle, stream)
# workspaces are the guarantee); a user's own value is left alone and recorded; with
# DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 the core pins it in the constructor (enforce/strict).
# The fake cuBLAS records the value it finds in the environment when a handle is created.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH DETSHIM_CUBLAS_WORKSPACE_CONFIG
seen() { sed -n 's/^cublasCreate_v2 .* workspace_config=\(.*\)$/\1/p' record | sort -u | tr '\n' ' ' | sed 's/ $//'; }
pin() { q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|[.value,.action,(.previous//"null"),.layer]|@tsv'; }
henv() { q 'select(.type=="header")|.env.CUBLAS_WORKSPACE_CONFIG'; }

for mode in enforce strict; do
    # ---- by default: nothing exported, a user's value left alone and recorded ----
    DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
    check "$mode, unset: not exported, cuBLAS saw it unset" [ "$(seen)" = "(unset)" ]
    check "$mode, unset: no pin in the header" [ -z "$(pin)" ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
    for v in ':4096:2:16:8' ':1024:4' ':16:8'; do
        CUBLAS_WORKSPACE_CONFIG=$v DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
        check "$mode, '$v': left alone, cuBLAS saw it" [ "$(seen)" = "$v" ]
        check "$mode, '$v': no pin" [ -z "$(pin)" ]
        check "$mode, '$v': recorded in the header env" [ "$(henv)" = "$v" ]
        check "$mode, '$v': recorded at create" \
            [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.workspace_config')" = "$v" ]
        fresh
    done
    # ---- the opt-in ----
    DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
    check "$mode, opt-in, unset: cuBLAS saw the pinned :4096:8 at create" [ "$(seen)" = ":4096:8" ]
    check "$mode, opt-in, unset: header pin 'set', previous null" [ "$(pin)" = ":4096:8	set	null	cublas" ]
    check "$mode, opt-in: the create event shows the value in force" \
        [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.workspace_config')" = ":4096:8" ]
    fresh
    for unsafe in ':4096:2:16:8' ':1024:4' ':4096:8:16:8' '4096:8'; do
        CUBLAS_WORKSPACE_CONFIG=$unsafe DETSHIM_CUBLAS_WORKSPACE_CONFIG=on DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
        check "$mode, opt-in, '$unsafe': cuBLAS saw :4096:8 instead" [ "$(seen)" = ":4096:8" ]
        check "$mode, opt-in, '$unsafe': header pin 'replaced' with previous" \
            [ "$(pin)" = ":4096:8	replaced	$unsafe	cublas" ]
        fresh
    done
    CUBLAS_WORKSPACE_CONFIG=:16:8 DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
    check "$mode, opt-in, ':16:8': kept" [ "$(seen)" = ":16:8" -a -z "$(pin)" ]
    fresh
done

DETSHIM_CUBLAS_WORKSPACE_CONFIG=0 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "DETSHIM_CUBLAS_WORKSPACE_CONFIG=0: not exported" [ "$(seen)" = "(unset)" -a ! -s err ]
fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=maybe DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "DETSHIM_CUBLAS_WORKSPACE_CONFIG=maybe: one message, not exported" \
    [ "$(seen)" = "(unset)" -a "$(grep -c "DETSHIM_CUBLAS_WORKSPACE_CONFIG='maybe' is not valid" err)" -eq 1 ]
fresh
DETSHIM_VERBOSE=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "verbose: says how to opt in" grep -q "opt-in pin not applied: CUBLAS_WORKSPACE_CONFIG=:4096:8 is exported only with DETSHIM_CUBLAS_WORKSPACE_CONFIG=1" err
fresh
CUBLAS_WORKSPACE_CONFIG=':4096:2:16:8' DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" create > out 2> err
check "log, opt-in: the unsafe value is kept, cuBLAS saw it" [ "$(seen)" = ":4096:2:16:8" ]
check "log: no pins" [ "$(q 'select(.type=="header")|.pins|length')" = "0" ]
check "log: header env shows the program's value" [ "$(henv)" = ":4096:2:16:8" ]
fresh
CUBLAS_WORKSPACE_CONFIG=':1024:4' DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=off run_shim "$CPROGS/cublas_prog" create > out 2> err
check "off: the value is kept" [ "$(seen)" = ":1024:4" ]
check "off: no log" [ "$(nlogs)" -eq 0 ]
fresh
DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=enforce DETSHIM_DISABLE=cublas run_shim "$CPROGS/cublas_prog" create > out 2> err
check "cublas layer disabled: not pinned even when opted in" [ "$(seen)" = "(unset)" ]
fresh
# a program that sets the variable itself after the shim's constructor (Python's os.environ)
CUBLAS_PROG_SETENV=':4096:2' DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "the program's own later setenv wins (the per-stream workspaces cover that case)" [ "$(seen)" = ":4096:2" ]
check "... and the create event records it" \
    [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.workspace_config')" = ":4096:2" ]
finish
