#!/bin/bash
# Naming: without cudaFuncGetName / cuFuncGetName (runtimes and drivers before 12.3) names
# come from __cudaRegisterFunction, __cudaGetKernel and cuModuleGetFunction; with
# libstdc++ loaded, names are demangled for people (mangled kept, and both matched).
. "$(dirname "$0")/lib_kernels.sh"
LD_LIBRARY_PATH="$FAKES_NONAMES:$LD_LIBRARY_PATH" DETSHIM_MODE=log run_shim "$PROGS/kprog" all > out 2> err
check "the fakes without naming functions were used" \
    [ "$(q 'select(.type=="header")|.libraries[]|select(.name=="libcudart.so.13")|.realpath')" = "$(readlink -f "$FAKES_NONAMES/libcudart.so.13")" ]
check "... they really lack them" bash -c "! nm -D '$FAKES_NONAMES/libcudart.so.13' '$FAKES_NONAMES/libcuda.so.1' | grep -q FuncGetName"
check "registration names: every flagged launch recorded" diff <(expected_events "$K_INDEX" "$K_FORCE") <(kernel_events)
check "registration names: the fake ran everything" [ "$(launched "$K_INDEX")" -eq $((NENTRIES * 2)) ]
check "registration names: clean kernels never recorded" [ "$(grep -c -e "$K_AXPY" -e "$K_FILL" "$(onelog)")" -eq 0 ]
fresh
KPROG_CXX=1 DETSHIM_MODE=log run_shim "$PROGS/kprog" all > out 2> err
E='select(.type=="event" and .symbol=="__cudaLaunchKernel" and .kernel_mangled=="'"$K_INDEX"'")'
check "demangled for people" \
    [ "$(q "$E|.kernel|startswith(\"void at::native::indexFuncLargeIndex<double, long, unsigned int, 2, 2, -2, true, at::native::(anonymous namespace)::ReduceAdd>(\")")" = "true" ]
check "the detail uses the demangled name" [ "$(q "$E|.detail|startswith(\"nondeterministic kernel void at::native::indexFuncLargeIndex<double\")")" = "true" ]
check "an unmangled name stays as it is" \
    [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_FORCE"'")|.kernel' | sort -u)" = "void force_deriv_wrt_neighbors_a<double>(double*, double const*, double const*, int const*, int, int, int)" ]
fresh
KPROG_CXX=1 DETSHIM_MODE=log DETSHIM_DENY='void clean_axpy<double>(*' run_shim "$PROGS/kprog" all > out 2> err
check "a pattern for the demangled name matches" [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_AXPY"'")' | jq -s length)" -eq "$NENTRIES" ]
fresh
DETSHIM_MODE=log DETSHIM_DENY='void clean_axpy<double>(*' run_shim "$PROGS/kprog" all > out 2> err
[ -n "$CXX_ALWAYS" ] || check "... and cannot without a demangler" [ "$(q 'select(.type=="event" and .kernel_mangled=="'"$K_AXPY"'")' | jq -s length)" -eq 0 ]
fresh
DETSHIM_MODE=log run_shim "$PROGS/kprog" unknown > out 2> err
check "an unnamed kernel: the launch goes through to the runtime" grep -qx "cudaLaunchKernel unknown status=98" out
check "an unnamed kernel: one notice, no event" \
    [ "$(q 'select(.type=="notice")|.message|select(test("could not be named"))' | wc -l) $(q 'select(.type=="event" and .kernel_mangled=="?")' | wc -l)" = "1 0" ]
check "the next launch is still classified" [ "$(q 'select(.type=="event")|.kernel_mangled')" = "$K_INDEX" ]
finish
