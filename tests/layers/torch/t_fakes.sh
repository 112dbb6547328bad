#!/bin/bash
# The torch layer against fake libtorch_cpu variants, opened RTLD_LOCAL behind a fake
# libtorch_cuda (torch_prog): torch 2.x (std::string_view, libstdc++ layout), torch 1.13
# (c10::basic_string_view) and a torch lacking deterministicAlgorithmsWarnOnly.
# Asserts what the getters answer, what the fake torch was asked (its record), the exact
# op names logged, per-site dedup, strict/log/off behaviour and the missing-symbol notice.
. "$(dirname "$0")/../../preload/lib.sh"
# meson puts every built library's directory on LD_LIBRARY_PATH, which would load one
# variant's libtorch_cpu behind another's libtorch_cuda: keep only the fake CUDA libs.
export LD_LIBRARY_PATH="$FAKES"
V2=$FAKE_TORCH_V2/libfake_torch_cuda.so
V113=$FAKE_TORCH_V113/libfake_torch_cuda.so
NOWARN=$FAKE_TORCH_NOWARN/libfake_torch_cuda.so
STD=_ZN2at7Context21alertNotDeterministicERKSt17basic_string_viewIcSt11char_traitsIcEE
C10=_ZN2at7Context21alertNotDeterministicERKN3c1017basic_string_viewIcEE
SETALG=_ZN2at7Context26setDeterministicAlgorithmsEbb
ev() { q "select(.type==\"event\")|$1"; }                 # ev FILTER: over the events
rec() { grep -c -x "$1" record 2>/dev/null; }              # rec LINE: times the fake saw it

