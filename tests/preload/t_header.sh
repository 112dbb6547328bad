#!/bin/bash
# The header survives what a user's environment can throw at it, and no stderr text ever
# lands in the log: an over-long variable is cut (and named), not the whole header; with
# fd 2 closed and few descriptors allowed the log still sits above 2.
. "$(dirname "$0")/lib.sh"
long=$(head -c 100000 /dev/zero | tr '\0' 'x')
CUDA_VISIBLE_DEVICES=$long run_shim "$PROGS/core_prog" create 1 > out 2> err
check "long value: the header keeps its fields" [ "$(q 'select(.type=="header")|.cmdline|length')" -ge 2 ]
check "long value: not a truncated header" [ "$(q 'select(.type=="header")|.truncated')" = null ]
check "long value: the value is cut and named" \
    [ "$(q 'select(.type=="header")|[(.env.CUDA_VISIBLE_DEVICES|length), .env_truncated[0]]|@tsv')" = "2048	CUDA_VISIBLE_DEVICES" ]
fresh
# fds 0-2 closed, descriptors limited below 100: the log must not take 0..2
(ulimit -n 40; DETSHIM_VERBOSE=2 DETSHIM_LOG="$T/log-%p.jsonl" LD_PRELOAD="$SHIM" \
    "$PROGS/core_prog" create 3 <&- >&- 2>&-)
check "fd 2 closed: the program ran" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 3 ]
check "fd 2 closed: every log line is a whole JSON record" "$PYTHON" - "$(onelog)" <<'PY'
import json, sys
for line in open(sys.argv[1], "rb").read().splitlines():
    json.loads(line)
PY
check "fd 2 closed: no stderr text in the log" bash -c "! grep -q '^detshim: ' '$(onelog)'"
finish
