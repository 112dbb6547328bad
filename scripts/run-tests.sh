#!/bin/bash
# Builds libdetshim and runs every test: the plain build (all suites), the unit tests
# under valgrind, a build against CUDA 12.4's headers (the C suites), and the C suites
# under ASan+UBSan and under TSan. Ends with one line
# "N passed, M failed, K skipped". Needs what scripts/test-deps.sh installs.
# Usage: scripts/run-tests.sh [--quick]   (--quick: plain build only)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)
c_suites=(--suite unit --suite preload --suite roads --suite cublas --suite kernels --suite cudnn --suite torch --suite hash --suite fuzz-replay)
fuzz_seconds=${DETSHIM_FUZZ_SECONDS:-30}
rc=0
results=()

step() { echo; echo "=== $*"; }
steps_log=$(mktemp)
results+=("$steps_log")
# A step that could not even build counts as a failed test in the summary.
step_failed() { echo "FAILED: $*"; echo '{"result": "FAIL"}' >> "$steps_log"; rc=1; }
# build DIR [meson options...]: configure (fresh) and compile everything
# (NINJA_TARGETS, when set, limits what is compiled)
build() {
    local dir=$1; shift
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; step_failed "configure $dir"; return 1; }
    ninja -C "$dir" -j "$jobs" ${NINJA_TARGETS:-} >"$dir.build.log" 2>&1 ||
        { tail -50 "$dir.build.log"; step_failed "build $dir"; return 1; }
}
# run DIR [meson test args...]: run, remember the JSON test log for the summary
run() {
    local dir=$1; shift
    # a log of its own per run (meson adds a --wrapper's name to it: testlog-run1-valgrind;
    # reading plain testlog.json there counted the previous run's results instead)
    local base="testlog-run${#results[@]}" st=0 log
    rm -f "$dir/meson-logs/$base".json "$dir/meson-logs/$base"-*.json
    meson test -C "$dir" --print-errorlogs --num-processes "$jobs" --logbase "$base" "$@" || st=$?
    log=$(ls "$dir/meson-logs/$base".json "$dir/meson-logs/$base"-*.json 2>/dev/null | head -1)
    results+=("${log:-$dir/meson-logs/$base.json}")
    # meson failed, yet its log shows no failed test: count the run itself
    if [ $st -ne 0 ]; then
        rc=1
        grep -q '"result": "\(FAIL\|TIMEOUT\|ERROR\|UNEXPECTEDPASS\)"' "${log:-/dev/null}" 2>/dev/null ||
            step_failed "meson test in $dir exited $st"
    fi
}

step "plain build, every suite"
if build build-test; then run build-test; fi

if [ $quick -eq 0 ]; then
    step "unit tests under valgrind"
    if [ -d build-test ]; then
        CK_TIMEOUT_MULTIPLIER=5 run build-test --suite unit --timeout-multiplier 5 \
            --wrapper "valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp"
    fi

    # Clusters run CUDA 12 as often as 13: the oldest supported headers (12.4, from NVIDIA's
    # wheels, fetched once into build-cu12-headers/), the C suites and the real-library one.
    step "CUDA 12 headers build (12.4), the C suites"
    cu12=$PWD/build-cu12-headers
    if [ -e "$cu12/include/cudnn.h" ] || scripts/fetch-cuda-headers.sh 12 "$cu12" >/dev/null; then
        if build build-cu12 -Dtoolkit_include_dir="$cu12/include"; then
            run build-cu12 "${c_suites[@]}" --suite real
        fi
    else
        step_failed "fetch the CUDA 12 headers (scripts/fetch-cuda-headers.sh 12)"
    fi

    step "ASan + UBSan build"
    if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
        DETSHIM_SANITIZED=address ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            CK_TIMEOUT_MULTIPLIER=3 run build-asan "${c_suites[@]}" --timeout-multiplier 3
    fi

    step "TSan build"
    if build build-tsan -Db_sanitize=thread -Db_lundef=false; then
        DETSHIM_SANITIZED=thread TSAN_OPTIONS=halt_on_error=1 \
            CK_TIMEOUT_MULTIPLIER=3 run build-tsan "${c_suites[@]}" --timeout-multiplier 3
    fi

    step "libFuzzer, ${fuzz_seconds}s per target (clang, ASan+UBSan)"
    fuzzers=$(cd tests/fuzz && ls fuzz_*.c | sed 's|^\(.*\)\.c$|tests/fuzz/\1|')
    if ! command -v clang >/dev/null; then
        step_failed "clang is not installed: fuzzing not run"
    elif CC=clang NINJA_TARGETS="$fuzzers" build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false; then
        : > build-fuzz/fuzz-results.json
        for f in $fuzzers; do
            f=build-fuzz/$f
            t=${f##*/fuzz_}
            work=$(mktemp -d)
            cp -r "tests/fuzz/corpus/$t/." "$work/"
            if "$f" -max_total_time="$fuzz_seconds" -print_final_stats=0 "$work" >"build-fuzz/fuzz-$t.log" 2>&1; then
                echo "fuzz $t: no crash in $(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "build-fuzz/fuzz-$t.log") runs"
                echo '{"result": "OK"}' >> build-fuzz/fuzz-results.json
            else
                echo "fuzz $t: FAILED"; tail -40 "build-fuzz/fuzz-$t.log"; rc=1
                echo '{"result": "FAIL"}' >> build-fuzz/fuzz-results.json
            fi
            rm -rf "$work"
        done
        results+=(build-fuzz/fuzz-results.json)
    fi
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
