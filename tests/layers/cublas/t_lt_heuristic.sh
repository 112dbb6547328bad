#!/bin/bash
# cublasLtMatmulAlgoGetHeuristic. The fake heuristic answers algo 1 when every alignment
# preference is >= 256 and algo 2 otherwise, and for k >= 1024 splits K with the first
# reduction scheme the mask allows (INPLACE=1, COMPUTE_TYPE=2, OUTPUT_TYPE=4). lt_prog
# passes the buffers' real alignments, as PyTorch does: offset 0 is 256-aligned.
. "$(dirname "$0")/../../preload/lib.sh"
unset DETSHIM_CUBLASLT_ALIGNMENT DETSHIM_CUBLASLT_REDUCTION FAKE_CUBLASLT_NEED_ALIGN LT_MASK
heur() { sed -n 's/^heur //p' out | tr '\n' ';'; }
seen() { sed -n 's/^cublasLtMatmulAlgoGetHeuristic pref=[^ ]* \(align=[^ ]* mask=[0-9]*\) .*/\1/p' record | tr '\n' ';'; }
ev() { q "select(.type==\"event\" and .symbol==\"cublasLtMatmulAlgoGetHeuristic\")|$1"; }
prog_prefs() { sed -n 's/^cublasLtMatmulPreferenceCreate pref=//p' record | sort -u; }
heur_prefs() { sed -n 's/^cublasLtMatmulAlgoGetHeuristic pref=\([^ ]*\) .*/\1/p' record | sort -u; }

for mode in enforce strict; do
    DETSHIM_MODE=$mode run_shim "$CPROGS/lt_prog" heur 4096 0 16 > out 2> err
    check "$mode: the same algorithm for 256-aligned and 16-offset buffers" \
        [ "$(heur)" = "status=0 count=1 id=2 splitk=4 reduction=2;status=0 count=1 id=2 splitk=4 reduction=2;" ]
    check "$mode: the heuristic saw alignments normalised to 16 and the mask without INPLACE" \
        [ "$(seen)" = "align=16,16,16,16 mask=6;align=16,16,16,16 mask=6;" ]
    check "$mode: the program's preference objects are unchanged" \
        [ "$(sed -n 's/^pref //p' out | tr '\n' ';')" = "align=256,256,256,256 mask=7;align=16,16,16,16 mask=7;" ]
    check "$mode: the heuristic was asked with the shim's own preference, one made for the thread" \
        [ "$(heur_prefs | wc -l)" -eq 1 -a "$(grep -c '^cublasLtMatmulPreferenceCreate' record)" -eq 3 ]
    check "$mode: that preference is not the program's" \
        bash -c "! grep -q 'cublasLtMatmulPreferenceDestroy pref=$(heur_prefs)' '$T/record'"
    check "$mode: cublasLtMatmul ran the chosen algo" \
        [ "$(grep -c '^cublasLtMatmul algo=given id=2 splitk=4 reduction=2 ' record)" -eq 2 ]
    check "$mode: one forced event for the new problem" [ "$(ev .action | tr '\n' ' ')" = "forced " ]
    check "$mode: it records the algorithm" [ "$(ev '[.algo.id,.algo.tile,.algo.splitk,.algo.reduction]|@tsv')" = "2	20	4	COMPUTE_TYPE" ]
    check "$mode: it records requested and used preferences" \
        [ "$(ev '[(.preference.requested.alignment|map(tostring)|join(",")),.preference.requested.reduction_mask,(.preference.used.alignment|map(tostring)|join(",")),.preference.used.reduction_mask]|@tsv')" = "256,256,256,256	7	16,16,16,16	6" ]
    check "$mode: it records the signature (types, shapes)" \
        [ "$(ev '[.signature.compute_type,.signature.A.rows,.signature.A.cols,.signature.B.rows,.signature.D.ld,.signature.max_workspace]|@tsv')" = "68	64	4096	4096	64	1048576" ]
    check "$mode: its stack starts in heuristic_here" [ "$(ev '.stack[0].function')" = "heuristic_here" ]
    check "$mode: nothing on stderr" [ ! -s err ]
    check "$mode: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
    fresh
