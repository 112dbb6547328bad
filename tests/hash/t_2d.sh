#!/bin/bash
# Pitched rectangles: the 2-D runtime copies and memsets (cudaMemcpy2D[Async], cudaMemset2D
# [Async] and their _ptds/_ptsz twins) and the 16-bit driver memsets (cuMemsetD16 and
# twins) get trace records: the right entry point runs with its arguments unchanged, each
# record's output digest is digest.h's digest of the span from the rectangle's first byte
# to its last (computed here from a model of the memory), a copy's input digest that of
# the source span, and a 2-D copy to the host writes no device memory (no record).
. "$(dirname "$0")/lib_hash.sh"
"$PROGS/hprog" twod > plain.out
fresh
hashed td twod > td.out
P=$(trace_of td)
S1=$(sed -n 's/.* stream=//p' td.out)
strip() { sed 's/ stream=.*//' "$1"; }
check "the program's results are unchanged (the copy back to the host too)" \
    [ "$(strip td.out)" = "$(strip plain.out)" -a "$(strip td.out | sed 's/ sum=.*//')" = "hprog twod status=0" ]
CALLS="cudaMemcpy2D cudaMemcpy2DAsync cudaMemcpy2D_ptds cudaMemcpy2DAsync_ptsz cudaMemset2D cudaMemset2DAsync cudaMemset2D_ptds cudaMemset2DAsync_ptsz cuMemsetD16_v2 cuMemsetD16Async cuMemsetD16_v2_ptds cuMemsetD16Async_ptsz"
check "each call reached its own real entry point, stream and shape unchanged" \
    [ "$(grep -E '^(cudaMem(cpy|set)2D|cuMemsetD16)' record | tr '\n' '|')" = \
      "cudaMemcpy2D stream=(nil) w=24 h=8|cudaMemcpy2DAsync stream=(nil) w=24 h=8|cudaMemcpy2D_ptds stream=(nil) w=24 h=8|cudaMemcpy2DAsync_ptsz stream=$S1 w=24 h=8|cudaMemset2D stream=(nil) w=40 h=4|cudaMemset2DAsync stream=(nil) w=16 h=4|cudaMemset2D_ptds stream=(nil) w=8 h=4|cudaMemset2DAsync_ptsz stream=(nil) w=16 h=2|cuMemsetD16_v2 stream=(nil)|cuMemsetD16Async stream=(nil)|cuMemsetD16_v2_ptds stream=(nil)|cuMemsetD16Async_ptsz stream=(nil)|cudaMemcpy2D stream=(nil) w=24 h=8|" ]
check "one record per device write, in order, under its own name (none for the copy back)" \
    [ "$(jq -r 'select(.type=="call")|.call' "$P" | tr '\n' ' ')" = "cudaMemset cudaMemset cudaMemset $CALLS " ]
check "each record's kind and span (first byte to last)" \
    [ "$(jq -r 'select(.type=="call")|"\(.what) \(.bytes)"' "$P" | sed 1,3d | tr '\n' '|')" = \
      "host to device 2-D copy 472|device to device 2-D copy 360|device to device 2-D copy 304|host to device 2-D copy 192|2-D memset 232|2-D memset 112|2-D memset 56|2-D memset 32|memset 16|memset 16|memset 16|memset 16|" ]
cat > model.py <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
from digest_ref import digest
N = 4096 * 4
host = bytes((i * 7 + 1) & 0xff for i in range(32 * 8))
x, y, w = bytearray(N), bytearray(N), bytearray(N)
out, inp = [], []
span = lambda pitch, wd, h: pitch * (h - 1) + wd
def copy2d(dst, doff, dp, src, soff, sp, wd, h):
    for r in range(h):
        dst[doff + r * dp:doff + r * dp + wd] = src[soff + r * sp:soff + r * sp + wd]
    inp.append(digest(src[soff:soff + span(sp, wd, h)]))
    out.append(digest(dst[doff:doff + span(dp, wd, h)]))
def set2d(off, pitch, v, wd, h):
    for r in range(h):
        w[off + r * pitch:off + r * pitch + wd] = bytes([v]) * wd
    out.append(digest(w[off:off + span(pitch, wd, h)]))
def set16(off, v, n):
    w[off:off + 2 * n] = struct.pack("<H", v) * n
    out.append(digest(w[off:off + 2 * n]))
copy2d(x, 0, 64, host, 0, 32, 24, 8)
copy2d(y, 0, 48, x, 0, 64, 24, 8)
copy2d(y, 512, 40, x, 0, 64, 24, 8)
copy2d(y, 1024, 24, host, 0, 32, 24, 8)
set2d(0, 64, 0x5a, 40, 4); set2d(256, 32, 0x5b, 16, 4); set2d(512, 16, 0x5c, 8, 4); set2d(1024, 16, 0x5d, 16, 2)
set16(2048, 0x0102, 8); set16(2064, 0x0304, 8); set16(2080, 0x0506, 8); set16(2096, 0x0708, 8)
print(" ".join(out)); print(" ".join(inp))
PY
"$PYTHON" model.py "$(dirname "$0")" > model.out
check "every record's output digest is digest.h's digest of the span as the model has it" \
    [ "$(jq -r 'select(.type=="call")|.out' "$P" | sed 1,3d | tr '\n' ' ' | sed 's/ $//')" = "$(sed -n 1p model.out)" ]
check "every copy's input digest is that of its source span (host or device)" \
    [ "$(jq -r 'select(.type=="call" and (.what|test("copy")))|.in' "$P" | tr '\n' ' ' | sed 's/ $//')" = "$(sed -n 2p model.out)" ]
check "2-D memsets: the same value and shape give the same input digest, another shape another" \
    [ "$(jq -r 'select(.type=="call" and .what=="2-D memset")|.in' "$P" | sort -u | wc -l)" = 4 ]
# the digest kernel's launches: the per-thread default stream (0x2) for the _ptds calls and
# the _ptsz calls given stream 0 (the 2-D device copy reads its source too), the call's own
# stream for the _ptsz copy given one
check "read on the per-thread default stream: 6 digest launches on 0x2" \
    [ "$(grep -c '^launch detshim_digest via cuLaunchKernel .* stream=0x2 ' record)" = 6 ]
check "the _ptsz copy with a stream of its own is read on that stream" \
    [ "$(grep -c "^launch detshim_digest via cuLaunchKernel .* stream=$S1 " record)" = 1 ]
fresh
DETSHIM_LOG="$T/off-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hprog" twod > off.out
check "hash mode off: no trace, every call passes through (counted), results unchanged" \
    [ -z "$(trace_of off)" -a "$(strip off.out)" = "$(strip plain.out)" -a \
      "$(jq -r 'select(.type=="summary")|"\(.calls.cudaMemcpy2D) \(.calls.cudaMemset2DAsync_ptsz) \(.calls.cuMemsetD16Async)"' "$(log_of off)")" = "2 1 1" ]
finish
