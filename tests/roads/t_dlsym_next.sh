#!/bin/bash
# The shim's dlsym keeps RTLD_NEXT relative to the caller, and works beside another
# library that wraps dlsym, in either preload order.
. "$(dirname "$0")/lib_roads.sh"
creates() { grep -c '^cublasCreate_v2 ' record 2>/dev/null || echo 0; }

# a program's own cublasCreate_v2 forwards with dlsym(RTLD_NEXT): the next definition after
# the program is the preloaded shim's, which must see every call
run_shim "$RPROGS/roads_next" 3 > out 2> err
check "RTLD_NEXT from the program: calls succeed" grep -qx "status=0" out
check "RTLD_NEXT from the program: the real function ran 3 times" [ "$(creates)" -eq 3 ]
check "RTLD_NEXT from the program: it reached the shim (3 counted)" [ "$(calls cublasCreate_v2)" -eq 3 ]
fresh

for order in "shim dlwrap" "dlwrap shim"; do
    pre=""
    for w in $order; do
        [ "$w" = shim ] && pre="$pre:$SHIM" || pre="$pre:$RPROGS/libdlwrap.so"
    done
    DLWRAP_REPORT=1 DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="${pre#:}" "$RPROGS/roads_prog" cublas > out 2> err
    check "$order: lookups by handle still lead to the shim" [ "$(where cublasCreate_v2)" = libdetshim.so ]
    check "$order: other names still the library's own" [ "$(where cublasGetVersion_v2)" = libcublas.so.13 ]
    check "$order: every call succeeds, no recursion" [ "$(grep -c ' status=0$' out)" -eq 5 ]
    check "$order: the policy ran (atomics forced)" grep -q '^cublasSetAtomicsMode .* mode=0$' record
    check "$order: the other dlsym wrapper saw the program's lookups" \
        bash -c "n=\$(sed -n 's/^dlwrap saw \([0-9]*\) lookups$/\1/p' err); [ \"\${n:-0}\" -ge 5 ]"
    DLWRAP_REPORT=1 DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="${pre#:}" "$RPROGS/roads_next" 2 > out 2> err
    check "$order: RTLD_NEXT from the program still reaches the shim" [ "$(grep -c '^status=0$' out)" -eq 1 ] && \
        [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2' "$(ls -t "$T"/log-*.jsonl | head -n1)")" -eq 2 ]
    fresh
done
finish
