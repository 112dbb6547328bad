# The program switches determinism off; each print shows what torch then reports.
# The lines marked with "# <- NAME" are located by the test (grep -n), which asserts
# the logged Python stack names this file and exactly that line.
import torch


def switch_off():
    torch.use_deterministic_algorithms(False)  # <- USE_OFF


switch_off()  # <- CALL_SWITCH_OFF
print("after_use_deterministic_algorithms", torch.are_deterministic_algorithms_enabled())
torch.backends.cudnn.benchmark = True  # <- BENCH_ON
print("after_cudnn_benchmark", torch.backends.cudnn.benchmark)
torch.backends.cudnn.deterministic = False  # <- CUDNN_DET_OFF
print("after_cudnn_deterministic", torch.backends.cudnn.deterministic)
for _ in range(2):
    torch.backends.cudnn.benchmark = True  # <- BENCH_LOOP
print("after_loop", torch.backends.cudnn.benchmark)
