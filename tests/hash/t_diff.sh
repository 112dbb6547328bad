#!/bin/bash
# `detshim diff` on hash traces: two runs of a chain in which one kernel (perturb) mixes the
# process id into its output name exactly that kernel and its caller as the divergence, and
# the calls that consumed its output as inherited; identical runs give "no divergence"; runs
# with another call order give where the sequences part; a corrupt or truncated trace is
# one clear line naming file and line (exit 2, no traceback). Log diffing is unchanged.
. "$(dirname "$0")/lib_hash.sh"
hashed n1 noisy > /dev/null
hashed n2 noisy > /dev/null
N1=$(trace_of n1) N2=$(trace_of n2)
dshim diff "$N1" "$N2" > out 2> err; rc=$?
check "divergence: exit 1" [ "$rc" = 1 ]
check "nothing on stderr" [ ! -s err ]
check "names the kernel (demangled when c++filt is there), its entry point, seq and count" \
    grep -qE '^divergence: call 3 of 18 \(seq 3\), __cudaLaunchKernel of kernel (perturb\(unsigned int\*, unsigned int const\*, int\)|_Z7perturbPjPKji), its 1st \(0 of this kind before it\)$' out
check "names its caller" grep -qE '^  called from step_perturb \(hprog\+0x[0-9a-f]+\) <- main' out
check "its inputs were equal, its outputs differ, in its parameter 0" \
    bash -c "grep -q '^  inputs:  equal in both runs' out && grep -q '^  outputs: differ' out && grep -q '^    parameter 0 (16384 bytes): ' out"
check "the calls that consumed it are inherited: copy, axpy, scale, reduce, in order" \
    [ "$(sed -n '/^inherited/,/^$/p' out | grep -oE 'from step_[a-z]+' | head -4 | tr '\n' ' ')" = "from step_copy from step_axpy from step_scale from step_sum " ]
check "calls that did not consume it are not reported (fill, side, memset, upload)" \
    [ "$(grep -cE 'step_(fill|side|memset|upload)' out)" = 0 ]
check "result line" grep -qE '^result: divergence at seq 3 ' out
dshim diff --json "$N1" "$N2" > j.json; rc=$?
check "--json: exit 1, the divergence with kernel, caller, seq, count" \
    [ "$rc:$(jq -r '.divergence|"\(.kernel_mangled) \(.caller.function) \(.seq_a) \(.count_before) \(.in[0]==.in[1]) \(.out[0]!=.out[1])"' j.json)" = "1:$K_PERTURB step_perturb 3 0 true true" ]
check "--json: 9 inherited, the first the device-to-device copy; no sequence difference" \
    [ "$(jq -r '"\(.inherited_total) \(.inherited[0].call) \(.inherited[0].what) \(.sequences_part)"' j.json)" = "9 cudaMemcpy device to device copy null" ]

hashed c1 clean > /dev/null
hashed c2 clean > /dev/null
dshim diff "$(trace_of c1)" "$(trace_of c2)" > out 2> err; rc=$?
check "identical runs: exit 0, no divergence" \
    [ "$rc" = 0 -a "$(grep -c '^no divergence: all 18 calls wrote the same bits in both runs$' out)" = 1 ]
check "identical runs: --json equal" [ "$(dshim diff --json "$(trace_of c1)" "$(trace_of c2)" | jq -r '"\(.equal) \(.divergence)"')" = "true null" ]

hashed s1 swap > /dev/null
dshim diff "$(trace_of c1)" "$(trace_of s1)" > out 2> err; rc=$?
check "another call order: exit 1, where the sequences part" \
    [ "$rc" = 1 -a "$(grep -c '^sequences: the call sequences part at call 15 (the first 14 agree):$' out)" = 1 ]
check "another call order: both sides named" \
    bash -c "grep -qE '^  A: seq 15: cuLaunchKernel of kernel .*from step_axpy' out && grep -qE '^  B: seq 15: cudaLaunchKernelExC of kernel .*from step_scale' out"
check "another call order: no divergence claimed before it" [ "$(grep -c '^divergence' out)" = 0 ]

C1=$(trace_of c1)
# cut inside the fourth record (a byte count could land on a line end: pids vary in length)
{ head -n 3 "$C1"; sed -n 4p "$C1" | head -c 40; } > cut.trace.jsonl
dshim diff "$C1" cut.trace.jsonl > out 2> err; rc=$?
check "truncated trace: exit 2, one line naming file and line, no traceback" \
    [ "$rc" = 2 -a "$(wc -l < err)" = 1 -a "$(grep -c Traceback err)" = 0 -a "$(grep -c '^detshim diff: cut.trace.jsonl:4: truncated record' err)" = 1 ]
sed '4s/"in":/"in"/' "$C1" > bad.trace.jsonl
dshim diff bad.trace.jsonl "$C1" > out 2> err; rc=$?
check "corrupt trace: exit 2, one line naming file and line" \
    [ "$rc" = 2 -a "$(wc -l < err)" = 1 -a "$(grep -c '^detshim diff: bad.trace.jsonl:4: corrupt record' err)" = 1 ]
cat "$C1" "$C1" > two.trace.jsonl
dshim diff two.trace.jsonl "$C1" > out 2> err; rc=$?
check "two processes in one trace: exit 2, says so" [ "$rc" = 2 -a "$(grep -c 'a second trace header' err)" = 1 ]
sed '1s/"version":2,/"version":1,/' "$C1" > v1.trace.jsonl
dshim diff v1.trace.jsonl "$C1" > out 2> err; rc=$?
check "a version-1 trace (older digests): exit 2, one line naming both versions" \
    [ "$rc" = 2 -a "$(wc -l < err)" = 1 -a "$(grep -c '^detshim diff: v1.trace.jsonl:1: a version 1 trace .*reads detshim-hash-trace version 2 only' err)" = 1 ]
dshim diff "$C1" "$(log_of c2)" > out 2> err; rc=$?
check "a trace against a log: exit 2" [ "$rc" = 2 -a "$(grep -c 'diff compares two files of one kind' err)" = 1 ]
dshim diff "$(log_of c1)" "$(log_of c2)" > out 2> err; rc=$?
check "two logs are still compared as logs" [ "$rc" = 0 -a "$(grep -c '^fingerprint: ' out)" = 1 ]
finish
