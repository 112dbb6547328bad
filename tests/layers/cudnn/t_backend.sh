#!/bin/bash
# The backend (graph) API, called the way torch does: heuristics count query, fetch,
# then finalise candidates in order until one succeeds, and execute it. Fake engines:
# 0 {TENSOR_CORE,NONDETERMINISTIC} 1 {NONDETERMINISTIC} 2 {} 3 {TENSOR_CORE}
# 4 {NONDETERMINISTIC,REDUCED_PRECISION_REDUCTION} 5 {} 6 {TENSOR_CORE};
# heuristics A: 1 3 0 2 4 5, B: 4 1, FALLBACK: 6 2.
. "$(dirname "$0")/lib_cudnn.sh"
G=cudnnBackendGetAttribute
FIN=cudnnBackendFinalize
EX=cudnnBackendExecute
A=3 B=1 FALLBACK=2 # cudnnBackendHeurMode_t

no_refill() { ! grep -q refilled-or-bad-descriptor record; }

# ---- off: the vendor's list; the nondeterministic first choice runs
run off torch $A
check "off: caller sees all 6 results" has "heur_fetch status=0 returned=6 engines=1,3,0,2,4,5"
check "off: engine 1 finalised and executed" recorded "$EX engine=1"
check "off: no log events" is "$(nev)" 0
check "off: no descriptor leaked" has "live=0"

# ---- log: unchanged, everything recorded
run log torch $A
check "log: caller sees all 6 results" has "heur_count status=0 count=6"
check "log: same list" has "heur_fetch status=0 returned=6 engines=1,3,0,2,4,5"
check "log: nondeterministic engine 1 finalised" has "finalize engine=1 status=0"
check "log: and executed by the fake, twice" is "$(nrec "^$EX engine=1$")" 2
check "log: heuristics event names the nondeterministic engines and the first choice" \
    is "$(ev $G '[.action,.offered,.nondeterministic,.returned,.stack[0].function]')" \
    '["observed",[1,3,0,2,4,5],[1,0,4],[1,3,0,2,4,5],"torch_like_conv"]'
check "log: heuristics detail" \
    is "$(ev $G .detail)" '"engine heuristics offered nondeterministic engines 1,0,4 among 6; the first choice, engine 1, is nondeterministic"'
check "log: finalisation recorded with engine and notes" \
    is "$(ev $FIN '[.action,.engine,.notes,.stack[0].function]')" '["observed",1,[4],"torch_like_conv"]'
check "log: execution recorded once, at its call site" \
    is "$(ev $EX '[.action,.engine,.count,.stack[0].function]')" '["observed",1,1,"run_plan"]'
check "log: the summary counts both executions at that site" \
    is "$(q 'select(.type=="summary")|.sites[]|select(.symbol=="cudnnBackendExecute")|.count')" 2
check "log: no descriptor leaked (the shim's probes included)" has "live=0"
check "log: valid log" valid

# ---- enforce: nondeterministic engines hidden from heuristics
run enforce torch $A
check "enforce: count query reports the deterministic results only" has "heur_count status=0 count=3"
check "enforce: the fetch returns them in the vendor's order" has "heur_fetch status=0 returned=3 engines=3,2,5"
check "enforce: the first deterministic engine finalised" has "finalize engine=3 status=0"
check "enforce: and ran" is "$(nrec "^$EX engine=3$")" 2
check "enforce: no nondeterministic engine ran" is "$(nrec "^$EX engine=(0|1|4)$")" 0
check "enforce: the caller's engine configs were each filled once" no_refill
check "enforce: forced event on the fetch" \
    is "$(ev $G '[.action,.results,.requested,.nondeterministic,.returned,.stack[0].function]')" \
    '["forced",6,3,[1,0,4],[3,2,5],"torch_like_conv"]'
check "enforce: no descriptor leaked" has "live=0"
check "enforce: valid log" valid

run enforce torch $A 2
check "enforce: asking for 2 gives the first 2 deterministic" has "heur_fetch status=0 returned=2 engines=3,2"
check "enforce: read through a 4-long array (results 0..3), nothing more" is "$(nrec "^$G RESULTS requested=4 returned=4$")" 1
check "enforce: 2 requested: each engine config filled once" no_refill
check "enforce: 2 requested: no leak" has "live=0"

run enforce torch $FALLBACK
check "enforce: an all-deterministic list passes untouched" has "heur_fetch status=0 returned=2 engines=6,2"
check "enforce: and leaves no heuristics event" is "$(nev $G)" 0

run enforce torch $B
check "enforce: only nondeterministic engines: none reported" has "heur_count status=0 count=0"
check "enforce: nothing finalised" is "$(nrec "^$FIN ")" 0
check "enforce: forced event on the count query" is "$(ev $G '[.action,.nondeterministic]')" '["forced",[4,1]]'

