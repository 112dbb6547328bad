#!/bin/bash
# The layer switched off by DETSHIM_DISABLE, and a cuDNN that lacks the functions the
# layer calls on its own behalf: nothing changes, nothing crashes.
. "$(dirname "$0")/lib_cudnn.sh"

export DETSHIM_DISABLE=cudnn
run enforce find 8
check "disabled: lists unchanged in enforce" has "bwdf_find status=0 n=5 algos=3,0,1,5,6 memory=0,0,4096,65536,0"
check "disabled: no cuDNN event" is "$(nev)" 0
run enforce plan 1
check "disabled: nondeterministic plan finalised" has "finalize engine=1 status=0"
run strict bwdf 0 0
check "disabled: strict runs ALGO_0 as asked" recorded "cudnnConvolutionBackwardFilter algo=0 workspace=0 status=0"
unset DETSHIM_DISABLE

export LD_LIBRARY_PATH="$FAKES_CUDNN_MINIMAL:$LD_LIBRARY_PATH"
run enforce bwdf 0 8192
check "minimal cuDNN: the program ran to the end" has "bwdf algo=0 status=0"
check "minimal cuDNN: the missing query answers CUDNN_STATUS_NOT_INITIALIZED" has "bwdf_ws algo=0 status=1001 size=0"
check "minimal cuDNN: ALGO_0 ran (no candidate could be sized)" recorded "cudnnConvolutionBackwardFilter algo=0 workspace=8192 status=0"
check "minimal cuDNN: observed" is "$(ev cudnnConvolutionBackwardFilter .action)" '"observed"'
run enforce pool 0 2
check "minimal cuDNN: pooling runs as asked" recorded "cudnnPoolingBackward mode=0 dims=2 win=3"
check "minimal cuDNN: a notice names the missing function" \
    bash -c "jq -r 'select(.type==\"notice\")|.message' $(onelog) | grep -q cudnnGetPoolingNdDescriptor"
run strict ctc 1 4096
check "minimal cuDNN: strict refuses CTC it cannot size" has "ctc algo=1 status=3000"
check "minimal cuDNN: valid log" valid
finish
