# lib_hash.sh: what the hash-mode tests share, on top of tests/preload/lib.sh.
. "$(dirname "$0")/../preload/lib.sh"
unset DETSHIM_HASH DETSHIM_KERNELS DETSHIM_ALLOW DETSHIM_DENY
export DETSHIM_MODE=log LC_ALL=C
# hashed NAME MODE: hprog MODE under the shim in hash mode; log and trace as $T/NAME-<pid>.*
hashed() { DETSHIM_HASH=1 DETSHIM_LOG="$T/$1-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" "$2"; }
trace_of() { ls "$T"/"$1"-*.trace.jsonl 2>/dev/null; }
log_of() { ls "$T"/"$1"-*[0-9].jsonl 2>/dev/null; }
dshim() { "$PYTHON" "$DETSHIM_CMD" "$@"; }
K_PERTURB=_Z7perturbPjPKji
