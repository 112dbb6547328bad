#!/bin/bash
# DETSHIM_ALLOW silences a database kernel, DETSHIM_DENY flags a clean one, DETSHIM_KERNELS
# loads scanner files; a malformed file or an unreadable one gives one clear message each
# (naming file and line) and everything else still loads.
. "$(dirname "$0")/lib_kernels.sh"
DETSHIM_MODE=log DETSHIM_ALLOW='*indexFuncLargeIndex*' run_shim "$PROGS/kprog" all > out 2> err
check "allow: the allowed database kernel is not recorded" [ "$(q 'select(.type=="event")|.kernel_mangled' | grep -c "$K_INDEX")" -eq 0 ]
check "allow: the other one still is" diff <(expected_events "$K_FORCE") <(kernel_events)
check "allow: a notice says so" \
    has 'select(.type=="notice")|.message' "^kernel .*indexFuncLargeIndex.* is allowed by DETSHIM_ALLOW pattern '\*indexFuncLargeIndex\*'$"
fresh
DETSHIM_MODE=log DETSHIM_DENY='*clean_axpy*' run_shim "$PROGS/kprog" all > out 2> err
check "deny: a clean kernel is flagged at every entry point" diff <(expected_events "$K_INDEX" "$K_FORCE" "$K_AXPY") <(kernel_events)
check "deny: the record says why" \
    [ "$(q 'select(.type=="event" and .symbol=="cudaLaunchKernel" and .kernel_mangled=="'"$K_AXPY"'")|"\(.reason_source)|\(.reason)|\(.pattern)|\(.detail|test("listed by DETSHIM_DENY"))"')" = \
      "DETSHIM_DENY|DETSHIM_DENY pattern '*clean_axpy*'|*clean_axpy*|true" ]
check "deny: everything still ran (log mode)" [ "$(launched "$K_AXPY")" -eq $((NENTRIES * 2)) ]
fresh
DETSHIM_MODE=log DETSHIM_DENY=' nothing* : *clean_axpy*,fill_zero' run_shim "$PROGS/kprog" all > out 2> err
check "deny: a list split at ',' and ':'" diff <(expected_events "$K_INDEX" "$K_FORCE" "$K_AXPY" "$K_FILL") <(kernel_events)
check "deny: the notice counts the patterns" has 'select(.type=="notice")|.message' "0 DETSHIM_ALLOW and 3 DETSHIM_DENY patterns"
fresh
DETSHIM_MODE=log DETSHIM_KERNELS="$KDATA/scanner.db" run_shim "$PROGS/kprog" reduce > out 2> err
check "scanner file: its kernel is flagged" \
    [ "$(q 'select(.type=="event")|"\(.kernel_mangled)|\(.reason)|\(.reason_source)|\(.reason_line)|\(.pattern)"')" = \
      "$K_REDUCE|SASS: RED.E.ADD.F64.RN.STRONG.GPU (sm_90)|$KDATA/scanner.db|7|$K_REDUCE" ]
check "scanner file: counted in the database notice" \
    has 'select(.type=="notice")|.message' "built-in entries, 1 from DETSHIM_KERNELS \\(0 unreadable files, 0 malformed lines\\)"
check "scanner file: nothing on stderr" [ ! -s err ]
fresh
DETSHIM_MODE=log DETSHIM_KERNELS="$KDATA/scanner.db" DETSHIM_ALLOW="$K_REDUCE" run_shim "$PROGS/kprog" reduce > out 2> err
check "allow wins over a scanner file" [ "$(q 'select(.type=="event")' | wc -l)" -eq 0 ]
fresh
DETSHIM_MODE=strict DETSHIM_KERNELS="/nonexistent/k.db:$KDATA/bad.db" run_shim "$PROGS/kprog" all > out 2> err
check "bad files: the unreadable file named once" \
    [ "$(grep -c "^detshim: kernel database /nonexistent/k.db (from DETSHIM_KERNELS) cannot be read: No such file or directory; none of its patterns are loaded, the rest are$" err)" -eq 1 ]
check "bad files: each malformed line named once, with its number" \
    [ "$(grep -c "^detshim: kernel database $KDATA/bad.db line 3: no TAB between pattern and reason: 'this line has no tab at all'; line ignored, the rest is loaded$" err) $(grep -c "bad.db line 4: empty pattern" err)" = "1 1" ]
check "bad files: nothing else on stderr but refusals" [ "$(grep -vc -e '^detshim: strict mode refused' -e '^  ' err)" -eq 3 ]
check "bad files: the messages are notices in the log too" \
    [ "$(q 'select(.type=="notice" and .layer=="kernels")|.message|select(test("bad.db line|k.db .from"))' | wc -l)" -eq 3 ]
check "bad files: the good lines after the bad ones loaded (axpy refused)" [ "$(grep -cE ' axpy status=800$' out)" -eq "$NENTRIES" ]
check "bad files: ... with the line that listed it" \
    [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_AXPY"'")|"\(.reason_source) \(.reason_line)"' | sort -u)" = "$KDATA/bad.db 5" ]
check "bad files: the built-in database still loaded" [ "$(grep -cE ' index status=800$' out)" -eq "$NENTRIES" ]
check "bad files: the program ran on" [ "$(grep -cE ' fill status=0$' out)" -eq "$NENTRIES" ]
finish