done

DETSHIM_MODE=log run_shim "$CPROGS/lt_prog" heur 4096 0 16 > out 2> err
check "log: the algorithm depends on the address (1, then 2), INPLACE split-K" \
    [ "$(heur)" = "status=0 count=1 id=1 splitk=4 reduction=1;status=0 count=1 id=2 splitk=4 reduction=1;" ]
check "log: the heuristic saw the program's preferences" \
    [ "$(seen)" = "align=256,256,256,256 mask=7;align=16,16,16,16 mask=7;" ]
check "log: no preference of the shim's" [ "$(grep -c '^cublasLtMatmulPreferenceCreate' record)" -eq 2 ]
check "log: an observed event for the new problem, then one for the changed algorithm" \
    [ "$(ev '[.action,.algo.id,(.previous_algo.id//"-")]|@tsv' | tr '\n' ';')" = "observed	1	-;observed	2	1;" ]
check "log: both events are about the same signature" [ "$(ev .signature_id | sort -u | wc -l)" -eq 1 ]
check "log: the second says the results may differ" grep -q "got algo 2 .* where it got algo 1 .* may differ bitwise" <(ev .detail)
check "log: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
fresh
DETSHIM_MODE=off run_shim "$CPROGS/lt_prog" heur 4096 0 16 > out 2> err
check "off: passed through (1, then 2)" [ "$(sed -n 's/^heur .* id=\([0-9]\) .*/\1/p' out | tr '\n' ' ')" = "1 2 " ]
check "off: no log" [ "$(nlogs)" -eq 0 ]
fresh

# alignments below the normalised value
DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 64 4 8 2 > out 2> err
check "below 16: the element size (4 for float) when the data has it, else the caller's" \
    [ "$(seen)" = "align=4,4,4,4 mask=6;align=4,4,4,4 mask=6;align=2,2,2,2 mask=6;" ]
fresh
DETSHIM_CUBLASLT_ALIGNMENT=256 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 64 0 16 > out 2> err
check "DETSHIM_CUBLASLT_ALIGNMENT=256: 256 stays, 16 becomes the element size" \
    [ "$(seen)" = "align=256,256,256,256 mask=6;align=4,4,4,4 mask=6;" ]
check "... so the choice wanders, and enforce records it as observed" \
    [ "$(ev '[.action,.algo.id,(.previous_algo.id//"-")]|@tsv' | tr '\n' ';')" = "forced	1	-;observed	2	1;" ]
fresh
DETSHIM_CUBLASLT_ALIGNMENT=256 DETSHIM_MODE=strict run_shim "$CPROGS/lt_prog" heur 64 0 16 > out 2> err
check "... and strict refuses the changed one" \
    [ "$(sed -n 's/^heur \(status=[0-9]*\) .*/\1/p' out | tr '\n' ' ')" = "status=0 status=15 " ]
check "... with a blocked event and a message" \
    [ "$(ev .action | tr '\n' ' ')" = "forced blocked " -a "$(grep -c 'strict mode refused cublasLtMatmulAlgoGetHeuristic' err)" -eq 1 ]
fresh

# reduction schemes
for r in "none 0 0 1" "all 7 1 4" "noinplace 6 2 4" "4 4 4 4" "0x2 2 2 4"; do
    set -- $r
    DETSHIM_CUBLASLT_REDUCTION=$1 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 4096 0 > out 2> err
    check "DETSHIM_CUBLASLT_REDUCTION=$1: mask $2, reduction $3" \
        [ "$(seen)" = "align=16,16,16,16 mask=$2;" -a "$(sed -n 's/^heur .* splitk=\([0-9]*\) reduction=\([0-9]*\)/\1 \2/p' out)" = "$4 $3" ]
    fresh
done
LT_MASK=1 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 4096 0 > out 2> err
check "a caller allowing INPLACE only gets no split-K (mask 1 AND 6 = 0)" \
    [ "$(seen)" = "align=16,16,16,16 mask=0;" -a "$(sed -n 's/^heur .* reduction=//p' out)" = "0" ]
