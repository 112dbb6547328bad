#!/bin/bash
# The per-thread default stream twins of the hooked copies and memsets (_ptds, _ptsz: what
# nvcc --default-stream per-thread and CUDA_API_PER_THREAD_DEFAULT_STREAM call) get the
# same records as their plain twins: the right entry point runs, each call is recorded with
# digest.h's digest of what it wrote, and hash mode reads on the stream the call ran on:
# the calling thread's default stream (CU_STREAM_PER_THREAD, 0x2) for a _ptds call and a
# _ptsz call given stream 0, never the legacy stream (NULL), which would wait for every
# other thread's work.
. "$(dirname "$0")/lib_hash.sh"
"$PROGS/hprog" pt > plain.out
fresh
hashed pt pt > pt.out
P=$(trace_of pt)
S1=$(sed -n 's/.* stream=//p' pt.out)
check "the program's results are unchanged" [ "$(sed 's/ stream=.*//' pt.out)" = "$(sed 's/ stream=.*//' plain.out)" -a "$(sed 's/ stream=.*//' pt.out)" = "hprog pt status=0" ]
TWINS="cudaMemcpy_ptds cudaMemcpyAsync_ptsz cudaMemset_ptds cudaMemsetAsync_ptsz cuMemcpy_ptds cuMemcpyAsync_ptsz cuMemcpyHtoD_v2_ptds cuMemcpyHtoDAsync_v2_ptsz cuMemcpyDtoD_v2_ptds cuMemcpyDtoDAsync_v2_ptsz cuMemsetD8_v2_ptds cuMemsetD32_v2_ptds cuMemsetD8Async_ptsz cuMemsetD32Async_ptsz"
check "each twin reached its own real entry point (not its plain twin), stream passed on unchanged" \
    [ "$(grep -E '_pt(ds|sz) stream=' record | tr '\n' '|')" = "$(for n in $TWINS; do echo "$n stream=(nil)"; done | tr '\n' '|')cuMemsetD8Async_ptsz stream=$S1|" ]
check "one record per call, in order, each under its own name" \
    [ "$(jq -r 'select(.type=="call")|.call' "$P" | tr '\n' ' ')" = "$TWINS cuMemsetD8Async_ptsz cudaMemset " ]
check "what each wrote" \
    [ "$(jq -r 'select(.type=="call")|"\(.what) \(.bytes)"' "$P" | uniq -c | awk '{$1=$1};1' | tr '\n' '|')" = \
      "1 host to device copy 16384|1 device to device copy 16384|2 memset 64|2 device to device copy 16384|2 host to device copy 16384|2 device to device copy 16384|6 memset 64|" ]
# digest.h's digest, computed here independently of the shim
cat > digest.py <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
from digest_ref import digest
iota = b"".join(struct.pack("<I", i) for i in range(4096))
d8 = lambda v: digest(bytes([v]) * 64)
d32 = lambda v: digest(struct.pack("<I", v) * 16)
for d in [digest(iota)] * 2 + [d8(0x11), d8(0x22)] + [digest(iota)] * 6 + \
         [d8(0x33), d32(0x01020304), d8(0x44), d32(0x05060708), d8(0x55), d8(0x66)]:
    print(d)
PY
check "every record's output digest is digest.h's digest of what the call wrote" \
    diff <(jq -r 'select(.type=="call")|.out' "$P") <("$PYTHON" digest.py "$(dirname "$0")")
check "copies: the input digest equals the output digest" \
    [ "$(jq -r 'select(.type=="call" and (.what|test("copy")))|.in==.out' "$P" | sort -u)" = "true" ]
# the digest kernel's launches (t_device.sh): one per range read; each copy's record reads
# the written range, a device-to-device copy reads its source too
check "read on the per-thread default stream: 19 digest launches on 0x2 (14 twins: 5 device copies read twice)" \
    [ "$(grep -c '^launch detshim_digest via cuLaunchKernel .* stream=0x2 ' record)" = 19 ]
check "a _ptsz call with a stream of its own is read on that stream; the plain memset on the legacy stream" \
    [ "$(grep '^launch detshim_digest' record | sed -n 's/.* stream=\([^ ]*\) .*/\1/p' | grep -v '^0x2$' | tr '\n' ' ')" = "$S1 (nil) " ]
check "every record names its path: device" [ "$(jq -r 'select(.type=="call")|.path' "$P" | sort -u)" = "device" ]
fresh
DETSHIM_LOG="$T/off-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" pt > off.out
check "hash mode off: no trace, the twins pass through (counted), results unchanged" \
    [ -z "$(trace_of off)" -a "$(sed 's/ stream=.*//' off.out)" = "hprog pt status=0" -a \
      "$(jq -r 'select(.type=="summary")|"\(.calls.cudaMemcpy_ptds) \(.calls.cuMemsetD32Async_ptsz) \(.calls.cuMemsetD8Async_ptsz)"' "$(log_of off)")" = "1 1 2" ]
finish
