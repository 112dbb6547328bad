#!/bin/bash
# cuBLAS behind a library opened RTLD_LOCAL (as torch loads libtorch_cuda): RTLD_NEXT
# cannot see it; the shim must still find the real function (by soname), and under
# another soname (by scanning loaded objects).
. "$(dirname "$0")/lib.sh"
export LD_LIBRARY_PATH="$PROGS:$LD_LIBRARY_PATH"
DETSHIM_VERBOSE=2 run_shim "$PROGS/local_prog" libmiddle.so 3 > out 2> err
check "calls succeed" grep -qx "status=0" out
check "the real (fake) cuBLAS ran them" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 3 ]
check "resolved by soname" grep -q "resolved cublasCreate_v2 via soname in .*libcublas.so.13" err
check "event logged with libmiddle in the stack" [ "$(q 'select(.type=="event")|.stack[0].module' | grep -c libmiddle.so)" -eq 1 ]
check "RTLD_NEXT really could not see it (no global cuBLAS)" bash -c "! grep -q 'via RTLD_NEXT' err"
check "the resolution notice is in the log" [ "$(q 'select(.type=="notice")|.message' | grep -c 'via soname')" -ge 1 ]
fresh
DETSHIM_VERBOSE=2 run_shim "$PROGS/local_prog" libmiddle_alt.so 3 > out 2> err
check "other soname: calls succeed" grep -qx "status=0" out
check "other soname: the fake ran them" [ "$(grep -c '^cublasCreate_v2 ' record)" -eq 3 ]
check "other soname: resolved by scan" grep -q "resolved cublasCreate_v2 via scan in .*libcublas-alt.so.99" err
finish
