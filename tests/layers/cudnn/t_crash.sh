#!/bin/bash
# A nondeterministic call that crashes inside cuDNN: the shim records it before handing it
# to the vendor, so the log names it although the process dies in the call. The fake
# aborts in the function FAKE_CUDNN_ABORT names, after recording that it ran.
. "$(dirname "$0")/lib_cudnn.sh"
ulimit -c 0 # the crashes are meant: no core files
F=cudnnConvolutionBackwardFilter
D=cudnnConvolutionBackwardData
C=cudnnCTCLoss
PB=cudnnPoolingBackward

# crash FN MODE ARGS...: cudnn_prog under the shim, FN aborting
crash() { local f=$1; shift; FAKE_CUDNN_ABORT=$f run "$@"; }

crash $PB log pool 0 2
check "log: the pooling call reached the fake and died there" recorded "$PB mode=0 dims=2 win=3"
check "log: the program did not finish" is "$(grep -c '^pool ' out)" 0
check "log: max pooling backward recorded before the crash" \
    is "$(ev $PB '[.action,.pooling_mode,.stack[0].function]')" '["observed",0,"legacy_pool"]'
check "log: valid log" valid

crash $PB enforce pool 0 3
check "enforce, 3-D (no switch): recorded before the crash" is "$(ev $PB '[.action,.replacement]')" '["observed",null]'

crash $F log bwdf 0 q
check "log: backward-filter ALGO_0 died in the fake" recorded "$F algo=0 workspace=0 status=0"
check "log: recorded before the crash" is "$(ev $F '[.action,.algo,.stack[0].function]')" '["observed",0,"legacy_bwd_filter"]'

crash $F enforce bwdf 0 0
check "enforce, nothing fits: ALGO_0 died in the fake" recorded "$F algo=0 workspace=0 status=0"
check "enforce: recorded before the crash" is "$(ev $F '[.action,.algo,.replacement]')" '["observed",0,null]'

crash $D log bwdd 0 0
check "log: backward-data ALGO_0 recorded before the crash" is "$(ev $D '[.action,.algo]')" '["observed",0]'

crash $C log ctc 1 q
check "log: CTC recorded before the crash" is "$(ev $C '[.action,.algo]')" '["observed",1]'
crash $C enforce ctc 1 1024
check "enforce, no room for the switch: CTC recorded before the crash" \
    is "$(ev $C '[.action,.algo,.needed]')" '["observed",1,2048]'
# the switched (forced) calls: recorded before the deterministic form is handed to cuDNN
crash $F enforce bwdf 0 q
check "enforce: the switched ALGO_1 died in the fake" recorded "$F algo=1 workspace=4096 status=0"
check "enforce: the switch recorded before the crash" \
    is "$(ev $F '[.action,.algo,.replacement,.stack[0].function]')" '["forced",0,1,"legacy_bwd_filter"]'
check "enforce: valid log" valid
crash $D enforce bwdd 0 q
check "enforce: backward-data switch recorded before the crash" is "$(ev $D '[.action,.algo,.replacement]')" '["forced",0,1]'
crash $C strict ctc 1 q
check "strict: the switched CTC died in the fake" recorded "$C algo=0 workspace=2048 status=0"
check "strict: CTC switch recorded before the crash" is "$(ev $C '[.action,.algo,.replacement]')" '["forced",1,0]'
crash $PB enforce pool 0 2
check "enforce: the deterministic pooling died in the fake" recorded "$PB mode=3 dims=2 win=3"
check "enforce: pooling switch recorded before the crash" is "$(ev $PB '[.action,.pooling_mode,.replacement]')" '["forced",0,3]'
finish
