# lib_cudnn.sh: helpers for the cuDNN layer tests, on top of tests/preload/lib.sh.
# Required environment (set by meson): PRELOAD_LIB, CUDNN_PROG, and what lib.sh needs.
. "$PRELOAD_LIB"
P=$CUDNN_PROG

# run MODE ARGS...: cudnn_prog under the shim in MODE, from a clean slate: its output in
# out, stderr in err, the fake's record in record, its log the only log-*.jsonl.
run() {
    local m=$1; shift
    fresh
    DETSHIM_MODE=$m run_shim "$P" "$@" > out 2> err
}
# has LINE: out holds exactly this line
has() { grep -qxF -- "$1" out; }
# recorded LINE: the fake recorded exactly this line
recorded() { grep -qxF -- "$1" record 2>/dev/null; }
# nrec PATTERN: how many record lines match (grep -E)
nrec() { if [ -f record ]; then grep -cE -- "$1" record || true; else echo 0; fi; }
# ev SYMBOL FILTER: FILTER applied to each event of SYMBOL (jq -c)
ev() { [ -n "$(logs)" ] || return 0; jq -c "select(.type==\"event\" and .symbol==\"$1\")|$2" "$(onelog)"; }
# nev [SYMBOL]: number of events (of SYMBOL)
nev() {
    [ -n "$(logs)" ] || { echo 0; return; }
    if [ $# -gt 0 ]; then jq -c "select(.type==\"event\" and .symbol==\"$1\")" "$(onelog)" | wc -l
    else jq -c 'select(.type=="event")' "$(onelog)" | wc -l; fi
}
# valid: the log passes the schema check (or there is none, in off mode)
valid() { [ -z "$(logs)" ] || "$PYTHON" "$LOGCHECK" "$(onelog)"; }
# is A B: A equals B (prints both on failure)
is() { [ "$1" = "$2" ] || { echo "    got:  $1"; echo "    want: $2"; return 1; }; }
