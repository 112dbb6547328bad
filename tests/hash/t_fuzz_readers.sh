#!/bin/bash
# The readers of logs and hash traces (detshim report, detshim diff) under mutation
# fuzzing, seeded with real logs and traces written by the shim in front of the fakes and
# with the hand-written fixtures: never a crash or traceback, every rejection one line.
. "$(dirname "$0")/lib_hash.sh"
hashed r1 clean > /dev/null
hashed r2 noisy > /dev/null
check "seed traces written" [ -n "$(trace_of r1)" -a -n "$(trace_of r2)" ]
check "fuzzing: no crash, clear rejections" "$PYTHON" "$FUZZ_READERS" "$SCRIPTS_DIR" \
    "$(trace_of r1)" "$(log_of r2)" "$SCRIPTS_DIR/../tests/cli/fixtures/h100-run1.jsonl" --iterations 500
finish
