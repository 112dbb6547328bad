#!/bin/bash
# CUBLAS_WORKSPACE_CONFIG: the core pins it in the constructor (enforce/strict); the fake
# cuBLAS records the value it finds in the environment when a handle is created.
. "$(dirname "$0")/../../preload/lib.sh"
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_PEDANTIC_MATH
seen() { sed -n 's/^cublasCreate_v2 .* workspace_config=\(.*\)$/\1/p' record | sort -u | tr '\n' ' ' | sed 's/ $//'; }
pin() { q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|[.value,.action,(.previous//"null"),.layer]|@tsv'; }

for mode in enforce strict; do
    DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
    check "$mode, unset: cuBLAS saw the pinned :4096:8 at create" [ "$(seen)" = ":4096:8" ]
    check "$mode, unset: header pin 'set', previous null" [ "$(pin)" = ":4096:8	set	null	cublas" ]
    check "$mode, unset: the create event shows the value in force" \
        [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.workspace_config')" = ":4096:8" ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
    for unsafe in ':4096:2:16:8' ':1024:4' ':4096:8:16:8' '4096:8'; do
        CUBLAS_WORKSPACE_CONFIG=$unsafe DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
        check "$mode, '$unsafe': cuBLAS saw :4096:8 instead" [ "$(seen)" = ":4096:8" ]
        check "$mode, '$unsafe': header pin 'replaced' with previous" \
            [ "$(pin)" = ":4096:8	replaced	$unsafe	cublas" ]
        check "$mode, '$unsafe': header env shows the pinned value" \
            [ "$(q 'select(.type=="header")|.env.CUBLAS_WORKSPACE_CONFIG')" = ":4096:8" ]
        fresh
    done
    for safe in ':16:8' ':4096:8'; do
        CUBLAS_WORKSPACE_CONFIG=$safe DETSHIM_MODE=$mode run_shim "$CPROGS/cublas_prog" create > out 2> err
        check "$mode, '$safe': kept, cuBLAS saw it" [ "$(seen)" = "$safe" ]
        check "$mode, '$safe': no pin in the header" [ -z "$(pin)" ]
        check "$mode, '$safe': header env shows it" \
            [ "$(q 'select(.type=="header")|.env.CUBLAS_WORKSPACE_CONFIG')" = "$safe" ]
        fresh
    done
done

CUBLAS_WORKSPACE_CONFIG=':4096:2:16:8' DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" create > out 2> err
check "log: the unsafe value is kept, cuBLAS saw it" [ "$(seen)" = ":4096:2:16:8" ]
check "log: no pins" [ "$(q 'select(.type=="header")|.pins|length')" = "0" ]
check "log: header env shows the program's value" \
    [ "$(q 'select(.type=="header")|.env.CUBLAS_WORKSPACE_CONFIG')" = ":4096:2:16:8" ]
fresh
DETSHIM_MODE=log run_shim "$CPROGS/cublas_prog" create > out 2> err
check "log, unset: stays unset" [ "$(seen)" = "(unset)" ]
fresh
CUBLAS_WORKSPACE_CONFIG=':1024:4' DETSHIM_MODE=off run_shim "$CPROGS/cublas_prog" create > out 2> err
check "off: the value is kept" [ "$(seen)" = ":1024:4" ]
check "off: no log" [ "$(nlogs)" -eq 0 ]
fresh
DETSHIM_MODE=enforce DETSHIM_DISABLE=cublas run_shim "$CPROGS/cublas_prog" create > out 2> err
check "cublas layer disabled: not pinned" [ "$(seen)" = "(unset)" ]
fresh
# a program that sets the variable itself after the shim's constructor (Python's os.environ)
CUBLAS_PROG_SETENV=':4096:2' DETSHIM_MODE=enforce run_shim "$CPROGS/cublas_prog" create > out 2> err
check "the program's own later setenv wins (the per-stream workspaces cover that case)" [ "$(seen)" = ":4096:2" ]
check "... and the create event records it" \
    [ "$(q 'select(.type=="event" and .symbol=="cublasCreate_v2")|.workspace_config')" = ":4096:2" ]
finish
