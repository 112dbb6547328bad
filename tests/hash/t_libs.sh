#!/bin/bash
# Hash mode around library calls: cuBLAS's gemm and cuBLASLt's matmul are digested over
# the extents their documentation gives (C, D written; A, B, C read), the digests agree with
# those of the copies that filled the same memory, and `detshim diff` of two runs whose gemm
# is nondeterministic (the fake puts the process id into its result) names the gemm and its
# caller, with the matmul that consumed it as inherited. The same for a cuDNN backward filter
# convolution on a nondeterministic algorithm, which enforce mode replaces: no divergence then.
. "$(dirname "$0")/lib_hash.sh"
export FAKE_BLAS_COMPUTE=1
hlib() { DETSHIM_HASH=1 DETSHIM_LOG="$T/$1-%p.jsonl" LD_PRELOAD="$SHIM" "$PROGS/hlib" "$2"; }
call() { jq -c "select(.type==\"call\" and .call==\"$2\")" "$(trace_of "$1")"; }

hlib c1 chain > out 2> err
check "chain: the program ran" grep -qx 'failed 0' out
g=$(call c1 cublasSgemm_v2)
check "gemm: one record, kind gemm, 1024 bytes written, digests in and out" \
    [ "$(jq -r '"\(.what) \(.bytes) \(.in != null) \(.out != null)"' <<<"$g")" = "gemm 1024 true true" ]
check "gemm: C written, A and B read, each 16 x 16 floats; host scalars are no ranges" \
    [ "$(jq -r '[.ranges[]|"\(.arg):\(.bytes):\(.out != null)"]|join(" ")' <<<"$g")" = "C:1024:true A:1024:false B:1024:false" ]
up=$(call c1 cudaMemcpy | jq -r .out | tr '\n' ' ')
check "gemm: A and B read with the digests the uploads wrote" \
    [ "$(jq -r '[.ranges[1].in, .ranges[2].in]|join(" ")' <<<"$g") " = "$up" ]
m=$(call c1 cublasLtMatmul)
check "matmul: kind matmul; D written; A, B, C read" \
    [ "$(jq -r '"\(.what) " + ([.ranges[]|"\(.arg):\(.bytes)"]|join(" "))' <<<"$m")" = "matmul D:1024 A:1024 B:1024 C:1024" ]
check "matmul: reads as A the C the gemm wrote" \
    [ "$(jq -r '.ranges[1].in' <<<"$m")" = "$(jq -r '.ranges[0].out' <<<"$g")" ]
check "matmul: D's digest is of what it wrote (differs from before)" \
    [ "$(jq -r '.ranges[0].in != .ranges[0].out' <<<"$m")" = true ]
check "the records name their call sites" \
    [ "$(jq -r 'select(.type=="call" and (.call|startswith("cublas")))|.stack[0].function' "$(trace_of c1)" | tr '\n' ' ')" = "step_gemm step_matmul " ]

hlib c2 chain > /dev/null 2>&1
dshim diff "$(trace_of c1)" "$(trace_of c2)" > out 2> err; rc=$?
check "two clean runs: no divergence" bash -c "[ $rc = 0 ] && grep -q '^no divergence' out"

FAKE_BLAS_NOISE=1 hlib n1 chain > /dev/null 2>&1
FAKE_BLAS_NOISE=1 hlib n2 chain > /dev/null 2>&1
dshim diff "$(trace_of n1)" "$(trace_of n2)" > out 2> err; rc=$?
check "noisy gemm: exit 1" [ "$rc" = 1 ]
check "noisy gemm: the divergence is the gemm, called from step_gemm" \
    bash -c "grep -qE '^divergence: call 3 of 4 \(seq 3\), cublasSgemm_v2 \(gemm, 1024 bytes\)' out && grep -qE '^  called from step_gemm ' out"