fresh
DETSHIM_CUBLASLT_REDUCTION=sometimes DETSHIM_CUBLASLT_ALIGNMENT=24 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 4096 0 > out 2> err
check "bad DETSHIM_CUBLASLT_REDUCTION: one message" \
    [ "$(grep -c "DETSHIM_CUBLASLT_REDUCTION='sometimes' is not valid; accepted values: noinplace, none, all, or a mask from 0 to 7" err)" -eq 1 ]
check "bad DETSHIM_CUBLASLT_ALIGNMENT: one message" \
    [ "$(grep -c "DETSHIM_CUBLASLT_ALIGNMENT='24' is not valid; accepted values: a power of two from 1 to 256 (bytes); using 16" err)" -eq 1 ]
check "bad values: the defaults are used" [ "$(seen)" = "align=16,16,16,16 mask=6;" ]
check "the header records both variables" \
    [ "$(q 'select(.type=="header")|[.env.DETSHIM_CUBLASLT_REDUCTION,.env.DETSHIM_CUBLASLT_ALIGNMENT]|@tsv')" = "sometimes	24" ]
fresh

# the heuristic finds nothing with the normalised preferences
FAKE_CUBLASLT_NEED_ALIGN=256 DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" heur 64 0 > out 2> err
check "nothing found, enforce: the caller's preferences are used" \
    [ "$(seen)" = "align=16,16,16,16 mask=6;align=256,256,256,256 mask=7;" -a "$(heur)" = "status=0 count=1 id=1 splitk=1 reduction=0;" ]
check "nothing found, enforce: an observed event" [ "$(ev .action)" = "observed" ]
fresh
FAKE_CUBLASLT_NEED_ALIGN=256 DETSHIM_MODE=strict run_shim "$CPROGS/lt_prog" heur 64 0 > out 2> err
check "nothing found, strict: refused (NOT_SUPPORTED, no algorithm)" [ "$(heur)" = "status=15 count=0 id=-1 splitk=-1 reduction=99;" ]
check "nothing found, strict: a blocked event and a message" \
    [ "$(ev .action)" = "blocked" -a "$(grep -c 'strict mode refused cublasLtMatmulAlgoGetHeuristic' err)" -eq 1 ]
fresh

# cuBLAS asking cuBLASLt from inside libcublas: passed through
DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" internal 4096 0 16 > out 2> err
check "from inside libcublas: the heuristic saw the caller's preferences" \
    [ "$(seen)" = "align=256,256,256,256 mask=7;align=16,16,16,16 mask=7;" ]
check "from inside libcublas: the call really came from there" [ "$(grep -c '^fake_cublas_internal_heuristic status=0' record)" -eq 2 ]
check "from inside libcublas: no event" [ -z "$(ev .action)" ]
check "from inside libcublas: one notice naming libcublas" \
    [ "$(q 'select(.type=="notice" and .layer=="cublaslt")|.message' | grep -c 'libcublas.so.13 calls cuBLASLt itself')" -eq 1 ]
fresh

# threads: one preference of the shim's per thread, destroyed when the thread ends
DETSHIM_MODE=enforce run_shim "$CPROGS/lt_prog" threads 8 > out 2> err
check "threads: ran" grep -qx "threads done" out
check "threads: 80 program preferences + 8 of the shim's" [ "$(grep -c '^cublasLtMatmulPreferenceCreate' record)" -eq 88 ]
check "threads: all destroyed" [ "$(grep -c '^cublasLtMatmulPreferenceDestroy' record)" -eq 88 ]
check "threads: every call saw the normalised preferences" \
    [ "$(grep -c '^cublasLtMatmulAlgoGetHeuristic .* align=16,16,16,16 mask=6 ' record)" -eq 80 ]
check "threads: 8 problems, no changed algorithm" [ "$(ev .action | sort | uniq -c | tr -s ' ')" = " 8 forced" ]
check "threads: valid log" "$PYTHON" "$LOGCHECK" "$(onelog)"
finish
