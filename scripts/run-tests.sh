#!/bin/bash
# Builds libdetshim and runs every test: the plain build (all suites), the unit tests
# under valgrind, and the C suites under ASan+UBSan and under TSan. Ends with one line
# "N passed, M failed, K skipped". Needs what scripts/test-deps.sh installs.
# Usage: scripts/run-tests.sh [--quick]   (--quick: plain build only)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)
c_suites=(--suite unit --suite preload --suite cublas --suite kernels --suite cudnn --suite torch)
rc=0
results=()

step() { echo; echo "=== $*"; }
# build DIR [meson options...]: configure (fresh) and compile
build() {
    local dir=$1; shift
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
    ninja -C "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}
# run DIR [meson test args...]: run, remember the JSON test log for the summary
run() {
    local dir=$1; shift
    meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@" || rc=1
    local keep="$dir/meson-logs/testlog-run${#results[@]}.json"
    cp "$dir/meson-logs/testlog.json" "$keep" 2>/dev/null
    results+=("$keep")
}

step "plain build, every suite"
if build build-test; then run build-test; else rc=1; fi

if [ $quick -eq 0 ]; then
    step "unit tests under valgrind"
    if [ -d build-test ]; then
        run build-test --suite unit --timeout-multiplier 5 \
            --wrapper "valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp"
    fi

    step "ASan + UBSan build"
    if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
        DETSHIM_SANITIZED=1 ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            run build-asan "${c_suites[@]}" --timeout-multiplier 3
    else rc=1; fi

    step "TSan build"
    if build build-tsan -Db_sanitize=thread -Db_lundef=false; then
        DETSHIM_SANITIZED=1 TSAN_OPTIONS=halt_on_error=1 \
            run build-tsan "${c_suites[@]}" --timeout-multiplier 3
    else rc=1; fi
fi

step "summary"
python3 - "${results[@]}" <<'PY'
import json, sys
p = f = s = 0
for path in sys.argv[1:]:
    try:
        for line in open(path):
            r = json.loads(line).get("result", "")
            if r in ("OK", "EXPECTEDFAIL"): p += 1
            elif r == "SKIP": s += 1
            else: f += 1
    except OSError:
        f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
exit $rc
