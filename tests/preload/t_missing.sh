#!/bin/bash
# The vendor library is there but lacks the function: the wrapper returns cuBLAS's own
# "not initialized" status, says so once on stderr and once in the log, never crashes.
. "$(dirname "$0")/lib.sh"
export LD_LIBRARY_PATH="$FAKES_EMPTY:$LD_LIBRARY_PATH"
run_shim "$PROGS/core_prog" create 3 > out 2> err
rc=$?
check "program ran to the end" [ "$rc" -eq 0 ]
check "status CUBLAS_STATUS_NOT_INITIALIZED (1)" grep -qx "status=1" out
check "one message on stderr" [ "$(grep -c 'real cublasCreate_v2 was not found' err)" -eq 1 ]
check "one notice in the log" [ "$(q 'select(.type=="notice")|.message' | grep -c 'cublasCreate_v2 was not found')" -eq 1 ]
check "valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
finish
