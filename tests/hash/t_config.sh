#!/bin/bash
# DETSHIM_HASH: the accepted values switch hash mode on or off (`host`: on, device memory
# digested on the host only); a malformed value gets one message naming variable, value and
# accepted values, and hash mode stays off; `detshim run --hash` switches it on.
. "$(dirname "$0")/lib_hash.sh"
DETSHIM_HASH=bogus DETSHIM_LOG="$T/bad-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
check "malformed: one message naming variable, value and accepted values" \
    [ "$(cat err)" = "detshim: DETSHIM_HASH='bogus' is not valid; accepted values: 1, 0, yes, no, true, false, on, off, host (on, digests taken on the host); using off" ]
check "malformed: hash mode off, the program ran" [ -z "$(trace_of bad)" -a "$(grep -c 'status=0' out)" = 1 ]
for v in yes TRUE on 1; do
    DETSHIM_HASH=$v DETSHIM_LOG="$T/on$v-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
    check "DETSHIM_HASH=$v: on" [ -n "$(trace_of on$v)" -a ! -s err ]
done
for v in host HOST; do
    DETSHIM_HASH=$v DETSHIM_LOG="$T/h$v-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
    check "DETSHIM_HASH=$v: on, device memory digested on the host (header and records say so)" \
        [ -n "$(trace_of h$v)" -a ! -s err -a "$(head -n1 "$(trace_of h$v)" | jq -r .digest_path)" = host \
          -a "$(jq -r 'select(.type=="call")|.path' "$(trace_of h$v)" | sort -u)" = host ]
done
DETSHIM_HASH=hosts DETSHIM_LOG="$T/hs-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
check "DETSHIM_HASH=hosts: malformed, named, off" [ -z "$(trace_of hs)" -a "$(grep -c "DETSHIM_HASH='hosts' is not valid" err)" = 1 ]
for v in no off 0 false; do
    DETSHIM_HASH=$v DETSHIM_LOG="$T/off$v-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
    check "DETSHIM_HASH=$v: off" [ -z "$(trace_of off$v)" -a ! -s err ]
done
DETSHIM_LIB="$SHIM" dshim run --hash --mode log --log "$T/run-%p.jsonl" -- "$PROGS/hprog" clean > out 2> err
check "detshim run --hash: a trace beside the log" \
    [ "$(jq -r 'select(.type=="call")|.seq' "$(trace_of run)" | wc -l)" = 18 ]
DETSHIM_HASH=1 DETSHIM_LOG="$T/plain" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > out 2> err
check "a log name without .jsonl: the trace is LOG.trace.jsonl" [ -s "$T/plain.trace.jsonl" ]
finish
