#!/bin/bash
# The library exports exactly the hook table (plus its copy marker) and needs no CUDA
# library: everything vendor is resolved at run time.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "checks the release artefact itself (exports, inertness in uninstrumented programs)"
"$PROGS/hooklist" | cut -d' ' -f1 | sort > want
echo detshim_abi_marker >> want
sort -o want want
nm -D --defined-only "$SHIM" | awk '{print $3}' | sort > have
check "exported symbols == hooks.def" diff want have
check "hook table is not empty" [ "$(wc -l < want)" -gt 1 ]
needed=$(readelf -d "$SHIM" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p')
check "no DT_NEEDED on a CUDA library" bash -c "! echo '$needed' | grep -Eq 'cuda|cublas|cudnn|nccl|cudart'"
check "DT_NEEDED only libc/libdl/libpthread/libunwind" bash -c "echo '$needed' | grep -Evq '^(libc|libdl|libpthread|libunwind)\.so' && exit 1 || exit 0"
finish
