# A hooked call of another layer made from Python: tests/progs' libmiddle (which links
# the fake cuBLAS, as libtorch_cuda links cuBLAS) creates a cuBLAS handle.
#   ctypes_call.py LIBMIDDLE pydll   through ctypes.PyDLL: the GIL stays held
#   ctypes_call.py LIBMIDDLE cdll    through ctypes.CDLL: ctypes releases the GIL
import ctypes
import sys


def create(lib):
    return lib.middle_create_handles(1)  # <- CREATE


kind = ctypes.PyDLL if sys.argv[2] == "pydll" else ctypes.CDLL
print("status", create(kind(sys.argv[1])))  # <- MAIN
