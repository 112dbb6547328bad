#!/bin/bash
# Every hook of hooks.def that the real libraries export is found by the shim's resolution,
# in a library that exports it, with the libraries opened RTLD_LOCAL (as torch and
# TensorFlow open them); every cuBLAS, cuBLASLt, runtime and cuDNN hook is exported by the
# real library (a renamed or dropped entry point would show here first).
. "$(dirname "$0")/lib_real.sh"
for f in "$CUDA_LIB"/libcudart.so.13 "$CUDA_LIB"/libcublas.so.13 "$CUDA_LIB"/libcublasLt.so.13 \
         "$CUDA_LIB"/libcudnn*.so.9 "$CUDA_LIB"/libnccl.so.2; do
    [ -e "$f" ] || continue
    nm -D --defined-only "$f" | awk -v o="${f##*/}" '{n = $3; sub(/@.*/, "", n); print n, o}'
done | sort -u > exported
"$RPROGS/real_resolve" > resolved 2> err
check "resolution ran over the whole table" [ "$(wc -l < resolved)" -eq "$("$PROGS/hooklist" | wc -l)" ]
"$PROGS/hooklist" | awk '$3 ~ /^lib(cudart|cublas|cublasLt|cudnn)$/ {print $1}' | sort > vendor_hooks
cut -d' ' -f1 exported | sort -u > exported_names
missing=$(comm -23 vendor_hooks exported_names)
check "every runtime/cuBLAS/cuBLASLt/cuDNN hook is exported by the real libraries${missing:+ (missing: $(echo $missing))}" [ -z "$missing" ]
bad=""
n=0
while read -r name obj; do
    exporters=$(awk -v n="$name" '$1 == n {print $2}' exported)
    if [ -n "$exporters" ]; then
        n=$((n + 1))
        grep -qxF -- "$obj" <<<"$exporters" || bad="$bad $name($obj)"
    fi
done < resolved
check "each of the $n exported hooks resolved into a library that exports it${bad:+ (not:$bad)}" [ -z "$bad" ]
check "at least the vendor hooks were resolved" [ "$n" -ge "$(wc -l < vendor_hooks)" ]
check "nothing was resolved into the shim itself" bash -c "! awk '{print \$2}' resolved | grep -q detshim"
finish
