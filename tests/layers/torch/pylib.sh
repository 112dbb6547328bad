# pylib.sh: shared by the t_py_*.sh tests (sourced after ../../preload/lib.sh).
export LD_LIBRARY_PATH="$FAKES"
if ! "$PYTHON" -c 'import torch' > /dev/null 2>&1; then
    echo "torch is not importable by $PYTHON (Debian: apt install python3-torch): skipped"
    exit 77
fi
# Under the ASan build, LeakSanitizer would report Python's and torch's own allocations
# at exit (an uninstrumented interpreter): not the shim's, so not checked in these tests
# (t_fakes.sh, a C program, keeps leak checking).
if [ -n "${DETSHIM_SANITIZED:-}" ]; then export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; fi
ev() { q "select(.type==\"event\")|$1"; }                      # ev FILTER: over the events
line_of() { grep -n "# <- $1\$" "$2" | cut -d: -f1; }          # line_of MARK FILE
# pyat FILTER FILE: "line function" of the frames of FILE in the pystack of the selected events
pyat() { ev "select($1)|.pystack[]?|select(.file==\"$2\")|\"\\(.line) \\(.function)\""; }
STD=_ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE
C10=_ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE
