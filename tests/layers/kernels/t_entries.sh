#!/bin/bash
# Log mode, every launch entry point: each flagged kernel is recorded once per call site
# with its names, grid, block, reason and a stack naming the launching function; clean
# kernels are never recorded; everything still runs; repeats are counted.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=log run_shim "$PROGS/kprog" all > out 2> err
L=$(onelog)
check "valid log" "$PYTHON" "$LOGCHECK" "$L"
check "nothing on stderr" [ ! -s err ]
check "every launch succeeded" [ "$(grep -c 'status=0$' out)" -eq $((NENTRIES * 4 + 5)) ]
check "one event per (flagged kernel, entry point), each naming the launching function" \
    diff <(expected_events "$K_INDEX" "$K_FORCE") <(kernel_events)
check "events are first sightings (count 1)" [ "$(q 'select(.type=="event" and .layer=="kernels")|.count' | sort -u)" = "1" ]
check "the repeat at each site is counted (summary site counts 2)" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")|.count]|unique|@csv')" = "2" ]
check "as many kernels sites as events" \
    [ "$(q 'select(.type=="summary")|[.sites[]|select(.layer=="kernels")]|length')" -eq $((NENTRIES * 2)) ]
check "clean kernels never recorded" [ "$(grep -c -e "$K_AXPY" -e "$K_FILL" "$L")" -eq 0 ]
check "action observed, mode log" [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.action) \(.mode)"' | sort -u)" = "observed log" ]
check "detail: names the kernel and says nothing changed" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernel" and .kernel_mangled=="'"$K_INDEX"'")|.detail == "nondeterministic kernel \(.kernel) (listed by built-in kernels.db); log mode changes nothing: it ran"')" = true ]
# DeePMD-kit's custom-op kernels: the database's advice (issue 16) in every event of theirs
ADV='these kernels cannot be made deterministic from outside (no TensorFlow switch covers DeePMD-kit'"'"'s custom ops); the PyTorch backend (`dp --pt train`, or DP_BACKEND=pytorch) has deterministic paths'
check "a DeePMD-kit kernel's events all carry the advice" \
    [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_FORCE"'")|.advice' | sort -u)" = "$ADV" ]
check "... $NENTRIES of them" [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_FORCE"'" and .advice != null)|.advice' | grep -c .)" -eq "$NENTRIES" ]
check "... and its detail ends with it" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernel" and .kernel_mangled=="'"$K_FORCE"'")|.detail == "nondeterministic kernel \(.kernel) (listed by built-in kernels.db); log mode changes nothing: it ran; \(.advice)"')" = true ]
check "an ATen kernel's event has no advice field" \
    [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_INDEX"'")|has("advice")' | sort -u)" = false ]
check "reason from the built-in database, with the matching pattern" \
    [ "$(q 'select(.type=="event" and .symbol=="__cudaLaunchKernel" and .kernel_mangled=="'"$K_INDEX"'")|"\(.reason_source)|\(.pattern)|\(.reason|test("index_add"))|\(.allow)"')" = \
      "built-in kernels.db|*indexFuncLargeIndex*ReduceAdd*|true|*indexFuncLargeIndex*ReduceAdd*" ]
check "grid and block of runtime launches" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernelExC")|"\(.grid|@csv) \(.block|@csv)"' | sort -u)" = "4,2,1 128,1,1" ]
check "grid and block of driver launches through pointers" \
    [ "$(q 'select(.type=="event" and .via=="cuGetProcAddress")|"\(.grid|@csv) \(.block|@csv)"' | sort -u)" = "4,2,1 128,1,1" ]
[ -n "$CXX_ALWAYS" ] || check "without libstdc++ loaded, kernel == kernel_mangled" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|select(.kernel != .kernel_mangled)' | wc -l)" -eq 0 ]
check "stack frame 0 is in kprog, frame 1 is the loop in all()" \
    [ "$(q 'select(.type=="event" and .layer=="kernels")|"\(.stack[0].module) \(.stack[1].function)"' | sort -u)" = "$(readlink -f "$PROGS/kprog") all" ]
check "no shim frames in the stacks (trampolines included)" \
    [ "$(q '[select(.type=="event")|.stack[].module|select(test("libdetshim"))]|length' | sort -u)" = "0" ]
check "the fake ran every launch of a flagged kernel" [ "$(launched "$K_INDEX")" -eq $((NENTRIES * 2)) ]
check "the fake ran every launch of a clean kernel" [ "$(launched "$K_AXPY")" -eq $((NENTRIES * 2)) ]
check "pointer launches reached the driver's own per-thread variant" \
    [ "$(grep -c "^launch $K_FORCE via cuLaunchKernel_ptsz " record)" -eq 8 ]
check "launch counts per symbol (direct + trampolines)" \
    [ "$(q 'select(.type=="summary")|.calls|"\(.cuLaunchKernel) \(.cuLaunchKernel_ptsz) \(.__cudaLaunchKernel) \(.cuLaunchKernelEx) \(.cuLaunchCooperativeKernel)"')" = "48 32 8 16 16" ]
check "cuGetProcAddress_v2 counted: 7 direct + 1 through the self-query trampoline" \
    [ "$(q 'select(.type=="summary")|.calls.cuGetProcAddress_v2')" -eq 8 ]
check "graph launches pass through, counted" \
    [ "$(q 'select(.type=="summary")|.calls|"\(.cudaGraphLaunch) \(.cudaGraphLaunch_ptsz) \(.cuGraphLaunch) \(.cuGraphLaunch_ptsz)"')" = "1 1 2 1" ]
check "graph launches reached the fake" [ "$(grep -c '^graphlaunch ' record)" -eq 5 ]
check "graph launch through a pointer reached the driver" grep -q '^graphlaunch (nil) via cuGraphLaunch$' record
check "a non-launch entry point comes back untouched" grep -qx "passthrough status=0 same=1" out
check "no refusal left in the last error" grep -qx "lasterror peek=0 get=0 then=0" out
check "the database in force is noted" \
    [ "$(q 'select(.type=="notice" and .layer=="kernels")|.message|select(startswith("kernel database:"))|test("^kernel database: [0-9]+ built-in entries, 0 from DETSHIM_KERNELS")')" = "true" ]
# ---- every launch argument arrives unchanged: 3 launches of a clean kernel through each of
# the 24 entry points (the first takes the full check, the others the fast way), each mode ----
for m in off log enforce strict; do
    DETSHIM_MODE=$m run_shim "$PROGS/kprog" args 3 > out 2> err
    want=$(sed -n 's/^want //p' out)
    check "args $m: 72 launches, none failed" grep -qx 'entries 24 launches 72 failed 0' out
    check "args $m: the library saw every argument as passed, 72 times" \
        [ "$(grep -c "^launch $K_AXPY via [^ ]* $want\$" record)" = 72 ]
    [ $m = off ] || check "args $m: the summary counts all 72 launches" \
        [ "$(q 'select(.type=="summary")|[.calls|to_entries[]|select(.key|test("Launch") and (test("Graph")|not))|.value]|add')" = 72 ]
    fresh
done
finish
