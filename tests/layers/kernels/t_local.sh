#!/bin/bash
# A library opened RTLD_LOCAL (as Python opens torch) links the runtime and the driver:
# its launches, direct and through pointers, are seen and named by its own functions.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=log run_shim "$PROGS/klocal_prog" "$PROGS/libkmiddle.so" 3 > out 2> err
check "every launch succeeded" grep -qx "failed=0" out
check "valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
check "four events, each named by the library's launching function" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.stack[0].function) \(.symbol) \(.via // "-")"' | sort | paste -sd'|')" = \
      "kmiddle_exc_launch cudaLaunchKernelExC -|kmiddle_ptr_launch cuLaunchKernel cuGetProcAddress_v2|kmiddle_ptr_launch cuLaunchKernel cudaGetDriverEntryPointByVersion|kmiddle_stub_launch __cudaLaunchKernel -" ]
check "frames in the RTLD_LOCAL library" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|.stack[0].module' | sort -u)" = "$(readlink -f "$PROGS/libkmiddle.so")" ]
check "all of them the flagged kernel" [ "$(q 'select(.type=="event" and .layer=="kernels")|.kernel_mangled' | sort -u)" = "$K_INDEX" ]
check "counts (3 per site)" [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|.count]|unique|@csv')" = "3" ]
check "the fake ran every launch" [ "$(launched "$K_INDEX") $(launched "$K_AXPY")" = "12 3" ]
fresh
DETSHIM_MODE=strict run_shim "$PROGS/klocal_prog" "$PROGS/libkmiddle.so" 3 > out 2> err
check "strict: every flagged launch failed" grep -qx "failed=12" out
check "strict: nothing flagged ran, the clean kernel did" [ "$(launched "$K_INDEX") $(launched "$K_AXPY")" = "0 3" ]
finish
