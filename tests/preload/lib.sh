# lib.sh: helpers for the preload tests. Each test sources this, runs programs under
# the shim in a fresh directory, and asserts on the log, the fake libraries' record,
# and the program's output. Required environment (set by meson): SHIM, PROGS, FAKES,
# LOGCHECK, PYTHON.
set -u
PASS=0
FAIL=0
T=$(mktemp -d /tmp/detshim-preload.XXXXXX)
cd "$T" || exit 99
export DETSHIM_FAKE_RECORD="$T/record"
export LD_LIBRARY_PATH="$FAKES${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset DETSHIM_MODE DETSHIM_LOG DETSHIM_DISABLE DETSHIM_VERBOSE

ok()   { PASS=$((PASS + 1)); echo "ok - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
# run_shim ARGS...: the program under the shim, logs as $T/log-<pid>.jsonl
run_shim() { DETSHIM_LOG="${DETSHIM_LOG:-$T/log-%p.jsonl}" LD_PRELOAD="$SHIM" "$@"; }
logs() { ls "$T"/log-*.jsonl 2>/dev/null; }
nlogs() { logs | wc -l; }
onelog() { logs | head -n1; }
q() { jq -r "$1" "${2:-$(onelog)}"; }   # q FILTER [LOG]: a jq query, raw output
fresh() { rm -f "$T"/log-*.jsonl "$T/record" "$T"/out "$T"/err; }
finish() {
    echo "$PASS passed, $FAIL failed"
    if [ "$FAIL" -eq 0 ]; then rm -rf "$T"; exit 0; fi
    echo "(kept $T)"; exit 1
}
# Under a sanitizer build (DETSHIM_SANITIZED=address or thread) some tests check properties of the
# release artefact that an instrumented library cannot have: they skip (exit 77).
skip_if_sanitized() {
    if [ -n "${DETSHIM_SANITIZED:-}" ]; then echo "skipped under a sanitizer build: $*"; rm -rf "$T"; exit 77; fi
}
