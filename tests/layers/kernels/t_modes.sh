#!/bin/bash
# off: pure pass-through, no log; enforce (the default): recorded, run unchanged, and the
# record says a kernel cannot be rewritten; DETSHIM_DISABLE=kernels: pass-through.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=off run_shim "$PROGS/kprog" all > out 2> err
check "off: no log" [ "$(nlogs)" -eq 0 ]
check "off: every launch ran" [ "$(grep -c ' status=0$' out) $(launched "$K_INDEX")" = "$((NENTRIES * 4 + 5)) $((NENTRIES * 2))" ]
check "off: nothing on stderr" [ ! -s err ]
fresh
run_shim "$PROGS/kprog" all > out 2> err
check "enforce: every launch ran" [ "$(grep -c ' status=0$' out) $(launched "$K_FORCE")" = "$((NENTRIES * 4 + 5)) $((NENTRIES * 2))" ]
check "enforce: every flagged launch recorded" diff <(expected_events "$K_INDEX" "$K_FORCE") <(kernel_events)
check "enforce: observed, and the detail says it cannot be rewritten" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.action) \(.mode) \(.detail|test("enforce mode cannot rewrite a kernel: it ran unchanged"))"' | sort -u)" = "observed enforce true" ]
check "enforce: nothing on stderr" [ ! -s err ]
fresh
DETSHIM_MODE=strict DETSHIM_DISABLE=kernels run_shim "$PROGS/kprog" all > out 2> err
check "disabled: every launch ran, even in strict mode" [ "$(grep -c ' status=0$' out) $(launched "$K_INDEX")" = "$((NENTRIES * 4 + 5)) $((NENTRIES * 2))" ]
check "disabled: no kernels events" [ "$(cat "$T"/log-*.jsonl 2>/dev/null | jq -s '[.[]|select(.type=="event" and .layer=="kernels")]|length')" -eq 0 ]
finish
