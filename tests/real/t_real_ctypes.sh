#!/bin/bash
# Python's ctypes on the real libcublas by path (RTLD_LOCAL, functions looked up on the
# handle): the hooked names are the shim's wrappers, the others the library's own, and the
# real status (no GPU: CUBLAS_STATUS_NOT_INITIALIZED) comes back through them.
. "$(dirname "$0")/lib_real.sh"
cat > prog.py <<'PY'
import ctypes, os, sys
class DlInfo(ctypes.Structure):
    _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]
libc = ctypes.CDLL(None)
lib = ctypes.CDLL(os.path.join(os.environ["CUDA_LIB"], "libcublas.so.13"))
def where(name):
    info = DlInfo()
    addr = ctypes.cast(getattr(lib, name), ctypes.c_void_p)
    libc.dladdr(addr, ctypes.byref(info))
    return os.path.basename(info.fname.decode())
for n in ("cublasCreate_v2", "cublasSgemm_v2", "cublasGetVersion_v2"):
    print("where", n, where(n))
h = ctypes.c_void_p()
print("cublasCreate_v2", lib.cublasCreate_v2(ctypes.byref(h)))
PY
"$PYTHON" prog.py > base 2>&1
check "without the shim: the library's own functions" [ "$(grep -c 'libcublas.so.13$' base)" -eq 3 ]
for mode in $MODES; do
    DETSHIM_MODE=$mode run_shim "$PYTHON" prog.py > out 2> err
    check "$mode: the real status came back" [ "$(grep '^cublasCreate_v2 ' out)" = "$(grep '^cublasCreate_v2 ' base)" ]
    check "$mode: a name the shim does not hook is the library's own" grep -qx "where cublasGetVersion_v2 libcublas.so.13" out
    if [ "$mode" = off ]; then
        check "off: untouched" grep -qx "where cublasCreate_v2 libcublas.so.13" out
    else
        check "$mode: cublasCreate_v2 is the shim's" grep -qx "where cublasCreate_v2 libdetshim.so" out
        check "$mode: cublasSgemm_v2 (a hot hook) is the shim's" grep -qx "where cublasSgemm_v2 libdetshim.so" out
        check "$mode: the shim counted the call" [ "$(q 'select(.type=="summary")|.calls.cublasCreate_v2')" -eq 1 ]
    fi
    fresh
done
finish