check "noisy gemm: the matmul that read its C is inherited" \
    [ "$(dshim diff --json "$(trace_of n1)" "$(trace_of n2)" | jq -r '"\(.divergence.call) \(.inherited_total) \(.inherited[0].call)"')" = "cublasSgemm_v2 1 cublasLtMatmul" ]

FAKE_BLAS_NOISE=1 hlib v1 conv > out 2>&1
FAKE_BLAS_NOISE=1 hlib v2 conv > /dev/null 2>&1
check "conv: the program ran" grep -qx 'failed 0' out
v=$(call v1 cudnnConvolutionBackwardFilter)
check "conv: dw written, x and dy read, sized by their descriptors" \
    [ "$(jq -r '"\(.what) " + ([.ranges[]|"\(.arg):\(.bytes)"]|join(" "))' <<<"$v")" = "convolution backward filter dw:1024 x:1024 dy:1024" ]
dshim diff --json "$(trace_of v1)" "$(trace_of v2)" > j.json; rc=$?
check "conv, log mode: the divergence is the backward filter convolution; the copy of dw is inherited" \
    [ "$rc $(jq -r '"\(.divergence.call) \(.divergence.caller.function) \(.inherited[0].call)"' j.json)" = "1 cudnnConvolutionBackwardFilter step_bwd_filter cudaMemcpy" ]
FAKE_BLAS_NOISE=1 DETSHIM_MODE=enforce hlib e1 conv > /dev/null 2>&1
FAKE_BLAS_NOISE=1 DETSHIM_MODE=enforce hlib e2 conv > /dev/null 2>&1
dshim diff "$(trace_of e1)" "$(trace_of e2)" > out 2> err; rc=$?
check "conv, enforce mode (a deterministic algorithm instead): no divergence" \
    bash -c "[ $rc = 0 ] && grep -q '^no divergence' out"

# ---- called from Python (the GIL held, as a CPython extension calls): the records carry the
# Python frames, the two uploads are two sites, and the diff names the Python caller ----
pyrun() { DETSHIM_HASH=1 DETSHIM_LOG="$T/$1-%p.jsonl" LD_PRELOAD="$SHIM" "$PYTHON" "$(dirname "$0")/pylib.py"; }
FAKE_BLAS_NOISE=1 pyrun p1 > out 2> err
FAKE_BLAS_NOISE=1 pyrun p2 > /dev/null 2>&1
check "python: the program ran" grep -qx 'failed 0' out
check "python: the two uploads (one native path, two Python lines) are two sites" \
    [ "$(call p1 cudaMemcpy | jq -r '.site' | sort -u | wc -l)" = 2 ]
check "python: each upload's record names upload() called from main()" \
    [ "$(call p1 cudaMemcpy | jq -r '"\(.pystack[0].function)<-\(.pystack[1].function)"' | sort -u | tr '\n' ' ')" = "upload<-main " ]
check "python: the gemm's record names gemm() and main() in pylib.py" \
    [ "$(call p1 cublasSgemm_v2 | jq -r '[.pystack[0:2][]|"\(.file|split("/")|last):\(.function)"]|join(" ")')" = "pylib.py:gemm pylib.py:main" ]
dshim diff "$(trace_of p1)" "$(trace_of p2)" > out 2> err
check "python: the diff names the gemm and its Python caller" \
    grep -qE '^  called from pylib.py:[0-9]+ in gemm <- pylib.py:[0-9]+ in main' out
check "python: --json gives the Python frames" \
    [ "$(dshim diff --json "$(trace_of p1)" "$(trace_of p2)" | jq -r '.divergence.caller.python[0].function')" = gemm ]

hlib o1 odd > out 2>&1
check "a data type hash mode cannot size (in the inputs, in the output): each call recorded, undigested, saying why" \
    [ "$(call o1 cublasGemmEx | jq -r '"\(.out) \(.skipped)"' | sort | uniq -c | sed 's/^ *//')" = "2 null a data type hash mode does not know the size of: no digest" ]
finish
