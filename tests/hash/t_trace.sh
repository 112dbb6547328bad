#!/bin/bash
# Hash mode writes one trace per process beside its log: a header, then one record per
# call that wrote device memory (kernel launches through five entry points, copies to
# device memory, memsets) with input and output digests, per-kind counts and a call site
# named on its first sighting. The program's results are unchanged; off, nothing is traced.
. "$(dirname "$0")/lib_hash.sh"
"$PROGS/hprog" clean > plain.out
hashed a clean > a.out 2> a.err
A=$(trace_of a)
check "one trace, named from the log path (.jsonl -> .trace.jsonl)" \
    [ "$(trace_of a | wc -l)" = 1 -a "$A" = "${A%.trace.jsonl}.trace.jsonl" -a -f "${A%.trace.jsonl}.jsonl" ]
check "the program's results are unchanged by hash mode" diff plain.out a.out
check "nothing on stderr" [ ! -s a.err ]
check "the log is valid, and notes the trace's path" \
    bash -c "'$PYTHON' '$LOGCHECK' '$(log_of a)' && jq -e -s 'map(select(.type==\"notice\" and .layer==\"hash\" and .message==\"hash mode: trace $A\"))|length==1' '$(log_of a)' >/dev/null"
check "header first: format, version, pid, digest, where device memory is digested" \
    [ "$(head -n1 "$A" | jq -r '"\(.type) \(.format) \(.version) \(.pid) \(.digest) \(.digest_path)"')" = "trace_header detshim-hash-trace 2 $(basename "$A" .trace.jsonl | sed 's/^a-//') detshim-wordsum64 device" ]
check "18 call records, seq 1..18" [ "$(jq -r 'select(.type=="call")|.seq' "$A" | tr '\n' ' ')" = "$(seq 1 18 | tr '\n' ' ')" ]
STEPS="step_upload step_fill step_perturb step_copy step_side step_axpy step_scale step_memset step_sum "
EXPECT="cudaMemcpy cudaLaunchKernel __cudaLaunchKernel cudaMemcpy cudaLaunchKernel cuLaunchKernel cudaLaunchKernelExC cudaMemset cuLaunchKernelEx"
check "the calls in order: every launch entry point used, copies to the device, memsets; not the copy back to the host" \
    [ "$(jq -r 'select(.type=="call")|.call' "$A" | tr '\n' ' ')" = "$EXPECT $EXPECT " ]
check "every record has an input and an output digest" \
    [ "$(jq -r 'select(.type=="call")|"\(.in|test("^0x[0-9a-f]+$")) \(.out|test("^0x[0-9a-f]+$"))"' "$A" | sort -u)" = "true true" ]
check "kernels named (mangled; the same without libstdc++ to demangle)" \
    [ "$(jq -r 'select(.kernel_mangled)|.kernel_mangled' "$A" | sort -u | tr '\n' ' ')" = "_Z4axpyPjPKji _Z4sidePji _Z5scalePjPKjj _Z6reducePjPKji _Z7perturbPjPKji _Z9fill_iotaPji " ]
check "parameters from the layout, allocations they reach (perturb: 2 of 3 parameters, 16 KiB each)" \
    [ "$(jq -c 'select(.kernel_mangled=="'$K_PERTURB'")|[.params, [.ranges[]|[.arg,.bytes]]]' "$A" | sort -u)" = "[3,[[0,16384],[1,16384]]]" ]
check "packed extra parameters scanned (reduce through cuLaunchKernelEx: 2 allocations)" \
    [ "$(jq -c 'select(.call=="cuLaunchKernelEx")|[.ranges[]|.arg]' "$A" | sort -u)" = "[0,1]" ]
check "per-kind counts: the second step's launches had one of their kind before" \
    [ "$(jq -r 'select(.call=="__cudaLaunchKernel")|.count' "$A" | tr '\n' ' ')" = "0 1 " ]
check "copies counted per symbol (cudaMemcpy: 0..3)" \
    [ "$(jq -r 'select(.call=="cudaMemcpy")|.count' "$A" | tr '\n' ' ')" = "0 1 2 3 " ]
check "a copy to the device: what and bytes" \
    [ "$(jq -r 'select(.call=="cudaMemcpy")|"\(.what) \(.bytes)"' "$A" | sort -u | tr '\n' '|')" = "device to device copy 16384|host to device copy 16384|" ]
