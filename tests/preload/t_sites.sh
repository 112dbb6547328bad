#!/bin/bash
# Dedup by call site: two sites give two events with different ids; repeats are counted.
. "$(dirname "$0")/lib.sh"
run_shim "$PROGS/core_prog" twosites > out
L=$(onelog)
check "valid log" "$PYTHON" "$LOGCHECK" "$L"
check "two events" [ "$(q 'select(.type=="event")|.site' | sort -u | wc -l)" -eq 2 ]
check "each names its caller" [ "$(q 'select(.type=="event")|.stack[0].function' | sort | tr '\n' ' ')" = "create_from_second_site create_handles_here " ]
fresh
run_shim "$PROGS/core_prog" create 500 > out
check "500 calls at one site: one event" [ "$(q 'select(.type=="event")|.site' | wc -l)" -eq 1 ]
check "500 calls at one site: counted 500" [ "$(q 'select(.type=="summary")|.sites[0].count')" -eq 500 ]
finish
