# Prints torch's determinism switches and the cuBLAS workspace setting as the program sees them.
import os

import torch

print("deterministic_algorithms", torch.are_deterministic_algorithms_enabled())
print("warn_only", torch.is_deterministic_algorithms_warn_only_enabled())
print("cudnn_deterministic", torch.backends.cudnn.deterministic)
print("cudnn_benchmark", torch.backends.cudnn.benchmark)
print("CUBLAS_WORKSPACE_CONFIG", os.environ.get("CUBLAS_WORKSPACE_CONFIG", "unset"))
