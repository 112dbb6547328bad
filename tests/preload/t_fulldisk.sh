#!/bin/bash
# The log's file system fills up: the program runs on with its normal output, stderr says
# so once, and every line that made it into the log is a whole record.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "needs a private mount namespace; nothing sanitizer-specific"
if ! unshare -m true 2>/dev/null && ! unshare -rm true 2>/dev/null; then
    echo "skipped: cannot make a private mount namespace here"; rm -rf "$T"; exit 77
fi
mkdir -p small
cat > inner.sh <<'INNER'
mount -t tmpfs -o size=16k tmpfs "$1/small" || exit 77
DETSHIM_MODE=log DETSHIM_LOG="$1/small/log-%p.jsonl" LD_PRELOAD="$SHIM" "$KPROG" all > "$1/out" 2> "$1/err"
echo "rc=$?" >> "$1/out"
cp "$1"/small/log-*.jsonl "$1/kept.jsonl" 2>/dev/null
INNER
# kprog all: 48 flagged call sites, far more log than 16 KiB
DETSHIM_MODE=log DETSHIM_LOG="$T/ref-%p.jsonl" LD_PRELOAD="$SHIM" "$KPROG" all > ref 2>/dev/null
( unshare -m bash inner.sh "$T" 2>/dev/null || unshare -rm bash inner.sh "$T" ); st=$?
[ "$st" -eq 77 ] && { echo "skipped: cannot mount a tmpfs"; rm -rf "$T"; exit 77; }
check "program ran to the end" grep -qx "rc=0" out
check "program output unchanged" diff <(grep -v '^rc=' out) ref
check "the log did fill the disk" [ "$(stat -c %s kept.jsonl)" -lt "$(stat -c %s "$(ls "$T"/ref-*.jsonl)")" ]
check "stderr says it once" [ "$(grep -c 'cannot write the log' err)" -eq 1 ]
check "the log's lines are whole records" "$PYTHON" - kept.jsonl <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), "last line cut"
for line in data.splitlines():
    json.loads(line)
PY

# The disk is full before the header fits: no log at all (never records without a header)
cat > inner2.sh <<'INNER'
mount -t tmpfs -o size=16k tmpfs "$1/small" || exit 77
head -c 15000 /dev/zero > "$1/small/filler" 2>/dev/null
DETSHIM_MODE=log DETSHIM_LOG="$1/small/log-%p.jsonl" LD_PRELOAD="$SHIM" "$KPROG" all > "$1/out2" 2> "$1/err2"
echo "rc=$?" >> "$1/out2"
rm -f "$1/small/filler"
ls "$1/small" > "$1/left2"
INNER
( unshare -m bash inner2.sh "$T" 2>/dev/null || unshare -rm bash inner2.sh "$T" )
check "header cut short: program ran to the end" grep -qx "rc=0" out2
check "header cut short: no log left behind" [ ! -s left2 ]
check "header cut short: stderr says it once" [ "$(grep -c 'cannot write the log' err2)" -eq 1 ]
finish
