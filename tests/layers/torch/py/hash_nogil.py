# Hash mode (DETSHIM_HASH=1) with the GIL released: the fake CUDA runtime called through
# ctypes.CDLL, which releases the GIL around each call: the trace records of the copies
# carry the Python frames all the same, and the two uploads are two sites.
import ctypes

G = ctypes.RTLD_GLOBAL
for name in ("libcuda.so.1", "libcudart.so.13"):
    ctypes.CDLL(name, mode=G)
lib = ctypes.CDLL(None)  # the global scope: the preloaded shim's wrappers come first
vp = ctypes.c_void_p
lib.cudaMalloc.argtypes = [ctypes.POINTER(vp), ctypes.c_size_t]
lib.cudaMemcpy.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_int]


def upload(dst, values):
    host = (ctypes.c_float * len(values))(*values)
    return lib.cudaMemcpy(dst, host, ctypes.sizeof(host), 1)  # <- UPLOAD


def main():
    lib.cuInit(0)
    a = vp()
    assert lib.cudaMalloc(ctypes.byref(a), 256) == 0
    bad = upload(a, [1.0] * 64)  # <- FIRST
    bad |= upload(a, [2.0] * 64)  # <- SECOND
    print("failed", bad)


main()
