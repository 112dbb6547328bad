#!/bin/bash
# Strict mode: a flagged launch is refused before it runs (the fake sees no launch), the
# entry point returns cudaErrorNotPermitted / CUDA_ERROR_NOT_PERMITTED, the runtime's last
# error reports it (nvcc's stubs drop the status), stderr gets one paragraph per call site
# naming the kernel, the call site and the DETSHIM_ALLOW value that lets it run; clean
# kernels still run.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=strict run_shim "$PROGS/kprog" all > out 2> err
L=$(onelog)
check "valid log" "$PYTHON" "$LOGCHECK" "$L"
check "every flagged launch returned 800 (not permitted)" \
    [ "$(grep -E ' (index|force) status=' out | sort -u -k3 | awk '{print $3}' | sort -u)" = "status=800" ]
check "... through all $NENTRIES entry points, both kernels" [ "$(grep -cE ' (index|force) status=800$' out)" -eq $((NENTRIES * 2)) ]
check "every clean launch returned 0" [ "$(grep -cE ' (axpy|fill) status=0$' out)" -eq $((NENTRIES * 2)) ]
check "the fake ran no launch of a refused kernel" [ "$(launched "$K_INDEX") $(launched "$K_FORCE")" = "0 0" ]
check "the fake ran every clean launch" [ "$(launched "$K_AXPY") $(launched "$K_FILL")" = "$((NENTRIES * 2)) $((NENTRIES * 2))" ]
check "graph launches and non-launch lookups unaffected" \
    [ "$(grep -c '^graph .* status=0$' out) $(grep -c 'passthrough status=0 same=1' out)" = "5 1" ]
check "the last error reports the refusal once, as the runtime does" grep -qx "lasterror peek=800 get=800 then=0" out
check "one blocked event per (kernel, entry point)" diff <(expected_events "$K_INDEX" "$K_FORCE") <(kernel_events)
check "action blocked, mode strict" [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.action) \(.mode)"' | sort -u)" = "blocked strict" ]
check "repeats counted (site counts 2)" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|.count]|unique|@csv')" = "2" ]
check "runtime detail names the status returned" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernel" and .kernel_mangled=="'"$K_INDEX"'")|.detail == "nondeterministic kernel \(.kernel) (listed by built-in kernels.db), returned cudaErrorNotPermitted; strict mode refused the launch: it did not run"')" = true ]
check "a DeePMD-kit kernel's refusal detail ends with the advice" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernel" and .kernel_mangled=="'"$K_FORCE"'")|.detail == "nondeterministic kernel \(.kernel) (listed by built-in kernels.db), returned cudaErrorNotPermitted; strict mode refused the launch: it did not run; \(.advice)"')" = true ]
check "... and the stderr paragraph gives it" grep -q 'float sums in thread order; these kernels cannot be made deterministic from outside .*dp --pt train' err
check "driver detail names the status returned" \
    has 'select(.type=="event" and .via=="cuGetProcAddress")|.detail' "returned CUDA_ERROR_NOT_PERMITTED; strict mode refused"
check "one refusal paragraph per call site on stderr" [ "$(grep -c '^detshim: strict mode refused ' err)" -eq $((NENTRIES * 2)) ]
P=$(grep -A8 "^detshim: strict mode refused __cudaLaunchKernel: the launch of kernel .*indexFuncLargeIndex" err)
check "the paragraph names kernel and reason" bash -c "echo \"\$1\" | head -n1 | grep -q 'which is nondeterministic: ATen index_add_'" _ "$P"
check "the paragraph names the call site" bash -c "echo \"\$1\" | grep -q '^  at via___cudaLaunchKernel ('" _ "$P"
check "the paragraph says how to allow it" \
    bash -c "echo \"\$1\" | grep -qF \"to allow it: DETSHIM_ALLOW='*indexFuncLargeIndex*ReduceAdd*'\"" _ "$P"
# the advice works: allowing both kernels the way stderr says lets everything run
A1=$(grep -o "DETSHIM_ALLOW='[^']*'" err | sort -u | sed "s/DETSHIM_ALLOW='\(.*\)'/\1/" | paste -sd, -)
check "stderr suggests one pattern per kernel" [ "$(echo "$A1" | tr ',' '\n' | wc -l)" -eq 2 ]
fresh
DETSHIM_MODE=strict DETSHIM_ALLOW="$A1" run_shim "$PROGS/kprog" all > out 2> err
check "with the suggested DETSHIM_ALLOW every launch succeeds" [ "$(grep -c ' status=0$' out)" -eq $((NENTRIES * 4 + 5)) ]
check "... and the fake ran them all" [ "$(launched "$K_INDEX")" -eq $((NENTRIES * 2)) ]
check "... no refusal on stderr" [ "$(grep -c 'strict mode refused' err)" -eq 0 ]
check "... no kernels events" [ "$(q 'select(.type=="event" and .layer=="kernels")' | wc -l)" -eq 0 ]
fresh
DETSHIM_MODE=strict DETSHIM_ALLOW='*indexFuncLargeIndex*ReduceAdd*' run_shim "$PROGS/kprog" all > out 2> err
check "allowing one kernel: it runs" [ "$(grep -cE ' index status=0$' out)" -eq "$NENTRIES" ]
check "... the other is still refused" [ "$(grep -cE ' force status=800$' out)" -eq "$NENTRIES" ]
check "... the log says which kernel was allowed by what" \
    has 'select(.type=="notice" and .layer=="kernels")|.message' "^kernel .*indexFuncLargeIndex.* is allowed by DETSHIM_ALLOW pattern '\*indexFuncLargeIndex\*ReduceAdd\*'$"
# A refusal pending while the program's own runtime call fails: the program's error first,
# the refusal at the next call, nothing lost (a cudaGetLastError used to drop the real one)
DETSHIM_MODE=strict FAKE_CUDART_MALLOC_FAIL_FROM=0 run_shim "$PROGS/kprog" lasterr > out2 2> err2
check "strict, two errors pending: the program's first, then the refusal, then none" \
    grep -qx "lasterr launch=800 malloc=2 peek=2 get=2 then=800 then=0" out2
finish
