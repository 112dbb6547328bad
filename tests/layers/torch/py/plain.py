# A Python program that never imports torch.
import hashlib
import os

print("sum", sum(i * i for i in range(1000)))
print("sha", hashlib.sha256(b"detshim").hexdigest()[:16])
print("CUBLAS_WORKSPACE_CONFIG", os.environ.get("CUBLAS_WORKSPACE_CONFIG", "unset"))
