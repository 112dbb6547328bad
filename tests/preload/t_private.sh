#!/bin/bash
# Log files are private and never someone else's (and nothing blocks the program):
# a new log is 0600 whatever the umask; a file another user planted at the log path, a hard
# link to another file, a FIFO and a directory are refused with one message and the program
# runs on; the user's own existing log is appended to. A FIFO as a kernel database
# (DETSHIM_KERNELS) is refused too, without blocking.
. "$(dirname "$0")/lib.sh"
absent() { ! grep -q "$@"; }

(umask 000; run_shim "$PROGS/core_prog" create 1 > out 2> err)
check "new log: created" [ "$(nlogs)" -eq 1 ]
check "new log: mode 0600 under umask 000" [ "$(stat -c %a "$(onelog)")" = 600 ]
fresh

# planted by another user, world-writable, at the predictable name
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    : > "$T/planted.jsonl"; chmod 666 "$T/planted.jsonl"; chown nobody "$T/planted.jsonl"
    DETSHIM_LOG="$T/planted.jsonl" run_shim "$PROGS/core_prog" create 2 > out 2> err
    check "planted: program ran" grep -qx "status=0" out
    check "planted: nothing written into it" [ ! -s "$T/planted.jsonl" ]
    check "planted: one message naming the owner" [ "$(grep -c 'belongs to another user' err)" -eq 1 ]
fi

echo "someone's data" > "$T/other"; ln "$T/other" "$T/linked.jsonl"
DETSHIM_LOG="$T/linked.jsonl" run_shim "$PROGS/core_prog" create 2 > out 2> err
check "hard link: the other file untouched" [ "$(cat "$T/other")" = "someone's data" ]
check "hard link: one message" [ "$(grep -c 'hard links' err)" -eq 1 ]

mkfifo "$T/fifo.jsonl"
DETSHIM_LOG="$T/fifo.jsonl" timeout 20 env LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 2 > out 2> err
check "FIFO log: no hang, program ran" grep -qx "status=0" out
check "FIFO log: refused with one message" [ "$(grep -c 'FIFO' err)" -eq 1 ]

mkdir "$T/dir.jsonl"
DETSHIM_LOG="$T/dir.jsonl" run_shim "$PROGS/core_prog" create 1 > out 2> err
check "directory: program ran, one message" bash -c "grep -qx status=0 out && [ \$(grep -c 'cannot open the log' err) -eq 1 ]"

# the user's own log from an earlier run: appended, one header per run
DETSHIM_LOG="$T/mine.jsonl" run_shim "$PROGS/core_prog" create 1 > out 2> err
DETSHIM_LOG="$T/mine.jsonl" run_shim "$PROGS/core_prog" create 1 > out 2> err
check "own file: appended (two headers)" [ "$(grep -c '"type":"header"' "$T/mine.jsonl")" -eq 2 ]
check "own file: no complaint" absent detshim err

mkfifo "$T/db.fifo"
DETSHIM_KERNELS="$T/db.fifo" timeout 20 env LD_PRELOAD="$SHIM" DETSHIM_LOG="$T/log-%p.jsonl" \
    "$KPROG" reduce > out 2> err
check "FIFO database: no hang, program ran" [ -s out ]
check "FIFO database: named as unreadable" grep -q "db.fifo.*not a regular file" err
finish
