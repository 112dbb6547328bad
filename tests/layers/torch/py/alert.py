# An op without a deterministic implementation on the CPU in torch 1.13: put_ with
# accumulate=False alerts. It runs three times from one line (one call site).
#   alert.py LOG [ask]   LOG: the shim's log file (to show the event is written before
#                        torch's error reaches Python); ask: the program itself asks
#                        torch for errors first
import sys

import torch

log = sys.argv[1]
if "ask" in sys.argv[2:]:
    torch.use_deterministic_algorithms(True)
for i in range(3):
    try:
        torch.zeros(5).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]), accumulate=False)  # <- PUT
        print("put_ ran")
    except RuntimeError as e:
        print("RuntimeError:", str(e).split(",")[0])
        with open(log) as f:
            print("event already logged:", '"op":"put_"' in f.read())
# After a raised alert the shim must still be in charge on this thread (its reentrancy
# guard balanced across the C++ exception): switching off must still be overruled.
torch.use_deterministic_algorithms(False)
print("deterministic_algorithms", torch.are_deterministic_algorithms_enabled())
