# Hooked calls made with the GIL released (ctypes.CDLL releases it, as torch's bindings
# do around every op): tests/progs' libmiddle creates a cuBLAS handle (the fake cuBLAS).
# One call site per Python path: a function called from a loop, a generator, a thread.
#   nogil.py LIBMIDDLE
import ctypes
import sys
import threading

lib = ctypes.CDLL(sys.argv[1])


def create():
    return lib.middle_create_handles(1)  # <- CREATE


def caller():
    for _ in range(3):
        create()  # <- LOOP


def gen():
    yield create()  # <- GEN


caller()  # <- MAIN
print("gen", list(gen()))  # <- MAINGEN
t = threading.Thread(target=caller)
t.start()
t.join()
print("done")
