"""A Python program calling the fake CUDA runtime and cuBLAS through ctypes with the GIL held
(ctypes.PyDLL), as a CPython extension would: hash mode's records name the Python frames.
upload() and gemm() are the call sites; with FAKE_BLAS_NOISE=1 the gemm is nondeterministic."""
import ctypes

G = ctypes.RTLD_GLOBAL
for name in ("libcuda.so.1", "libcudart.so.13", "libcublas.so.13"):
    ctypes.CDLL(name, mode=G)
lib = ctypes.PyDLL(None)  # the global scope: the preloaded shim's wrappers come first
N = 16
vp, fp, i = ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int
lib.cudaMalloc.argtypes = [ctypes.POINTER(vp), ctypes.c_size_t]
lib.cudaMemcpy.argtypes = [vp, vp, ctypes.c_size_t, i]
lib.cublasCreate_v2.argtypes = [ctypes.POINTER(vp)]
lib.cublasSgemm_v2.argtypes = [vp, i, i, i, i, i, fp, vp, i, vp, i, fp, vp, i]


def upload(dst, values):
    host = (ctypes.c_float * len(values))(*values)
    return lib.cudaMemcpy(dst, host, ctypes.sizeof(host), 1)


def gemm(h, a, b, c):
    one, zero = ctypes.c_float(1), ctypes.c_float(0)
    return lib.cublasSgemm_v2(h, 0, 0, N, N, N, ctypes.byref(one), a, N, b, N, ctypes.byref(zero), c, N)


def main():
    lib.cuInit(0)
    a, b, c = vp(), vp(), vp()
    for p in (a, b, c):
        assert lib.cudaMalloc(ctypes.byref(p), N * N * 4) == 0
    bad = upload(a, [float(k % 7) for k in range(N * N)])
    bad |= upload(b, [float(k % 5) - 2 for k in range(N * N)])
    h = vp()
    bad |= lib.cublasCreate_v2(ctypes.byref(h))
    bad |= gemm(h, a, b, c)
    print("failed", bad)


main()
