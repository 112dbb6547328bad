# A hooked call from a thread Python never ran on (as torch's autograd device threads and
# CUDA callback threads are): pthread_create runs libmiddle's middle_create_handles itself.
# The new thread inherits the creating thread's name: with "pt_autograd" (torch's name for
# its autograd device threads) the event's note says it is an autograd worker.
#   native_thread.py LIBMIDDLE [NAME]
import ctypes
import sys

libc = ctypes.CDLL(None)
lib = ctypes.CDLL(sys.argv[1])
if len(sys.argv) > 2:
    libc.prctl(15, sys.argv[2].encode(), 0, 0, 0)  # PR_SET_NAME
tid = ctypes.c_ulong()
start = ctypes.cast(lib.middle_create_handles, ctypes.c_void_p)
assert libc.pthread_create(ctypes.byref(tid), None, start, ctypes.c_void_p(1)) == 0
ret = ctypes.c_void_p()
assert libc.pthread_join(tid, ctypes.byref(ret)) == 0
print("status", ret.value or 0)