for variant in v2 v113; do
    fresh
    if [ $variant = v2 ]; then LIB=$V2 SYM=$STD; else LIB=$V113 SYM=$C10; fi
    run_shim "$TORCH_PROG" "$LIB" query alert put_ alert put_ alert2 put_ alert2 index_add_cuda_ \
        alert-long 1000 raised > out 2> err
    check "$variant enforce: the program ran" [ "$(tail -n1 out)" = "raised=0" ]
    check "$variant enforce: getters answer deterministic, warn-only, cuDNN benchmark off" \
        [ "$(head -n1 out)" = "det=1 warn=1 cudnn_det=1 bench=0" ]
    check "$variant enforce: torch's own flags set once (algorithms on, warn-only)" \
        [ "$(rec 'setDeterministicAlgorithms b=1 warn_only=1')" = 1 ]
    check "$variant enforce: torch's own cuDNN flags set once" \
        [ "$(rec 'setDeterministicCuDNN b=1')$(rec 'setBenchmarkCuDNN b=0')" = 11 ]
    check "$variant enforce: the real alert was never called (nothing raised)" \
        [ "$(grep -c alertNotDeterministic record)" = 0 ]
    check "$variant enforce: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    check "$variant: alert events name the op exactly (view stops at its length)" \
        [ "$(ev "select(.symbol==\"$SYM\")|.op" | sort | tr '\n' ' ')" = "index_add_cuda_ put_ put_ $(printf 'x%.0s' $(seq 256)) " ]
    check "$variant: one event per call site and op, observed, layer torch" \
        [ "$(ev "[.layer,.action,.mode]|@tsv" | sort -u)" = "torch	observed	enforce" ]
    check "$variant: the summary counts the repeated site" \
        [ "$(q "select(.type==\"summary\")|.sites[]|select(.symbol==\"$SYM\")|.count" | sort -n | tr '\n' ' ')" = "1 1 1 2 " ]
    check "$variant: detail says it ran anyway" \
        [ "$(ev 'select(.op=="put_")|.detail' | head -n1)" = "torch alert: put_ has no deterministic implementation; it ran anyway (enforce mode: recorded instead of raised)" ]
    check "$variant: stack frame 0 is the fake libtorch_cuda's caller of the alert" \
        [ "$(ev 'select(.op=="put_")|.stack[0].function' | sort -u)" = "fake_cuda_alert" ]
    check "$variant: the stacks reach the two call sites in the program" \
        [ "$(ev 'select(.op=="put_")|.stack[1].function' | sort | tr '\n' ' ')" = "alert_site_one alert_site_two " ]
    check "$variant: no Python fields in a program without Python" \
        [ "$(ev '[has("pystack"),has("pystack_note")]|@tsv' | sort -u)" = "false	false" ]
    check "$variant: no notice (this torch has every symbol)" [ "$(q 'select(.type=="notice")|.message' | wc -l)" = 0 ]
done

# strict: the alert is logged (blocked), refused on stderr, then torch's own alert runs
# and, reading the flag through the shim, raises.
fresh
DETSHIM_MODE=strict run_shim "$TORCH_PROG" "$V113" query alert put_ raised > out 2> err
check "strict: getters answer deterministic, not warn-only" [ "$(head -n1 out)" = "det=1 warn=0 cudnn_det=1 bench=0" ]
check "strict: torch's own flags set to raise" [ "$(rec 'setDeterministicAlgorithms b=1 warn_only=0')" = 1 ]
check "strict: the real alert ran and saw the flag on, not warn-only" [ "$(rec 'alertNotDeterministic op=put_ -> raise')" = 1 ]
check "strict: torch raised" grep -qx "raised=1" out
check "strict: event blocked, naming put_" [ "$(ev '[.op,.action,.mode]|@tsv')" = "put_	blocked	strict" ]
check "strict: refusal on stderr names the op" grep -q "strict mode refused $C10: put_" err
check "strict: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"

# enforce, but the program itself asked torch for errors: torch raises as asked.
fresh
run_shim "$TORCH_PROG" "$V2" set-algos 1 0 query alert put_ raised > out 2> err
check "enforce + program asks for errors: not warn-only" [ "$(head -n1 out)" = "det=1 warn=0 cudnn_det=1 bench=0" ]
check "enforce + program asks for errors: torch raises" grep -qx "raised=1" out
check "enforce + program asks for errors: the program's call reached torch" [ "$(rec 'setDeterministicAlgorithms b=1 warn_only=0')" = 1 ]
check "enforce + program asks for errors: observed event says torch raises" \
    grep -q "the program asked torch to raise" <(ev 'select(.op=="put_")|.detail')
check "enforce + program asks for errors: asking is no event" [ "$(ev "select(.symbol==\"$SETALG\")|.symbol" | wc -l)" = 0 ]

# enforce: the program switching determinism off is overruled, each attempt logged.
fresh
run_shim "$TORCH_PROG" "$V2" set-algos 0 0 set-cudnn-det 0 set-bench 1 query > out 2> err
check "overrule: getters still answer deterministic" [ "$(cat out)" = "det=1 warn=1 cudnn_det=1 bench=0" ]
check "overrule: torch was never told to switch off" \
    [ "$(grep -c -x -e 'setDeterministicAlgorithms b=0.*' -e 'setDeterministicCuDNN b=0' -e 'setBenchmarkCuDNN b=1' record)" = 0 ]
check "overrule: torch's flags set on by the overruled calls" \
    [ "$(rec 'setDeterministicAlgorithms b=1 warn_only=1')$(rec 'setDeterministicCuDNN b=1')$(rec 'setBenchmarkCuDNN b=0')" = 222 ]
check "overrule: three forced events with setting, requested, value" \
    [ "$(ev '[.setting,.requested,.value,.action]|@tsv' | sort | tr '\n' '|')" = "cudnn_benchmark	true	false	forced|cudnn_deterministic	false	true	forced|deterministic_algorithms	false	true	forced|" ]
check "overrule: warn_only recorded for setDeterministicAlgorithms" [ "$(ev "select(.symbol==\"$SETALG\")|.warn_only")" = false ]
check "overrule: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"

# log: nothing changed, everything recorded.
fresh
DETSHIM_MODE=log run_shim "$TORCH_PROG" "$V113" query alert put_ set-algos 0 0 set-bench 1 query raised > out 2> err
check "log: getters answer torch's own values" [ "$(head -n1 out)" = "det=0 warn=0 cudnn_det=0 bench=0" ]
check "log: the program's switch reached torch" [ "$(sed -n 2p out)" = "det=0 warn=0 cudnn_det=0 bench=1" ]
check "log: the shim set nothing itself" [ "$(grep -c '^set' record)" = 2 ]
check "log: the alert was passed on to torch" [ "$(rec 'alertNotDeterministic op=put_ -> nothing')" = 1 ]
check "log: the alert recorded" [ "$(ev "select(.symbol==\"$C10\")|[.op,.action,.mode]|@tsv")" = "put_	observed	log" ]
check "log: switching off and benchmark on recorded as observed" \
    [ "$(ev 'select(.setting)|[.setting,.requested,.action]|@tsv' | sort | tr '\n' '|')" = "cudnn_benchmark	true	observed|deterministic_algorithms	false	observed|" ]
check "log: header has no pin" [ "$(q 'select(.type=="header")|.pins|length')" = 0 ]

# off: pure pass-through, no log.
fresh
DETSHIM_MODE=off run_shim "$TORCH_PROG" "$V113" query alert put_ > out 2> err
check "off: torch's own values" [ "$(head -n1 out)" = "det=0 warn=0 cudnn_det=0 bench=0" ]
check "off: alert reached torch" [ "$(rec 'alertNotDeterministic op=put_ -> nothing')" = 1 ]
check "off: no log" [ "$(nlogs)" = 0 ]

# the torch layer disabled: as off for torch.
fresh
DETSHIM_DISABLE=torch run_shim "$TORCH_PROG" "$V113" query alert put_ > out 2> err
check "disabled: torch's own values" [ "$(head -n1 out)" = "det=0 warn=0 cudnn_det=0 bench=0" ]
check "disabled: no torch event" [ "$(cat $(logs) /dev/null | jq -r 'select(.type=="event")|.layer' | grep -c torch)" = 0 ]

# A torch without deterministicAlgorithmsWarnOnly: that part alone is off, said once.
fresh
run_shim "$TORCH_PROG" "$NOWARN" query alert put_ query alert2 put_ raised > out 2> err
check "missing symbol: the rest works" [ "$(head -n1 out)" = "det=1 warn=-1 cudnn_det=1 bench=0" ]
check "missing symbol: alerts still logged" [ "$(ev "select(.symbol==\"$C10\")|.op" | sort -u)" = "put_" ]
check "missing symbol: exactly one notice, naming it" \
    [ "$(q 'select(.type=="notice")|.message' | grep -c '')$(q 'select(.type=="notice")|.message' | grep -c 'deterministicAlgorithmsWarnOnly.*not found in libtorch_cpu')" = 11 ]
check "missing symbol: the notice is on stderr once (enforce)" [ "$(grep -c 'deterministicAlgorithmsWarnOnly' err)" = 1 ]
check "missing symbol: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
# torch up to 2.9: its cuBLAS-config check. The shim exports no CUBLAS_WORKSPACE_CONFIG; while
# the cublas layer is active the check answers deterministic and the alert stays silent.
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_CONFIG
for m in enforce strict; do
    fresh
    DETSHIM_MODE=$m run_shim "$TORCH_PROG" "$V113" query gemm gemm raised > out 2> err
    check "cuBLAS config, $m: torch does not raise at cuBLAS routines" grep -qx "raised=0" out
    check "cuBLAS config, $m: the alert never reached torch" [ "$(grep -c '^alertCuBLASConfig' record)" = 0 ]
    check "cuBLAS config, $m: no CUBLAS_WORKSPACE_CONFIG was needed" \
        [ -z "$(q 'select(.type=="header")|.pins[]|select(.var=="CUBLAS_WORKSPACE_CONFIG")|.var')" ]
done
fresh
run_shim "$TORCH_PROG" "$V2" set-algos 1 0 gemm raised > out 2> err
check "cuBLAS config, enforce + program asks for errors: still no raise" grep -qx "raised=0" out
fresh
DETSHIM_DISABLE=cublas DETSHIM_MODE=strict run_shim "$TORCH_PROG" "$V113" gemm raised > out 2> err
check "cuBLAS config, cublas layer disabled: torch decides (and raises: no config)" \
    [ "$(rec 'alertCuBLASConfigNotDeterministic -> raise')$(grep -x 'raised=.*' out)" = "1raised=1" ]
fresh
DETSHIM_DISABLE=cublas DETSHIM_CUBLAS_WORKSPACE_CONFIG=1 DETSHIM_MODE=strict run_shim "$TORCH_PROG" "$V113" gemm raised > out 2> err
check "cuBLAS config, cublas disabled: the pin is off with its layer, torch raises" grep -qx "raised=1" out
fresh
DETSHIM_DISABLE=cublas CUBLAS_WORKSPACE_CONFIG=:16:8 DETSHIM_MODE=strict run_shim "$TORCH_PROG" "$V113" gemm raised > out 2> err
check "cuBLAS config, cublas disabled, a user's :16:8: torch's own check passes" \
    [ "$(rec 'checkCuBLASConfigDeterministic -> 1')$(grep -x 'raised=.*' out)" = "1raised=0" ]
fresh
DETSHIM_MODE=log run_shim "$TORCH_PROG" "$V113" set-algos 1 0 gemm raised > out 2> err
check "cuBLAS config, log: torch decides as it would without the shim" \
    [ "$(rec 'alertCuBLASConfigNotDeterministic -> raise')$(grep -x 'raised=.*' out)" = "1raised=1" ]
finish
