# lib_real.sh: what the real-library tests share, on top of tests/preload/lib.sh. They run
# against the REAL CUDA 13 libraries (no GPU needed: their setup and descriptor calls work
# without one) in $CUDA_LIB, else the first of $CUDA_PATH/lib{,64}, /usr/local/cuda/lib{,64}
# that holds them, and skip (exit 77) when none does.
. "$(dirname "$0")/../preload/lib.sh"
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH#$FAKES:}"  # never the fakes here
[ "$LD_LIBRARY_PATH" = "$FAKES" ] && unset LD_LIBRARY_PATH
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_ALLOW DETSHIM_DENY DETSHIM_KERNELS
REAL_LIBS="libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9"
has_real() { for l in $REAL_LIBS; do [ -e "$1/$l" ] || return 1; done; }
if [ -z "${CUDA_LIB:-}" ]; then
    for d in ${CUDA_PATH:+$CUDA_PATH/lib $CUDA_PATH/lib64} /usr/local/cuda/lib /usr/local/cuda/lib64; do
        if has_real "$d"; then CUDA_LIB=$d; break; fi
    done
fi
if [ -z "${CUDA_LIB:-}" ] || ! has_real "$CUDA_LIB"; then
    echo "skipped: no real CUDA 13 libraries ($REAL_LIBS) found (set CUDA_LIB)"; rm -rf "$T"; exit 77
fi
export CUDA_LIB
MODES="off log enforce strict"
