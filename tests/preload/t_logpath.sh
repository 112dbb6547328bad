#!/bin/bash
# Hostile log paths: a planted symlink is not followed (its target stays untouched), an
# unwritable directory is reported once; the program runs on in both cases.
. "$(dirname "$0")/lib.sh"
echo precious > victim
ln -s "$T/victim" "$T/planted.jsonl"
DETSHIM_LOG="$T/planted.jsonl" LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 3 > out 2> err
check "symlink: program ran" grep -qx "status=0" out
check "symlink: target untouched" [ "$(cat victim)" = "precious" ]
check "symlink: one message" [ "$(grep -c 'does not follow it' err)" -eq 1 ]
DETSHIM_LOG="/proc/no/such/dir/log.jsonl" LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 3 > out 2> err
check "unwritable: program ran" grep -qx "status=0" out
check "unwritable: one message" [ "$(grep -c 'cannot open the log' err)" -eq 1 ]
if [ -e /dev/full ]; then
    DETSHIM_LOG=/dev/full LD_PRELOAD="$SHIM" "$PROGS/core_prog" twosites > out 2> err
    check "device file: refused, program ran" [ "$(grep -c 'not a regular file' err)" -eq 1 ]
fi
finish
