#!/bin/bash
# cuBLASLt preferences on the real libcublasLt: in enforce and strict the heuristic is asked
# with the shim's copy of the caller's preference, alignments normalised (4 stays 4, the
# float size; 8 becomes 4; 256 and 32 become 16) and in-place split-K taken out of the
# reduction mask (7 -> 6); the caller's preference is never changed; the heuristic's status
# (it fails without a GPU) comes back unchanged. A spy library between the shim and the real
# library reads the preference it is handed with the real GetAttribute.
. "$(dirname "$0")/lib_real.sh"
spy() { grep "^spy $1 " err | head -n1 | awk '{print $3}'; }
pref() { sed -n "s/^pref $1 \([0-9]*\) status=0$/\1/p" out; }
"$RPROGS/real_prog" lt > base 2>/dev/null
check "without the shim: the heuristic fails without a GPU (status 1 expected)" grep -qx "heuristic 1" base
for mode in $MODES; do
    DETSHIM_MODE=$mode DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="$SHIM:$RPROGS/liblt_spy.so" "$RPROGS/real_prog" lt > out 2> err
    check "$mode: ran to the end" grep -qx end out
    check "$mode: every preference call succeeded on the real library" [ "$(grep -Ec '^(create|desc|layouts|align_.|reduction) 0$' out)" -eq 8 ]
    check "$mode: the heuristic's status is the library's" [ "$(grep '^heuristic ' out)" = "$(grep '^heuristic ' base)" ]
    check "$mode: the caller's preference is unchanged (4 8 256 32 7)" \
        [ "$(pref align_a) $(pref align_b) $(pref align_c) $(pref align_d) $(pref reduction)" = "4 8 256 32 7" ]
    case $mode in
    off)
        check "off: the program's lookup is the library's own: the shim (and the spy) not on the way" \
            [ "$(grep -c '^spy ' err)" -eq 0 ] ;;
    *)
        check "$mode: the real library read every attribute the spy asked" [ "$(grep -c '^spy .* status=0$' err)" -ge 5 ] ;;
    esac
    case $mode in
    enforce|strict)
        check "$mode: the heuristic was asked with normalised alignments and mask (4 4 16 16 6)" \
            [ "$(spy align_a) $(spy align_b) $(spy align_c) $(spy align_d) $(spy reduction)" = "4 4 16 16 6" ] ;;
    log)
        check "$mode: the heuristic was asked with the caller's own preference" \
            [ "$(spy align_a) $(spy align_b) $(spy align_c) $(spy align_d) $(spy reduction)" = "4 8 256 32 7" ] ;;
    esac
    fresh
done
finish
