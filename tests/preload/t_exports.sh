#!/bin/bash
# The library exports exactly the hook table (plus its copy marker, and dlsym/dlvsym on
# x86-64) and needs no CUDA library: everything vendor is resolved at run time.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "checks the release artefact itself (exports, inertness in uninstrumented programs)"
"$PROGS/hooklist" | cut -d' ' -f1 | sort > want
echo detshim_abi_marker >> want
# shim/hooks/dlsym.c: dlsym and dlvsym under glibc's versions (and the version nodes)
[ "$(uname -m)" = x86_64 ] && printf "%s\n" GLIBC_2.2.5 GLIBC_2.34 dlsym@@GLIBC_2.34 dlsym@GLIBC_2.2.5 dlvsym@@GLIBC_2.34 dlvsym@GLIBC_2.2.5 >> want
sort -o want want
nm -D --defined-only "$SHIM" | awk '{print $3}' | sort > have
check "exported symbols == hooks.def" diff want have
check "hook table is not empty" [ "$(wc -l < want)" -gt 1 ]
needed=$(readelf -d "$SHIM" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p')
check "no DT_NEEDED on a CUDA library" bash -c "! echo '$needed' | grep -Eq 'cuda|cublas|cudnn|nccl|cudart'"
check "DT_NEEDED only libc/libdl/libpthread/libunwind" bash -c "echo '$needed' | grep -Evq '^(libc|libdl|libpthread|libunwind)\.so' && exit 1 || exit 0"
# The hot hooks' assembly fronts (x86-64): each saves registers, calls its gate once and jumps;
# the gates call nothing (they may keep argument registers for the fronts: shim/hooks/gates.c).
if [ "$(uname -m)" = x86_64 ] && command -v objdump >/dev/null; then
    objdump -d --no-show-raw-insn "$SHIM" > dis
    body() { awk -v f="<$1>:" '$2 == f {p = 1; next} p && /^$/ {exit} p' dis; }
    for g in ds_fast_launch_rt_gate ds_fast_launch_drv_gate ds_fast_cublas_gemm_gate ds_tgate; do
        check "gate $g exists and makes no call" bash -c "[ -n \"\$(awk -v f='<$g>:' '\$2 == f' '$T/dis')\" ] && ! awk -v f='<$g>:' '\$2 == f {p = 1; next} p && /^\$/ {exit} p' '$T/dis' | grep -qw call"
    done
    for f in cudaLaunchKernel __cudaLaunchKernel cuLaunchKernel cuLaunchKernelEx cublasSgemm_v2 cublasGemmStridedBatchedEx_64; do
        b=$(body "$f")
        check "front $f: one call, to its gate, then a jump to what it returned" \
            bash -c "[ \"\$(grep -cw call <<<'$b')\" = 1 ] && grep -qE 'call .*_gate>' <<<'$b' && grep -qE 'jmp +\*%rax' <<<'$b'"
    done
fi
finish
