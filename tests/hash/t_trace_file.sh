#!/bin/bash
# The trace file is opened safely (hash_trace.c, trace_open): created 0600 when new; a path
# that exists is used (and truncated) only when it is a regular file of this user with one
# link. A file another user planted (world-writable), a symbolic link, a FIFO or a file with
# a second hard link at the trace path is refused with one message, left as it was, and the
# program runs on unchanged (no trace).
. "$(dirname "$0")/lib_hash.sh"
"$PROGS/hprog" odd > plain.out
# run NAME: hprog odd in hash mode, log $T/NAME.jsonl, so the trace path is $T/NAME.trace.jsonl
run() { DETSHIM_HASH=1 DETSHIM_LOG="$T/$1.jsonl" LD_PRELOAD="$SHIM" timeout 20 "$PROGS/hprog" odd > "$1.out" 2> "$1.err"; }
refusals() { jq -r 'select(.type=="notice" and .layer=="hash" and (.message|test("hash trace")))|.message' "$T/$1.jsonl"; }

run new
check "a new trace: created, mode 0600, three records" \
    [ "$(stat -c %a "$T/new.trace.jsonl")" = 600 -a "$(jq -r 'select(.type=="call")|.seq' "$T/new.trace.jsonl" | wc -l)" = 3 ]
printf 'old contents of a longer previous trace\n%.0s' $(seq 1 200) > "$T/own.trace.jsonl"
chmod 644 "$T/own.trace.jsonl"
run own
check "an earlier trace of this user: reused, truncated (header first, no old line)" \
    [ "$(head -n1 "$T/own.trace.jsonl" | jq -r .type)" = trace_header -a "$(grep -c 'old contents' "$T/own.trace.jsonl")" = 0 ]

# refused_case NAME DESCRIPTION REASON: the program ran as without the shim, one message, no trace
refused_case() {
    check "$2: the program runs on, results unchanged" \
        [ "$(cat "$1.out")" = "$(cat plain.out)" ]
    check "$2: one message, naming the path and why ($3)" \
        [ "$(refusals "$1")" = "refusing the hash trace $T/$1.trace.jsonl: $3; hash mode records nothing" -a \
          "$(grep -c 'refusing the hash trace' "$1.err")" = 1 ]
}

if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
    echo planted > "$T/planted.trace.jsonl"
    chmod 666 "$T/planted.trace.jsonl"
    chown nobody "$T/planted.trace.jsonl"
    run planted
    refused_case planted "a world-writable file of another user" "it belongs to another user (uid 65534)"
    check "the planted file is left as it was" [ "$(cat "$T/planted.trace.jsonl")" = planted ]
else
    echo "# not root: the file of another user is not planted"
fi

echo target > "$T/target"
ln -s "$T/target" "$T/link.trace.jsonl"
run link
refused_case link "a symbolic link" "a symbolic link is there; detshim does not follow it"
check "the link's target is left as it was" [ "$(cat "$T/target")" = target -a -L "$T/link.trace.jsonl" ]

mkfifo "$T/fifo.trace.jsonl"
run fifo
check "a FIFO: the program does not block on it (it finished, not stopped by timeout)" [ "$(cat fifo.out | head -c 9)" = "hprog odd" ]
refused_case fifo "a FIFO" "it is a FIFO, not a regular file"

echo linked > "$T/hard.trace.jsonl"
ln "$T/hard.trace.jsonl" "$T/elsewhere"
run hard
refused_case hard "a file with a second hard link" "it has 2 hard links"
check "the other link's contents are left as they were" [ "$(cat "$T/elsewhere")" = linked ]
finish
