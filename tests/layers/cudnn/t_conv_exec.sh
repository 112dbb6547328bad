#!/bin/bash
# Backward convolutions called with an algorithm of the caller's choice, and their
# workspace queries. The fake's workspace needs (backward-filter): ALGO_0 0, ALGO_1 4096,
# FFT 1 MiB, WINOGRAD_NONFUSED 65536, FFT_TILING unsupported; dilation 2 makes ALGO_1
# unsupported; pad_w 9 makes ALGO_1 refuse at execution. Backward-data: ALGO_0 0,
# ALGO_1 2048 (unsupported when dilated), FFT_TILING 8192.
. "$(dirname "$0")/lib_cudnn.sh"
F=cudnnConvolutionBackwardFilter
D=cudnnConvolutionBackwardData
WSF=cudnnGetConvolutionBackwardFilterWorkspaceSize

# ---- off and log: the call runs as asked
for m in off log; do
    run $m bwdf 0 q
    check "$m: workspace query unchanged (0 bytes for ALGO_0)" has "bwdf_ws algo=0 status=0 size=0"
    check "$m: the fake ran ALGO_0" recorded "$F algo=0 workspace=0 status=0"
    check "$m: the caller saw success" has "bwdf algo=0 status=0"
done
check "log: observed event, algorithm 0, no replacement" \
    is "$(ev $F '[.action,.algo,.replacement,.workspace,.stack[0].function]')" '["observed",0,null,0,"legacy_bwd_filter"]'
check "log: no event for the workspace query" is "$(nev $WSF)" 0
check "log: valid log" valid
run log bwdd 0 0
check "log: backward-data ALGO_0 recorded" is "$(ev $D '[.action,.algo,.stack[0].function]')" '["observed",0,"legacy_bwd_data"]'
run log bwdf 1 4096
check "log: a deterministic algorithm leaves no event" is "$(nev)" 0

# ---- enforce
run enforce bwdf 0 q
check "enforce: the query for ALGO_0 reports ALGO_1's need" has "bwdf_ws algo=0 status=0 size=4096"
check "enforce: forced event on the query" \
    is "$(ev $WSF '[.action,.algo,.replacement,.reported]')" '["forced",0,1,4096]'
check "enforce: with that workspace the fake ran ALGO_1" recorded "$F algo=1 workspace=4096 status=0"
check "enforce: and never ALGO_0" is "$(nrec "^$F algo=0")" 0
check "enforce: the caller saw success" has "bwdf algo=0 status=0"
check "enforce: forced event with the replacement" \
    is "$(ev $F '[.action,.algo,.replacement,.workspace,.needed,.stack[0].function]')" '["forced",0,1,4096,4096,"legacy_bwd_filter"]'
check "enforce: valid log" valid

run enforce bwdf 3 8192
check "enforce: ALGO_3 is switched too" recorded "$F algo=1 workspace=8192 status=0"

run enforce bwdf 0 0
check "enforce: too small a workspace: ALGO_0 runs as asked" recorded "$F algo=0 workspace=0 status=0"
check "enforce: recorded as observed, with why" \
    is "$(ev $F '[.action,.replacement,.needed]')" '["observed",null,4096]'
check "enforce: the detail says the workspace does not fit" \
    bash -c "jq -r 'select(.type==\"event\" and .symbol==\"$F\")|.detail' $(onelog) | grep -q 'no deterministic algorithm fits the 0-byte workspace (the smallest needs 4096)'"

run enforce bwdf 0 65536 2
check "enforce, dilated: ALGO_1 unsupported, FFT too big: WINOGRAD_NONFUSED (5) ran" \
    recorded "$F algo=5 workspace=65536 status=0"
check "enforce, dilated: the fake ran nothing else" is "$(nrec "^$F ")" 1
check "enforce, dilated: the query reported the first supported candidate's need (FFT)" \
    has "bwdf_ws algo=0 status=0 size=1048576"

run enforce bwdf 0 100000 1 9
check "enforce: ALGO_1 refused at execution" recorded "$F algo=1 workspace=100000 status=3000"
check "enforce: then the next candidate that fits ran" recorded "$F algo=5 workspace=100000 status=0"
check "enforce: the caller saw success" has "bwdf algo=0 status=0"
check "enforce: the switch to 1 recorded before it ran, its refusal, then the switch to 5" \
    is "$(ev $F '[.action,.replacement]' | tr -d '\n')" '["forced",1]["observed",null]["forced",5]'
check "enforce: the refusal says the switch did not happen" \
    is "$(ev $F 'select(.action=="observed")|.detail')" '"convolution backward-filter: cuDNN refused deterministic algorithm 1 at execution (status 3000): the switch recorded before did not happen, trying the next candidate"'

run enforce bwdf 1 4096
check "enforce: a deterministic algorithm passes untouched" recorded "$F algo=1 workspace=4096 status=0"
check "enforce: and leaves no event" is "$(nev)" 0

run enforce bwdd 0 q
check "enforce: backward-data query reports ALGO_1's need" has "bwdd_ws algo=0 status=0 size=2048"
check "enforce: backward-data ALGO_0 became ALGO_1" recorded "$D algo=1 workspace=2048 status=0"
check "enforce: backward-data forced event" is "$(ev $D '[.action,.algo,.replacement,.stack[0].function]')" '["forced",0,1,"legacy_bwd_data"]'
run enforce bwdd 0 100000 2
check "enforce, dilated: backward-data ran FFT_TILING (3)" recorded "$D algo=3 workspace=100000 status=0"
run enforce bwdd 0 0
check "enforce: backward-data with no workspace: ALGO_0, observed" recorded "$D algo=0 workspace=0 status=0"
check "enforce: observed event" is "$(ev $D '[.action,.needed]')" '["observed",2048]'

# ---- strict
run strict bwdf 0 0
check "strict: refused with CUDNN_STATUS_NOT_SUPPORTED" has "bwdf algo=0 status=3000"
check "strict: the fake never ran it" is "$(nrec "^$F ")" 0
check "strict: blocked event" is "$(ev $F '[.action,.algo,.needed,.stack[0].function]')" '["blocked",0,4096,"legacy_bwd_filter"]'
check "strict: stderr explains" grep -q "strict mode refused $F" err
check "strict: stderr says how to allow it" grep -q 'DETSHIM_DISABLE=cudnn' err
check "strict: valid log" valid
run strict bwdf 0 q
check "strict: switchable calls are switched, not refused" recorded "$F algo=1 workspace=4096 status=0"
check "strict: forced" is "$(ev $F .action)" '"forced"'
run strict bwdd 0 0
check "strict: backward-data refused" has "bwdd algo=0 status=3000"
check "strict: backward-data blocked event" is "$(ev $D .action)" '"blocked"'
finish
