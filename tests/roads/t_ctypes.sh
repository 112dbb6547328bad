#!/bin/bash
# Python's ctypes opens a library RTLD_LOCAL and looks each function up on its handle:
# the shim's wrappers must be what it calls.
. "$(dirname "$0")/lib_roads.sh"
cat > prog.py <<'PY'
import ctypes, sys
lib = ctypes.CDLL("libcublas.so.13")
h = ctypes.c_void_p()
print("create", lib.cublasCreate_v2(ctypes.byref(h)))
print("atomics", lib.cublasSetAtomicsMode(h, 1))
print("destroy", lib.cublasDestroy_v2(h))
PY
for mode in enforce strict log off; do
    DETSHIM_MODE=$mode run_shim "$PYTHON" prog.py > out 2> err
    check "$mode: calls succeed" [ "$(grep -Ec '^(create|atomics|destroy) 0$' out)" -eq 3 ]
    case $mode in
    enforce|strict)
        check "$mode: atomics forced off through ctypes" grep -q '^cublasSetAtomicsMode .* mode=0$' record
        check "$mode: the shim counted the ctypes calls" [ "$(calls cublasCreate_v2)" -eq 1 -a "$(calls cublasSetAtomicsMode)" -eq 1 ]
        check "$mode: forced event" [ "$(ev cublasSetAtomicsMode)" = forced ] ;;
    log)
        check "log: passed as asked, recorded" grep -q '^cublasSetAtomicsMode .* mode=1$' record
        check "log: observed event" [ "$(ev cublasSetAtomicsMode)" = observed ] ;;
    off)
        check "off: untouched, no log" grep -q '^cublasSetAtomicsMode .* mode=1$' record && [ "$(nlogs)" -eq 0 ] ;;
    esac
    fresh
done
finish
