#!/bin/bash
# CTC loss (both entry points), max pooling backward, spatial transformer sampler
# backward. Fake: CTC deterministic algorithm needs 2048 bytes, the other 1024, and a
# label longer than 256 is beyond the deterministic one; CUDNN_POOLING_MAX_DETERMINISTIC
# is refused for 3-D pooling.
. "$(dirname "$0")/lib_cudnn.sh"
C=cudnnCTCLoss
C8=cudnnCTCLoss_v8
PB=cudnnPoolingBackward
SB=cudnnSpatialTfSamplerBackward

# ---- CTC
for m in off log; do
    run $m ctc 1 q
    check "$m: CTC workspace query unchanged" has "ctc_ws algo=1 status=0 size=1024"
    check "$m: CTC ran the nondeterministic algorithm as asked" recorded "$C algo=1 workspace=1024 status=0"
done
check "log: CTC observed event" is "$(ev $C '[.action,.algo,.replacement,.stack[0].function]')" '["observed",1,null,"legacy_ctc"]'
run log ctc8 1 q
check "log: CTC v8 observed event" is "$(ev $C8 '[.action,.algo,.stack[0].function]')" '["observed",1,"legacy_ctc_v8"]'

run enforce ctc 1 q
check "enforce: CTC query reports the deterministic algorithm's (larger) need" has "ctc_ws algo=1 status=0 size=2048"
check "enforce: forced event on the query" is "$(ev cudnnGetCTCLossWorkspaceSize '[.action,.reported]')" '["forced",2048]'
check "enforce: CTC ran the deterministic algorithm" recorded "$C algo=0 workspace=2048 status=0"
check "enforce: and not the other" is "$(nrec "^$C algo=1")" 0
check "enforce: CTC forced event" is "$(ev $C '[.action,.algo,.replacement,.needed,.stack[0].function]')" '["forced",1,0,2048,"legacy_ctc"]'
check "enforce: valid log" valid
run enforce ctc8 1 q
check "enforce: CTC v8 query reports 2048" has "ctc8_ws algo=1 status=0 size=2048"
check "enforce: CTC v8 ran the deterministic algorithm" recorded "$C8 algo=0 workspace=2048 status=0"
check "enforce: CTC v8 forced" is "$(ev $C8 '[.action,.replacement]')" '["forced",0]'
run enforce ctc 1 1024
check "enforce: CTC with a workspace too small for the switch runs as asked" recorded "$C algo=1 workspace=1024 status=0"
check "enforce: observed, with the need" is "$(ev $C '[.action,.needed,.workspace]')" '["observed",2048,1024]'
run enforce ctc 1 4096 300
check "enforce: CTC beyond the deterministic algorithm runs as asked" recorded "$C algo=1 workspace=4096 status=0"
check "enforce: observed, saying cuDNN supports none" \
    bash -c "jq -r 'select(.type==\"event\")|.detail' $(onelog) | grep -q 'supports no deterministic algorithm'"
run enforce ctc 0 q
check "enforce: a deterministic CTC call passes untouched" recorded "$C algo=0 workspace=2048 status=0"
check "enforce: no event for it" is "$(nev)" 0

run strict ctc 1 1024
check "strict: CTC that cannot be switched is refused" has "ctc algo=1 status=3000"
check "strict: the fake never ran it" is "$(nrec "^$C ")" 0
check "strict: blocked" is "$(ev $C .action)" '"blocked"'
check "strict: stderr explains" grep -q "strict mode refused $C" err
run strict ctc8 1 1024
check "strict: CTC v8 refused" has "ctc8 algo=1 status=3000"
run strict ctc 1 q
check "strict: switchable CTC switched" recorded "$C algo=0 workspace=2048 status=0"

# ---- max pooling backward
for m in off log; do
    run $m pool 0 2
    check "$m: max pooling backward ran in CUDNN_POOLING_MAX" recorded "$PB mode=0 dims=2 win=3"
done
check "log: observed event, mode 0" is "$(ev $PB '[.action,.pooling_mode,.replacement,.stack[0].function]')" '["observed",0,null,"legacy_pool"]'
run enforce pool 0 2
check "enforce: ran as CUDNN_POOLING_MAX_DETERMINISTIC, same window" recorded "$PB mode=3 dims=2 win=3"
check "enforce: the caller saw success" has "pool mode=0 status=0 desc_mode_after=0"
check "enforce: the caller's descriptor was not modified" has "pool mode=0 status=0 desc_mode_after=0"
check "enforce: forced event" is "$(ev $PB '[.action,.pooling_mode,.replacement]')" '["forced",0,3]'
check "enforce: valid log" valid
run enforce pool 0 3
check "enforce, 3-D (deterministic mode refused by cuDNN): runs as asked" recorded "$PB mode=0 dims=3 win=3"
check "enforce, 3-D: observed" is "$(ev $PB '[.action,.replacement]')" '["observed",null]'
for mode in 1 3; do
    run enforce pool $mode 2
    check "enforce: pooling mode $mode passes untouched" recorded "$PB mode=$mode dims=2 win=3"
    check "enforce: pooling mode $mode leaves no event" is "$(nev)" 0
done
run strict pool 0 3
check "strict: 3-D max pooling backward refused" has "pool mode=0 status=3000 desc_mode_after=0"
check "strict: the fake never ran it" is "$(nrec "^$PB ")" 0
check "strict: blocked" is "$(ev $PB .action)" '"blocked"'
run strict pool 0 2
check "strict: 2-D max pooling backward switched" recorded "$PB mode=3 dims=2 win=3"

# ---- spatial transformer sampler backward: nothing to switch to
for m in off log enforce; do
    run $m sampler
    check "$m: sampler backward runs" recorded "$SB"
    check "$m: caller saw success" has "sampler status=0"
done
check "enforce: observed event" is "$(ev $SB '[.action,.stack[0].function]')" '["observed","legacy_sampler"]'
run log sampler
check "log: observed event" is "$(ev $SB .action)" '"observed"'
run off sampler
check "off: no event" is "$(nev)" 0
run strict sampler
check "strict: sampler backward refused" has "sampler status=3000"
check "strict: the fake never ran it" is "$(nrec "^$SB")" 0
check "strict: blocked event" is "$(ev $SB .action)" '"blocked"'
check "strict: stderr explains" grep -q "strict mode refused $SB" err
check "strict: valid log" valid
finish
