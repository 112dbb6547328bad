#!/bin/bash
# Unloads: a flagged kernel loaded at the address of an unloaded clean kernel is classified
# again (an event; refused in strict mode), whether the module was unloaded with
# cuModuleUnload, through a cuGetProcAddress pointer to it, or was a library (cuLibraryUnload,
# its CUkernel launched as a CUfunction).
. "$(dirname "$0")/lib_kernels.sh"
F=_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii
for how in module pointer library; do
    fresh
    DETSHIM_MODE=log run_shim "$PROGS/kmany" reuse $how > out 2> err
    check "$how: the flagged kernel got the clean one's address" grep -qx 'same=1' out
    check "$how: both launches ran (log)" [ "$(grep -c ' status=0$' out)" -eq 2 ]
    check "$how: the flagged kernel gave an event" [ "$(q 'select(.type=="event" and .layer=="kernels")|.kernel_mangled')" = "$F" ]
    fresh
    DETSHIM_MODE=strict run_shim "$PROGS/kmany" reuse $how > out 2> err
    check "$how, strict: clean ran, flagged refused" [ "$(grep -E '^(clean|flagged) status' out | paste -sd' ')" = "clean status=0 flagged status=800" ]
    check "$how, strict: the fake did not run the flagged kernel" [ "$(grep -c "^launch $F " "$T/record")" -eq 0 ]
    check "$how, strict: a blocked event" [ "$(q 'select(.type=="event" and .layer=="kernels")|.action')" = blocked ]
done
check "the unload through the pointer was counted as cuModuleUnload" \
    bash -c "DETSHIM_MODE=log DETSHIM_LOG='$T/p-%p.jsonl' LD_PRELOAD='$SHIM' '$PROGS/kmany' reuse pointer >/dev/null 2>&1; jq -r 'select(.type==\"summary\")|.calls.cuModuleUnload' '$T'/p-*.jsonl | grep -qx 1"
finish
