#!/bin/bash
# Hash mode digests device memory on the device: the digest kernel (the embedded PTX) is
# loaded once per context with the real driver functions, a call's ranges are digested in
# one batch (a memset of the result slots, one launch per range, one copy of the slots back,
# one synchronisation), and nothing larger than the slots comes back to the host. Where the
# kernel cannot be loaded (FAKE_NO_MODULE=1: a driver that cannot JIT the PTX) or with
# DETSHIM_HASH=host, the host computes the same digests: identical traces; the log says it
# once (not for =host, which asked for it). The fake driver runs a host imitation of the
# kernel (digest.h): these tests check the plumbing; tests/gpu/device_check.sh checks the
# kernel itself on a GPU.
. "$(dirname "$0")/lib_hash.sh"
digests() { jq -c 'select(.type=="call")|[.seq,.call,.what,.in,.out,[.ranges[]?|[.arg,.bytes,.in,.out]]]' "$1"; }
paths() { jq -r 'select(.type=="call")|.path' "$1" | sort | uniq -c | awk '{print $1, $2}' | tr '\n' ' '; }
dtoh_sizes() { sed -n 's/^cuMemcpyDtoHAsync_v2 bytes=//p' record | sort -n | uniq | tr '\n' ' '; }
fallback_notices() { jq -r 'select(.type=="notice" and (.message|test("digest kernel cannot run")))|.message' "$1" | wc -l; }
# ranges each record digested (launches: before and after; device-to-device copies: source
# and destination; others: the destination) and the batches they came in
RANGES='[.[]|select(.type=="call")|if .ranges then 2 * (.ranges|length) elif .what=="device to device copy" then 2 else 1 end]|add'
BATCHES='[.[]|select(.type=="call")|if .ranges then 2 elif .what=="device to device copy" then 2 else 1 end]|add'

# ---- the device path ------------------------------------------------------------------
hashed dev clean > dev.out
D=$(trace_of dev)
check "the digest module is loaded once (one context), from the embedded PTX" \
    [ "$(grep '^cuModuleLoadData' record)" = "cuModuleLoadData entry=detshim_digest bytes=$(wc -c < "$SHIM_SRC/digest_kernel.ptx")" ]
check "one device buffer of result slots (64 x 8 bytes), allocated once" \
    [ "$(grep '^cuMemAlloc_v2 ' record | tr '\n' '|')" = "cuMemAlloc_v2 bytes=512|" ]
check "one digest launch per range digested, blocks of 256 threads" \
    [ "$(grep -c '^launch detshim_digest via cuLaunchKernel grid=[0-9]*,1,1 block=256,1,1 ' record)" = "$(jq -s "$RANGES" "$D")" ]
check "one copy back per batch, of 8 bytes per range: never a range itself (16 KiB here)" \
    [ "$(grep -c '^cuMemcpyDtoHAsync_v2 ' record)" = "$(jq -s "$BATCHES" "$D")" -a "$(dtoh_sizes)" = "8 16 " ]
check "every record says: device" [ "$(paths "$D")" = "18 device " ]
check "no notice about the host" [ "$(fallback_notices "$(log_of dev)")" = 0 ]
check "a known answer: the first upload (4096 x uint32 0..4095) digests as digest.h defines it" \
    [ "$(jq -r 'select(.seq==1)|"\(.in) \(.out)"' "$D")" = "0xfdebc1fd1782150e 0xfdebc1fd1782150e" ]
fresh
DETSHIM_HASH=1 DETSHIM_LOG="$T/big-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" bench 20 64 > /dev/null
check "64 KiB ranges: 40 digests of 32 blocks each, no copy back larger than 8 bytes" \
    [ "$(grep -c '^launch detshim_digest via cuLaunchKernel grid=32,1,1 ' record)" = 40 -a "$(dtoh_sizes)" = "8 " ]

# ---- the host fallback: a driver that cannot JIT the PTX --------------------------------
fresh
FAKE_NO_MODULE=1 hashed nomod clean > nomod.out 2> nomod.err
N=$(trace_of nomod)
check "fallback: the program's results are unchanged" diff dev.out nomod.out
check "fallback: the module load is tried once (per context), no digest launch" \
    [ "$(grep -c '^cuModuleLoadData refused' record)" = 1 -a "$(grep -c '^launch detshim_digest' record)" = 0 ]
check "fallback: the same digests, in and out, per call and per range" diff <(digests "$D") <(digests "$N")
check "fallback: every record says: host; the ranges came back whole" \
    [ "$(paths "$N")" = "18 host " -a "$(dtoh_sizes)" = "64 16384 " ]
check "fallback: one notice in the log, naming the failed call and error" \
    [ "$(fallback_notices "$(log_of nomod)")" = 1 -a "$(jq -r 'select(.type=="notice")|.message' "$(log_of nomod)" | grep -c 'cuModuleLoadData, error 209')" = 1 ]
check "fallback: nothing on stderr (the log has it)" [ ! -s nomod.err ]

# ---- DETSHIM_HASH=host ------------------------------------------------------------------
fresh
DETSHIM_HASH=host DETSHIM_LOG="$T/host-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" clean > host.out
H=$(trace_of host)
check "=host: no module load, the same digests, every record says host, no notice" \
    [ "$(grep -c '^cuModuleLoadData' record)" = 0 -a "$(digests "$D")" = "$(digests "$H")" -a "$(paths "$H")" = "18 host " \
      -a "$(fallback_notices "$(log_of host)")" = 0 ]

# ---- odd lengths at unaligned addresses ---------------------------------------------------
fresh
hashed odd odd > /dev/null
FAKE_NO_MODULE=1 hashed oddh odd > /dev/null
O=$(trace_of odd) OH=$(trace_of oddh)
check "unaligned, odd lengths: the calls (13-byte copies to +1 and +3, an 11-byte memset at +5)" \
    [ "$(jq -r 'select(.type=="call")|"\(.call):\(.bytes)"' "$O" | tr '\n' ' ')" = "cudaMemcpy:13 cudaMemcpy:13 cudaMemset:11 " ]
check "unaligned, odd lengths: a copy's output digest equals its input's (host source, device source)" \
    [ "$(jq -r 'select(.call=="cudaMemcpy")|.in==.out' "$O" "$OH" | sort -u)" = true ]
check "unaligned, odd lengths: the upload's digest is digest.h's" \
    [ "$(jq -r 'select(.seq==1)|.out' "$O")" = 0xc98e2f7cd799806d ]
check "unaligned, odd lengths: device and host paths agree" \
    [ "$(paths "$O")" = "3 device " -a "$(paths "$OH")" = "3 host " -a "$(digests "$O")" = "$(digests "$OH")" ]
finish
