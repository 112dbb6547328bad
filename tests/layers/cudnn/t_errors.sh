#!/bin/bash
# Failures that have nothing to do with determinism keep cuDNN's status in every mode: a
# NULL handle (PROG_NULL_HANDLE=1) makes the real cuDNN 9.19 answer CUDNN_STATUS_BAD_PARAM
# (2000) to the workspace queries and the calls (checked with libcudnn.so.9, no GPU), and
# the fake does the same. Before, enforce said "cuDNN supports no deterministic algorithm"
# and strict refused with 3000.
. "$(dirname "$0")/lib_cudnn.sh"
export PROG_NULL_HANDLE=1
F=cudnnConvolutionBackwardFilter
D=cudnnConvolutionBackwardData
C=cudnnCTCLoss
C8=cudnnCTCLoss_v8
PB=cudnnPoolingBackward
nodet() { [ -z "$(logs)" ] || ! jq -r 'select(.type=="event")|.detail' "$(onelog)" | grep -q 'no deterministic'; }
noblock() { is "$(jq -c 'select(.type=="event" and .action=="blocked")' "$(onelog)" 2>/dev/null | wc -l)" 0; }

for m in off log enforce strict; do
    run $m bwdf 0 4096
    check "$m: backward-filter ALGO_0, bad handle: query status 2000" has "bwdf_ws algo=0 status=2000 size=0"
    check "$m: backward-filter ALGO_0, bad handle: call status 2000" has "bwdf algo=0 status=2000"
    run $m bwdd 0 4096
    check "$m: backward-data ALGO_0, bad handle: call status 2000" has "bwdd algo=0 status=2000"
    check "$m: no 'no deterministic algorithm' claim" nodet
    check "$m: nothing blocked" noblock
    run $m ctc 1 4096
    check "$m: CTC, bad handle: status 2000" has "ctc algo=1 status=2000"
    check "$m: CTC: no 'no deterministic algorithm' claim" nodet
    run $m ctc8 1 4096
    check "$m: CTC v8, bad handle: status 2000" has "ctc8 algo=1 status=2000"
    run $m pool 0 2
    check "$m: max pooling backward, bad handle: status 2000" has "pool mode=0 status=2000 desc_mode_after=0"
    check "$m: pooling: nothing blocked" noblock
    check "$m: valid log" valid
done

run enforce bwdf 0 4096
check "enforce: the event says cuDNN's status was returned" \
    is "$(ev $F '[.action,.algo,.replacement]')" '["observed",0,null]'
check "enforce: and why" bash -c "jq -r 'select(.type==\"event\")|.detail' $(onelog) | grep -q 'failed with status 2000, which is not about determinism'"
check "enforce: no deterministic algorithm was tried" is "$(nrec "^$F ")" 0
run strict bwdd 0 4096
check "strict: backward-data event observed, status named" \
    bash -c "jq -r 'select(.type==\"event\" and .symbol==\"$D\")|.action+\" \"+.detail' $(onelog) | grep -q '^observed .*status 2000'"
check "strict: no refusal on stderr" bash -c "! grep -q 'strict mode refused' err"
run strict ctc 1 4096
check "strict: CTC event names status 2000" \
    bash -c "jq -r 'select(.type==\"event\" and .symbol==\"$C\")|.detail' $(onelog) | grep -q 'status 2000'"
run strict pool 0 2
check "strict: pooling event names status 2000" \
    bash -c "jq -r 'select(.type==\"event\" and .symbol==\"$PB\")|.detail' $(onelog) | grep -q 'status 2000'"
finish