# plans on engines chosen directly (by global index): refused at finalisation
run enforce plan 1,0,2
check "enforce: plan on engine 1 refused with NOT_SUPPORTED" has "finalize engine=1 status=3000"
check "enforce: plan on engine 0 refused" has "finalize engine=0 status=3000"
check "enforce: the caller moved on to engine 2" has "finalize engine=2 status=0"
check "enforce: the refused plans never reached the fake" is "$(nrec "^$FIN plan engine=(0|1)$")" 0
check "enforce: engine 2 ran" is "$(nrec "^$EX engine=2$")" 2
check "enforce: forced events for 1 and 0, with notes" \
    is "$(ev $FIN '[.action,.engine,.notes,.stack[0].function]' | tr -d '\n')" \
    '["forced",1,[4],"manual_plan"]["forced",0,[0,4],"manual_plan"]'
check "enforce: plan: no leak" has "live=0"

# a deserialised plan: its engine is known only after finalisation
run enforce json 4
check "enforce: deserialised plan on engine 4 refused after the vendor finalised it" has "finalize engine=4 status=3000"
check "enforce: it was finalised by the fake" recorded "$FIN plan engine=4"
check "enforce: never executed" is "$(nrec "^$EX ")" 0
check "enforce: forced event" is "$(ev $FIN '[.action,.engine,.stack[0].function]')" '["forced",4,"json_plan"]'
run enforce json 3
check "enforce: deserialised plan on deterministic engine 3 runs" is "$(nrec "^$EX engine=3$")" 2
check "enforce: no event for it" is "$(nev)" 0
run log json 4
check "log: deserialised nondeterministic plan finalised and recorded" \
    is "$(ev $FIN '[.action,.engine]')" '["observed",4]'
check "log: and its executions" is "$(ev $EX '[.action,.engine,.stack[0].function]')" '["observed",4,"run_plan"]'

# cuDNN's own use of the backend (a legacy call built on it) is left alone. The real cuDNN 9
# sub-libraries do not reach the backend through the dynamic linker (no undefined
# cudnnBackend* symbol in any of them), and neither does the fake by default: the shim
# never sees those calls.
backend_calls() { [ -z "$(logs)" ] && echo 0 || jq -s '[.[]|select(.type=="summary")|.calls|to_entries[]|select(.key|startswith("cudnnBackend"))|.value]|add // 0' "$(onelog)"; }
run enforce internal
check "enforce: cuDNN's internal plan on engine 1 is not refused" has "internal status=0"
check "enforce: it ran" recorded "cudnnConvolutionForward internal-plan status=0"
check "enforce: no event for it" is "$(nev)" 0
check "enforce: the shim saw none of its backend calls" is "$(backend_calls)" 0
run log internal
check "log: no event for cuDNN's internal plan" is "$(nev)" 0
# A library that does call the backend through the dynamic linker from inside libcudnn*:
# the shim sees the calls and lets them through (the "called from cuDNN" check).
export FAKE_CUDNN_INTERNAL_VIA_LINKER=1
run enforce internal
check "via the linker, enforce: the shim saw the backend calls" is "$(backend_calls)" 13
check "via the linker, enforce: the internal plan is not refused" has "internal status=0"
check "via the linker, enforce: no event" is "$(nev)" 0
run log internal
check "via the linker, log: no event" is "$(nev)" 0
run strict internal
check "via the linker, strict: not refused" has "internal status=0"
unset FAKE_CUDNN_INTERNAL_VIA_LINKER

# the plan table under contention: 8 threads build, refuse, finalise, run and destroy
run enforce threads 8 50
check "threads: every plan on engine 1 refused" is "$(grep -c 'finalize engine=1 status=3000' out)" 400
check "threads: every plan on engine 2 finalised" is "$(grep -c 'finalize engine=2 status=0' out)" 400
check "threads: engine 2 ran 800 times, engine 1 never" is "$(nrec "^$EX engine=2$") $(nrec "^$EX engine=1$")" "800 0"
check "threads: one call site, counted 400 times" \
    is "$(q 'select(.type=="summary")|[.sites[]|select(.symbol=="cudnnBackendFinalize")|.count]|@tsv')" 400
check "threads: no descriptor leaked" has "live=0"
check "threads: valid log" valid

# ---- strict
run strict torch $A
check "strict: heuristics filtered as in enforce" has "heur_fetch status=0 returned=3 engines=3,2,5"
check "strict: deterministic engine ran" is "$(nrec "^$EX engine=3$")" 2
run strict torch $B
check "strict: only nondeterministic engines: the query fails with NOT_SUPPORTED" has "heur_count status=3000 count=0"
check "strict: blocked event" is "$(ev $G '[.action,.nondeterministic]')" '["blocked",[4,1]]'
check "strict: stderr explains" grep -q "strict mode refused $G" err
run strict plan 1,2
check "strict: plan on engine 1 refused" has "finalize engine=1 status=3000"
check "strict: the caller moved on" has "finalize engine=2 status=0"
check "strict: blocked event" is "$(ev $FIN '[.action,.engine]')" '["blocked",1]'
check "strict: stderr explains" grep -q "strict mode refused $FIN" err
check "strict: valid log" valid
run strict internal
check "strict: cuDNN's internal plan is not refused" has "internal status=0"
finish
