#!/bin/bash
# Preloaded into programs that never touch a GPU library: same output, same exit
# status, no files. (The enforce-mode environment pins are the one visible change, so
# `env`/`printenv` are not in this list; see the README.)
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "checks the release artefact itself (exports, inertness in uninstrumented programs)"
mkdir -p work && cd work
cmds=(
  "true" "false" "ls -la /usr/share/doc/bash" "bash -c 'echo hi; exit 3'" "sh -c 'echo \$((6*7))'"
  "$PYTHON -c 'import json,sys; print(json.dumps({\"a\":[1,2]}))'" "gcc --version"
  "cat /etc/os-release" "sed -n 2p /etc/os-release" "grep -c root /etc/passwd" "sort -r /etc/shells"
  "find /usr/share/doc/bash -maxdepth 1 -name README*" "date -d @0 +%Y" "git --version" "make --version"
  "awk 'BEGIN{print 1+1}'" "ssh -V" "uname -s" "wc -l /etc/passwd" "tar --version" "$PROGS/core_prog none"
  "$PYTHON -c 'import ctypes; print(ctypes.CDLL(None).getpid() > 0)'"
)
for c in "${cmds[@]}"; do
    a=$(bash -c "$c" 2>&1); ra=$?
    b=$(LD_PRELOAD="$SHIM" DETSHIM_LOG="$T/log-%p.jsonl" bash -c "$c" 2>&1); rb=$?
    check "same output and status: $c" [ "$a" = "$b" -a "$ra" -eq "$rb" ]
done
check "no files created in the working directory" [ -z "$(ls -A)" ]
check "no log files" [ "$(nlogs)" -eq 0 ]
cd "$T"
finish
