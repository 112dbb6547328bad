#!/bin/bash
# The shim in front of the REAL cuDNN 9 (libcudnn.so.9 of a CUDA toolkit), in all four
# modes, with what works without a GPU: descriptors, and calls with a NULL handle (cuDNN:
# CUDNN_STATUS_BAD_PARAM). Checks: every cuDNN hook names a function the real library
# exports; the program's output (every status) is the same with and without the shim;
# the descriptor-level policies read the real descriptors (max pooling: the mode, through
# cudnnGetPoolingNdDescriptor with a count cuDNN 9.19 accepts; its refusal of
# CUDNN_DIM_MAX is checked too); failures that are not about determinism keep cuDNN's
# status and are said so; no crash. Skipped (77) when no libcudnn.so.9 is found
# (REAL_CUDA_LIB, else /usr/local/cuda/lib, /usr/local/cuda/lib64).
REAL=""
for d in ${REAL_CUDA_LIB:-} /usr/local/cuda/lib /usr/local/cuda/lib64; do
    if [ -e "$d/libcudnn.so.9" ]; then REAL=$d; break; fi
done
if [ -z "$REAL" ]; then echo "no real libcudnn.so.9: skipped"; exit 77; fi
# lib.sh puts $FAKES first on LD_LIBRARY_PATH: here, the real libraries
export FAKES=$REAL
. "$PRELOAD_LIB"
# the vendor library is not built for sanitizers (its own allocations would be reported)
skip_if_sanitized "the real cuDNN under a sanitizer"
P=$REAL_CUDNN_PROG
# is A B: A equals B (prints both on failure)
is() { [ "$1" = "$2" ] || { echo "    got:  $1"; echo "    want: $2"; return 1; }; }
PB=cudnnPoolingBackward
F=cudnnConvolutionBackwardFilter
D=cudnnConvolutionBackwardData

# ---- every cuDNN hook resolves in the real library
exported=$(nm -D --defined-only "$REAL/libcudnn.so.9" | awk '{print $3}' | sed 's/@.*//' | sort -u)
hooks=$(grep -oE 'HOOK(_VOID|_FAST)?\(CUDNN, CUDNN, [^,]+, [A-Za-z0-9_]+' "$HOOKS_DEF" | awk '{print $NF}' | sort -u)
missing=$(comm -23 <(echo "$hooks") <(echo "$exported") | tr '\n' ' ')
check "hooks.def lists cuDNN hooks" test "$(echo "$hooks" | wc -l)" -gt 20
check "every cuDNN hook is exported by the real libcudnn.so.9 (missing: ${missing:-none})" test -z "$missing"

# ---- the reference: the program without the shim
"$P" > ref 2> referr
rc=$?
if [ $rc -eq 77 ]; then cat ref; rm -rf "$T"; exit 77; fi
check "without the shim: the program ran to the end" grep -qx done ref
check "real cuDNN 9.19: NULL handle gives BAD_PARAM" grep -qx "bwdf algo=0 status=2000" ref
check "real cuDNN: cudnnGetPoolingNdDescriptor refuses CUDNN_DIM_MAX (why the shim asks for 6)" \
    grep -qx "pool2 get(CUDNN_DIM_MAX) status=3000" ref

events() { [ -z "$(logs)" ] && return 0; jq -c "select(.type==\"event\")|$1" "$(onelog)"; }
count() { events "select($1)" | wc -l; }

for m in off log enforce strict; do
    fresh
    DETSHIM_MODE=$m run_shim "$P" > out 2> err
    rc=$?
    check "$m: exit status 0 (no crash)" is "$rc" 0
    check "$m: every status as without the shim" diff -u ref out
    if [ "$m" = off ]; then
        check "off: no event" is "$(count true)" 0
        continue
    fi
    check "$m: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    check "$m: no cuDNN function the layer needs is missing" \
        bash -c "! jq -r 'select(.type==\"notice\")|.message' $(onelog) | grep -q 'not found in cuDNN'"
    check "$m: nothing blocked" is "$(count '.action=="blocked"')" 0
    check "$m: no 'no deterministic algorithm' claim for a bad handle" \
        is "$(count '.detail|test("no deterministic")')" 0
    if [ "$m" = log ]; then
        check "$m: max pooling read from the real descriptors (2-D and 3-D)" \
            is "$(count ".symbol==\"$PB\" and .pooling_mode==0 and .action==\"observed\"")" 2
    else
        check "$m: max pooling read from the real descriptors (2-D and 3-D): switch recorded" \
            is "$(count ".symbol==\"$PB\" and .pooling_mode==0 and .action==\"forced\"")" 2
        # no device: the switched call fails in cuDNN, and the log says so after the switch
        check "$m: then cuDNN's own failure, passed on" \
            is "$(count ".symbol==\"$PB\" and .action==\"observed\" and (.detail|test(\"not about determinism\"))")" 2
    fi
    check "$m: the hooks were called through the shim" \
        is "$(jq -s '[.[]|select(.type=="summary")|.calls.cudnnPoolingBackward]|add' "$(onelog)")" 2
done

fresh
DETSHIM_MODE=log run_shim "$P" > out 2> err
check "log: backward-filter ALGO_0 observed" is "$(events "select(.symbol==\"$F\")|[.action,.algo]")" '["observed",0]'
check "log: backward-data ALGO_0 observed" is "$(events "select(.symbol==\"$D\")|[.action,.algo]")" '["observed",0]'
check "log: both CTC entry points observed" \
    is "$(count '(.symbol=="cudnnCTCLoss" or .symbol=="cudnnCTCLoss_v8") and .action=="observed"')" 2

for m in enforce strict; do
    fresh
    DETSHIM_MODE=$m run_shim "$P" > out 2> err
    # the real cuDNN built the CUDNN_POOLING_MAX_DETERMINISTIC copy (else: "refused ...") and
    # failed the call on the NULL handle
    check "$m: pooling switched to a deterministic copy, which cuDNN failed with 2000 (bad handle)" \
        is "$(count ".symbol==\"$PB\" and (.detail|test(\"failed the call with status 2000\"))")" 2
    check "$m: convolutions: cuDNN's status 2000 returned, said so" \
        is "$(count "(.symbol==\"$F\" or .symbol==\"$D\") and (.detail|test(\"status 2000, which is not about determinism\"))")" 2
    check "$m: CTC: the same" \
        is "$(count '(.symbol=="cudnnCTCLoss" or .symbol=="cudnnCTCLoss_v8") and (.detail|test("status 2000"))')" 2
    check "$m: no refusal on stderr" bash -c "! grep -q 'strict mode refused' err"
done
finish
