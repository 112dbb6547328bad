#!/bin/bash
# Secure execution (a setuid-root program run by another user, the library in a system
# directory with the setuid bit, as /etc/ld.so.preload or a site's preload amounts to): the
# shim must be fully passive. No pins, no log file, no database read, nothing on stderr,
# whatever DETSHIM_* the unprivileged user sets. The same program without the setuid bit is
# the control: there the shim acts (so each assertion below can fail).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "preloads the release artefact into a setuid program"
skip() { echo "skipped: $*"; rm -rf "$T"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (to make a setuid program and a trusted preload)"
id nobody >/dev/null 2>&1 || skip "needs the user nobody"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
LIBDIR=$(dirname "$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')")
[ -d "$LIBDIR" ] || LIBDIR=/usr/lib/x86_64-linux-gnu
NAME=libdetshim-sectest-$$.so
trap 'rm -f "$LIBDIR/$NAME"' EXIT
cp "$SHIM" "$LIBDIR/$NAME" && chmod 4755 "$LIBDIR/$NAME" || skip "cannot write $LIBDIR"
chmod 755 "$T"
mkdir -m 1777 "$T/logs"
printf 'SECRET-LINE-%s\tno such field\tx\n' $$ > "$T/secret.db"; chmod 600 "$T/secret.db"
cp "$PROGS/secure_prog" "$T/suid_prog"; chmod 4755 "$T/suid_prog"
cp "$PROGS/secure_prog" "$T/plain_prog"; chmod 755 "$T/plain_prog"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
hostile=(DETSHIM_MODE=strict DETSHIM_VERBOSE=2 "DETSHIM_LOG=$T/logs/owned-%p.jsonl"
         "DETSHIM_KERNELS=$T/secret.db" DETSHIM_HASH=1)

as_nobody env "${hostile[@]}" LD_PRELOAD="$NAME" "$T/suid_prog" > out 2> err
check "secure: the program ran in secure execution" grep -qx "secure=1" out
check "secure: the shim was preloaded" grep -qx "shim=loaded" out
check "secure: not one byte on stderr" [ ! -s err ]
check "secure: no file created" [ -z "$(ls -A "$T/logs")" ]
check "secure: no pin exported" grep -qx "NCCL_ALGO=" out
check "secure: the flagged launch went through (passive, strict ignored)" grep -qx "launch=0" out
absent() { ! grep -q "$@"; }
check "secure: the database was not read" absent SECRET err out

# control: the same, without the setuid bit (a database this user may read)
cp "$T/secret.db" "$T/public.db"; chmod 644 "$T/public.db"
as_nobody env "${hostile[@]/secret.db/public.db}" LD_PRELOAD="$LIBDIR/$NAME" "$T/plain_prog" > out 2> err
check "control: not secure" grep -qx "secure=0" out
check "control: the shim acts (a log, a pin, a refusal, stderr)" \
    bash -c "[ -n \"\$(ls -A '$T/logs')\" ] && grep -qx NCCL_ALGO=Ring out && ! grep -qx launch=0 out && [ -s err ]"
check "control: the database was read (its bad line named)" grep -q SECRET-LINE err
finish