check "a kernel that only reads leaves its input allocation's digest unchanged (perturb arg 1)" \
    [ "$(jq -r 'select(.kernel_mangled=="'$K_PERTURB'")|.ranges[1]|.in==.out' "$A" | sort -u)" = "true" ]
check "a site's stack is given on its first sighting only (the loop's second step repeats them), frame 0 the step function" \
    [ "$(jq -r 'select(.stack)|.stack[0].function' "$A" | tr '\n' ' ')" = "$STEPS" ]
check "9 call sites, each step's twice" [ "$(jq -r 'select(.type=="call")|.site' "$A" | sort | uniq -c | awk '{print $1}' | sort -u)" = 2 ]
check "device memory digested by the digest kernel (t_device.sh has the details): launched per range, only result slots copied back" \
    [ "$(grep -c '^launch detshim_digest via cuLaunchKernel ' record)" -gt 30 -a "$(sed -n 's/^cuMemcpyDtoHAsync_v2 bytes=//p' record | sort -n | tail -n1)" = 16 ]
check "every record names its path: device" [ "$(jq -r 'select(.type=="call")|.path' "$A" | sort | uniq -c | awk '{print $1, $2}')" = "18 device" ]
hashed b clean > b.out
B=$(trace_of b)
check "same program, same inputs: the same digests in another process" \
    diff <(jq -c 'select(.type=="call")|[.seq,.call,.in,.out,.site]' "$A") <(jq -c 'select(.type=="call")|[.seq,.call,.in,.out,.site]' "$B")
DETSHIM_HASH=1 DETSHIM_LOG="$T/k-%p.jsonl" LD_PRELOAD="$SHIM" "$KPROG" all > /dev/null
K=$(trace_of k)
check "every launch entry point (kprog all: 14 symbols, pointers from cuGetProcAddress included) is traced as often as the summary counts it" \
    [ "$(jq -r 'select(.type=="call")|.call' "$K" | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')" = \
      "$(jq -r 'select(.type=="summary")|.calls|to_entries[]|select(.key|test("^(__)?cu(da)?Launch"))|select(.value>0)|"\(.key)=\(.value)"' "$(log_of k)" | LC_ALL=C sort | tr '\n' ' ')" ]
check "kernels without a parameter layout: recorded, no digest" \
    [ "$(jq -r 'select(.type=="call")|"\(.skipped) \(.in)"' "$K" | sort -u)" = "parameter layout unknown: no digest null" ]
hashed fk fork > fk.out
check "fork: parent and child write a trace each, the child's with seq and counts from the start" \
    [ "$(trace_of fk | wc -l)" = 2 -a "$(for f in $(trace_of fk); do jq -r 'select(.type=="call")|"\(.seq):\(.count)"' "$f" | tr '\n' ' '; echo; done | sort | tr '\n' '|')" = "1:0 |1:0 2:0 |" ]
FAKE_CAPTURING=1 hashed cap clean > cap.out
check "a stream being captured into a graph is neither read nor synchronised: recorded, skipped" \
    [ "$(jq -r 'select(.type=="call")|"\(.skipped) \(.in) \(.out)"' "$(trace_of cap)" | sort -u)" = "stream capture in progress: no digest null null" -a "$(cat cap.out)" = "$(cat plain.out)" ]
fresh
DETSHIM_LOG="$T/off-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > off.out
check "hash mode off (the default): no trace, results unchanged" [ -z "$(trace_of off)" -a "$(cat off.out)" = "$(cat plain.out)" ]
check "off: the copy hooks pass through, counted" \
    [ "$(jq -r 'select(.type=="summary")|"\(.calls.cudaMemcpy) \(.calls.cudaMemset)"' "$(log_of off)")" = "5 2" ]
DETSHIM_HASH=1 DETSHIM_DISABLE=hash DETSHIM_LOG="$T/dis-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > dis.out
check "DETSHIM_DISABLE=hash: no trace" [ -z "$(trace_of dis)" ]
DETSHIM_HASH=1 DETSHIM_MODE=off DETSHIM_LOG="$T/moff-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > moff.out
check "DETSHIM_MODE=off: no trace" [ -z "$(trace_of moff)" ]
finish
