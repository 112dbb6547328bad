#!/bin/bash
# cuLaunchCooperativeKernelMultiDevice (deprecated, exported by CUDA 13's libcuda), by
# symbol and as a pointer from cuGetProcAddress_v2: every kernel of the list is checked; a
# flagged one gives an event, and in strict mode refuses the whole launch.
. "$(dirname "$0")/lib_kernels.sh"
F=_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii
DETSHIM_MODE=log run_shim "$PROGS/kmany" multi > out 2> err
check "valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
check "log: all four launches ran" [ "$(grep -c ' status=0$' out)" -eq 4 ]
check "log: one event by symbol, one through the pointer" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.symbol) \(.via // "-") \(.kernel_mangled)"' | sort | paste -sd'|')" = "cuLaunchCooperativeKernelMultiDevice - $F|cuLaunchCooperativeKernelMultiDevice cuGetProcAddress_v2 $F" ]
check "log: the event has the flagged entry's grid and block" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.grid|@csv) \(.block|@csv)"' | sort -u)" = "2,2,2 64,1,1" ]
fresh
DETSHIM_MODE=strict run_shim "$PROGS/kmany" multi > out 2> err
check "strict: the clean lists ran, the mixed ones were refused" \
    [ "$(paste -sd'|' out)" = "symbol clean status=0|symbol mixed status=800|pointer clean status=0|pointer mixed status=800" ]
check "strict: the fake ran only the two clean lists" \
    [ "$(grep -c '^launch clean_coop_kernel ' "$T/record") $(grep -c "^launch $F " "$T/record")" = "2 0" ]
finish
