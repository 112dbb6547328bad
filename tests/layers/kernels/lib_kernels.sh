# lib_kernels.sh: what the kernels-layer tests share, on top of tests/preload/lib.sh.
. "$(dirname "$0")/../../preload/lib.sh"
unset DETSHIM_KERNELS DETSHIM_ALLOW DETSHIM_DENY KPROG_CXX
K_INDEX=_ZN2at6native19indexFuncLargeIndexIdljLi2ELi2ELin2ELb1ENS0_43_GLOBAL__N__26b3f186_7_Indexing_cu_8d0f5a2d9ReduceAddEEEvNS_4cuda6detail10TensorInfoIT_T1_EENS6_IKS7_S8_EENS6_IKT0_S8_EEiiS8_S8_llT6_S7_
K_FORCE=_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii
K_AXPY=_Z10clean_axpyIdEvPT_PKS0_S0_i
K_FILL=fill_zero
K_REDUCE=_Z12clean_reducePd
# Every entry point kprog launches through, with the symbol and the getter ("-": none) the
# log must name for a launch made there.
ENTRIES="via___cudaLaunchKernel __cudaLaunchKernel -
via___cudaLaunchKernel_ptsz __cudaLaunchKernel_ptsz -
via_cudaLaunchKernel cudaLaunchKernel -
via_cudaLaunchKernel_ptsz cudaLaunchKernel_ptsz -
via_cudaLaunchKernelExC cudaLaunchKernelExC -
via_cudaLaunchKernelExC_ptsz cudaLaunchKernelExC_ptsz -
via_cudaLaunchCooperativeKernel cudaLaunchCooperativeKernel -
via_cudaLaunchCooperativeKernel_ptsz cudaLaunchCooperativeKernel_ptsz -
via_cuLaunchKernel cuLaunchKernel -
via_cuLaunchKernel_ptsz cuLaunchKernel_ptsz -
via_cuLaunchKernelEx cuLaunchKernelEx -
via_cuLaunchKernelEx_ptsz cuLaunchKernelEx_ptsz -
via_cuLaunchCooperativeKernel cuLaunchCooperativeKernel -
via_cuLaunchCooperativeKernel_ptsz cuLaunchCooperativeKernel_ptsz -
via_ptr_cuGetProcAddress_v2 cuLaunchKernel cuGetProcAddress_v2
via_ptr_cuGetProcAddress_v2_ptsz cuLaunchKernel_ptsz cuGetProcAddress_v2
via_ptr_cuGetProcAddress_v2_Ex cuLaunchKernelEx cuGetProcAddress_v2
via_ptr_cuGetProcAddress_v2_Coop cuLaunchCooperativeKernel cuGetProcAddress_v2
via_ptr_cuGetProcAddress cuLaunchKernel cuGetProcAddress
via_ptr_self cuLaunchKernel cuGetProcAddress_v2
via_ptr_cudaGetDriverEntryPoint cuLaunchKernel cudaGetDriverEntryPoint
via_ptr_cudaGetDriverEntryPoint_ptsz cuLaunchKernel_ptsz cudaGetDriverEntryPoint_ptsz
via_ptr_cudaGetDriverEntryPointByVersion cuLaunchKernel cudaGetDriverEntryPointByVersion
via_ptr_cudaGetDriverEntryPointByVersion_ptsz cuLaunchKernel_ptsz cudaGetDriverEntryPointByVersion_ptsz"
NENTRIES=$(echo "$ENTRIES" | wc -l)
# expected_events KERNEL...: "function symbol via kernel" lines, sorted
expected_events() {
    for k in "$@"; do echo "$ENTRIES" | while read -r fn sym via; do echo "$fn $sym $via $k"; done; done | sort
}
# the kernels events of a log as "function symbol via kernel_mangled", sorted
kernel_events() {
    q 'select(.type=="event" and .layer=="kernels")|"\(.stack[0].function) \(.symbol) \(.via // "-") \(.kernel_mangled)"' "${1:-$(onelog)}" | sort
}
# launches the fake libraries really ran, of one kernel
launched() { grep -c "^launch $1 " "$T/record"; }
# Sanitizer runtimes bring libstdc++ into every program: the shim can then always demangle.
if ldd "$PROGS/kprog" 2>/dev/null | grep -q 'libstdc++'; then CXX_ALWAYS=1; else CXX_ALWAYS=; fi
# has FILTER REGEX: some line of the jq query's output matches (grep -E)
has() { q "$1" | grep -qE -- "$2"; }
