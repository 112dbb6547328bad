#!/bin/bash
# Any number of kernels: past the first table's 16384 slots every new kernel is still
# classified (the last kernels of 40000 are flagged and give events, or are refused in
# strict mode) and launches of known kernels stay cheap. And without cuFuncGetName (drivers
# before 12.3) repeated cuModuleGetFunction of one kernel keeps no more memory.
. "$(dirname "$0")/lib_kernels.sh"
F=_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii
# under a sanitizer classification is slow: just past the first table's 16384 slots
N=40000
[ -z "${DETSHIM_SANITIZED:-}" ] || N=17000
# (no fake record: writing it per launch would be what the timing measures)
DETSHIM_FAKE_RECORD= DETSHIM_MODE=log run_shim "$PROGS/kmany" many $N 10 7 > out 2> err
check "valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
check "the 10 flagged launches after $((N - 10)) clean kernels ran (log mode)" [ "$(grep -c '^flagged status=0$' out)" -eq 10 ]
check "... each gave an event" [ "$(q 'select(.type=="event" and .layer=="kernels")|.kernel_mangled' | sort -u | grep -c "^${F}_$((N / 100 - 1))[0-9][0-9]$")" -eq 10 ]
check "... with the DeePMD-kit advice" [ "$(q 'select(.type=="event" and .layer=="kernels")|.advice' | grep -c 'dp --pt train')" -eq 10 ]
check "no notice of a full table" [ "$(q 'select(.type=="notice")|.message' | grep -c 'distinct kernels launched')" -eq 0 ]
NS=$(sed -n 's/^round ns_per_launch=//p' out)
echo "# launches of $((N - 10)) known kernels, round robin: $NS ns each (fastest of 7 rounds)"
# the old fixed table scanned all 16384 slots for every kernel beyond it (~13 us a launch
# on the fakes); a constant-time table stays far below that (a few hundred ns) even on a loaded machine
[ -n "${DETSHIM_SANITIZED:-}" ] || check "launches of known kernels stay cheap with 40000 kernels ($NS ns < 5000)" [ "$NS" -lt 5000 ]
fresh
DETSHIM_MODE=strict run_shim "$PROGS/kmany" many $N 10 1 > out 2> err
check "strict: every one of the 10 flagged kernels refused" [ "$(grep -c '^flagged status=800$' out)" -eq 10 ]
check "... the fake ran none of them" [ "$(grep -c "^launch ${F}_" "$T/record")" -eq 0 ]
fresh
LD_LIBRARY_PATH="$FAKES_NONAMES:$LD_LIBRARY_PATH" DETSHIM_MODE=log run_shim "$PROGS/kmany" lookups $((N * 5 / 2)) > out 2> err
G=$(sed -n 's/^heap growth=//p' out)
echo "# heap growth after 100000 cuModuleGetFunction without cuFuncGetName: $G bytes"
[ -n "${DETSHIM_SANITIZED:-}" ] || check "without cuFuncGetName, 100000 lookups of one kernel keep no memory ($G < 4096 bytes)" [ "${G:-999999}" -lt 4096 ]
finish
