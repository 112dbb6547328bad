#!/bin/bash
# Hostile loading: RTLD_DEEPBIND, dlclose and reload, a program that calls dlsym for
# the vendor symbols itself, and another LD_PRELOAD library wrapping cuBLAS too. The
# right function always runs, nothing recurses, counts stay exact.
. "$(dirname "$0")/lib.sh"
export LD_LIBRARY_PATH="$PROGS:$LD_LIBRARY_PATH"
creates() { grep -c '^cublasCreate_v2 ' record 2>/dev/null || echo 0; }

run_shim "$PROGS/local_prog" libmiddle.so 4 reload > out 2> err
check "reload: both rounds succeed" [ "$(grep -c '^status=0$' out)" -eq 2 ]
check "reload: the real function ran 8 times" [ "$(creates)" -eq 8 ]
check "reload: the shim counted all 8" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2')" -eq 8 ]

fresh
if [ -z "${DETSHIM_SANITIZED:-}" ]; then  # the sanitizer runtimes refuse RTLD_DEEPBIND
run_shim "$PROGS/local_prog" libmiddle.so 3 deepbind > out 2> err
check "deepbind: calls succeed" grep -qx "status=0" out
check "deepbind: the real function ran" [ "$(creates)" -eq 3 ]
# RTLD_DEEPBIND makes the library bind to its own dependencies first: the shim is
# bypassed (documented), so no log is expected, and nothing breaks.
check "deepbind: no crash, no error output" [ ! -s err ]
fi

fresh
run_shim "$PROGS/local_prog" libmiddle.so 2 dlsym > out 2> err
check "dlsym(RTLD_DEFAULT): goes through the shim and succeeds" grep -qx "default status=0" out
check "dlsym(handle): the real function, succeeds" grep -qx "handle status=0" out
check "dlsym: the real function ran 4 times" [ "$(creates)" -eq 4 ]
# on x86-64 the shim's dlsym hands out its wrapper for a hooked name on a vendor handle too
# (shim/hooks/dlsym.c; tests/roads): elsewhere only the RTLD_DEFAULT lookups reach it
want_seen=2; [ "$(uname -m)" = x86_64 ] && want_seen=4
check "dlsym: the shim saw the calls it can see" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2')" -eq $want_seen ]

for order in "shim other" "other shim"; do
    fresh
    pre=""
    for w in $order; do
        [ "$w" = shim ] && pre="$pre:$SHIM" || pre="$pre:$PROGS/libotherwrap.so"
    done
    OTHERWRAP_REPORT=1 DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="${pre#:}" "$PROGS/core_prog" create 5 > out 2> err
    check "$order: calls succeed" grep -qx "status=0" out
    check "$order: the real function ran exactly 5 times (no recursion, no doubling)" [ "$(creates)" -eq 5 ]
    check "$order: the other wrapper saw 5" grep -qx "otherwrap saw 5 creates" err
    check "$order: one log, the shim counted 5" [ "$(nlogs)" -eq 1 -a "$(q 'select(.type=="summary")|.calls.cublasCreate_v2')" -eq 5 ]
done
finish
