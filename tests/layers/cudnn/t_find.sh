#!/bin/bash
# Legacy algorithm search: all nine finders of cudnn_cnn.h (Find, FindEx, Get_v7 for
# forward, backward-data, backward-filter). The fake offers mixed lists with the
# nondeterministic entries first:
#   forward          1(field NON_DETERMINISTIC) 0 6 2 4(failed, field ignored)
#   backward-data    0(documented) 1 3 2
#   backward-filter  3(documented; its field claims determinism) 0 1 5 6
. "$(dirname "$0")/lib_cudnn.sh"

FULL_FWD="algos=1,0,6,2,4 memory=0,0,1024,4096,0"
FULL_BWDD="algos=0,1,3,2 memory=0,2048,8192,0"
FULL_BWDF="algos=3,0,1,5,6 memory=0,0,4096,65536,0"
DET_FWD="algos=0,6,2,4 memory=0,1024,4096,0"
DET_BWDD="algos=1,3,2 memory=2048,8192,0"
DET_BWDF="algos=1,5,6 memory=4096,65536,0"
FINDERS="cudnnFindConvolutionForwardAlgorithm cudnnFindConvolutionForwardAlgorithmEx cudnnGetConvolutionForwardAlgorithm_v7 cudnnFindConvolutionBackwardDataAlgorithm cudnnFindConvolutionBackwardDataAlgorithmEx cudnnGetConvolutionBackwardDataAlgorithm_v7 cudnnFindConvolutionBackwardFilterAlgorithm cudnnFindConvolutionBackwardFilterAlgorithmEx cudnnGetConvolutionBackwardFilterAlgorithm_v7"

lists_are() { # lists_are FWD BWDD BWDF N_FWD N_BWDD N_BWDF
    for v in find findex get7; do
        has "fwd_$v status=0 n=$4 $1" && has "bwdd_$v status=0 n=$5 $2" && has "bwdf_$v status=0 n=$6 $3" || return 1
    done
}
every_finder() { # every_finder JQ-TEST: true for one event of each finder
    for f in $FINDERS; do
        [ "$(ev "$f" "$1" | grep -c '^true$')" -eq 1 ] || { echo "    $f: $(ev "$f" '.')"; return 1; }
    done
}

# ---- off: pure pass-through
run off find 8
check "off: every list as the vendor gave it" lists_are "$FULL_FWD" "$FULL_BWDD" "$FULL_BWDF" 5 4 5
check "off: the vendor was asked for what the caller asked (8)" is "$(nrec 'requested=8 returned=')" 9
check "off: no event" is "$(nev)" 0

# ---- log: unchanged, the nondeterministic offers recorded
run log find 8
check "log: every list unchanged" lists_are "$FULL_FWD" "$FULL_BWDD" "$FULL_BWDF" 5 4 5
check "log: the vendor was asked for 8" is "$(nrec 'requested=8 returned=')" 9
check "log: one observed event per finder" every_finder '.action=="observed"'
check "log: forward events name algorithm 1 as nondeterministic, first" every_finder \
    'if .op=="fwd" then .nondeterministic==[1] and .offered==[1,0,6,2,4] and .returned==.offered and (.detail|test("first choice, algorithm 1, is nondeterministic")) else true end'
check "log: backward-data events name algorithm 0" every_finder \
    'if .op=="bwd_data" then .nondeterministic==[0] and .offered==[0,1,3,2] else true end'
check "log: backward-filter events name 3 (documented, despite its field) and 0" every_finder \
    'if .op=="bwd_filter" then .nondeterministic==[3,0] and .offered==[3,0,1,5,6] and .requested==8 else true end'
check "log: the stack names the calling function" every_finder '.stack[0].function=="legacy_find_all" and .layer=="cudnn"'
check "log: valid log" valid

# ---- enforce: only deterministic entries, vendor order, counts lowered
run enforce find 8
check "enforce: nondeterministic entries removed, order and entries kept" \
    lists_are "$DET_FWD" "$DET_BWDD" "$DET_BWDF" 4 3 3
check "enforce: one forced event per finder" every_finder '.action=="forced"'
check "enforce: the event lists removed and returned algorithms" every_finder \
    '(.op=="fwd" and .nondeterministic==[1] and .returned==[0,6,2,4]) or (.op=="bwd_data" and .nondeterministic==[0] and .returned==[1,3,2]) or (.op=="bwd_filter" and .nondeterministic==[3,0] and .returned==[1,5,6])'
check "enforce: detail says what was removed" \
    is "$(ev cudnnFindConvolutionBackwardFilterAlgorithm .detail)" '"removed nondeterministic convolution backward-filter algorithms 3,0 from the 5 offered; returned 3 deterministic, best first"'
check "enforce: stack names the caller" every_finder '.stack[0].function=="legacy_find_all"'
check "enforce: valid log" valid

# a caller asking for one algorithm gets the best deterministic one, not nothing
run enforce find 1
check "enforce, 1 requested: the best deterministic algorithm of each" \
    lists_are "algos=0 memory=0" "algos=1 memory=2048" "algos=1 memory=4096" 1 1 1
check "enforce, 1 requested: the vendor was asked for all of them" is "$(nrec 'requested=32 returned=')" 9
run log find 1
check "log, 1 requested: the vendor's first, nondeterministic, choice" \
    lists_are "algos=1 memory=0" "algos=0 memory=0" "algos=3 memory=0" 1 1 1
check "log, 1 requested: recorded as nondeterministic" \
    is "$(ev cudnnGetConvolutionBackwardFilterAlgorithm_v7 '[.nondeterministic,.returned]')" '[[3],[3]]'

# ---- strict: as enforce when something deterministic is offered
run strict find 8
check "strict: same lists as enforce" lists_are "$DET_FWD" "$DET_BWDD" "$DET_BWDF" 4 3 3
check "strict: forced events" every_finder '.action=="forced"'

# ---- nothing deterministic offered
export FAKE_CUDNN_NONDET_ONLY=1
run enforce find 8
check "enforce, only nondeterministic offered: lists left unchanged" \
    lists_are "algos=1 memory=0" "algos=0 memory=0" "algos=3,0 memory=0,0" 1 1 2
check "enforce, only nondeterministic offered: observed, said so" every_finder \
    '.action=="observed" and (.detail|test("only nondeterministic.*left unchanged"))'
run strict find 8
check "strict, only nondeterministic offered: every finder fails with NOT_SUPPORTED" \
    is "$(grep -c 'status=3000 n=-1' out)" 9
check "strict: blocked events" every_finder '.action=="blocked" and .returned==[]'
check "strict: stderr names the refused call" grep -q 'strict mode refused cudnnGetConvolutionBackwardFilterAlgorithm_v7' err
check "strict: valid log" valid
unset FAKE_CUDNN_NONDET_ONLY
finish
