#!/bin/bash
# Modes, layer switches and malformed settings.
. "$(dirname "$0")/lib.sh"
DETSHIM_MODE=off run_shim "$PROGS/core_prog" create 2 > out 2> err
check "off: no log file" [ "$(nlogs)" -eq 0 ]
check "off: calls pass through" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 2 ]
check "off: nothing on stderr" [ ! -s err ]
check "off: no pin" [ "$(DETSHIM_MODE=off LD_PRELOAD=$SHIM "$PYTHON" -c 'import os;print(os.environ.get("CUBLAS_WORKSPACE_CONFIG"))')" = "None" ]
fresh
DETSHIM_MODE=log run_shim "$PROGS/core_prog" create 2 > out
check "log: header mode" [ "$(head -n1 "$(onelog)" | jq -r .mode)" = "log" ]
check "log: event mode" [ "$(q 'select(.type=="event")|.mode')" = "log" ]
check "log: no pins (changes nothing)" [ "$(head -n1 "$(onelog)" | jq '.pins|length')" -eq 0 ]
fresh
DETSHIM_MODE=enforcing run_shim "$PROGS/core_prog" create 1 > out 2> err
check "bad mode: one message naming variable, value and accepted values" \
    [ "$(grep -c "DETSHIM_MODE='enforcing' is not valid; accepted values: off, log, enforce, strict; using 'enforce'" err)" -eq 1 ]
check "bad mode: program unaffected" grep -qx "status=0" out
check "bad mode: enforce used" [ "$(head -n1 "$(onelog)" | jq -r .mode)" = "enforce" ]
fresh
DETSHIM_DISABLE=cublas run_shim "$PROGS/core_prog" create 2 > out 2> err
check "disabled layer: calls pass through" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 2 ]
check "disabled layer: no log (nothing was hooked)" [ "$(nlogs)" -eq 0 ]
fresh
DETSHIM_DISABLE=cublas,warp run_shim "$PROGS/core_prog" create 1 > out 2> err
check "bad layer name: message names it" grep -q "DETSHIM_DISABLE='cublas,warp' is not valid.*unknown: 'warp'" err
fresh
DETSHIM_LOG='x-%z' LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 1 > out 2> err
check "bad log template: message" grep -q "DETSHIM_LOG='x-%z' is not valid" err
check "bad log template: default name used" [ -f "detshim-$(hostname)-$(head -n1 detshim-*.jsonl | jq -r .pid).jsonl" ]
rm -f detshim-*.jsonl
RANK=3 LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 1 > out 2> err
f=$(ls detshim-*.jsonl)
check "rank in the default name" [ "$f" = "detshim-$(hostname)-r3-$(head -n1 "$f" | jq -r .pid).jsonl" ]
check "rank in the header" [ "$(head -n1 "$f" | jq -r .rank)" = "3" ]
rm -f detshim-*.jsonl
SLURM_PROCID=5 DETSHIM_LOG="$T/job-%r-%h.jsonl" LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 1 > out
check "%r and %h expand" [ -f "$T/job-5-$(hostname).jsonl" ]
finish
