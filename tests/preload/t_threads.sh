#!/bin/bash
# 16 threads through one hook: no torn lines, exact counts, one event.
. "$(dirname "$0")/lib.sh"
run_shim "$PROGS/core_prog" threads 16 1000 > out
L=$(onelog)
check "valid log (whole lines, seq without gaps)" "$PYTHON" "$LOGCHECK" "$L"
check "exact call count" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2')" -eq 16000 ]
check "exact site count" [ "$(q 'select(.type=="summary")|[.sites[].count]|add')" -eq 16000 ]
check "one event (one site)" [ "$(q 'select(.type=="event")|.site' | wc -l)" -eq 1 ]
check "the fake saw every create" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 16000 ]
finish
