#!/usr/bin/env python3
"""cuDNN through torch: conv2d forward+backward with autotuning switched ON in the
program (cudnn.benchmark = True), printing a digest of the gradients. Under the shim,
runs must agree bit for bit and no nondeterministic engine may be executed."""
import hashlib

import torch

torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
dev = "cuda"
net = torch.nn.Sequential(
    torch.nn.Conv2d(16, 64, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(64, 8, 1)).to(dev)
x = torch.randn(32, 16, 64, 64, device=dev, requires_grad=True)
h = hashlib.sha256()
for _ in range(5):
    net.zero_grad()
    x.grad = None
    net(x).square().mean().backward()
    for p in list(net.parameters()) + [x]:
        h.update(p.grad.detach().cpu().numpy().tobytes())
print("benchmark", torch.backends.cudnn.benchmark, "deterministic", torch.backends.cudnn.deterministic)
print("digest", h.hexdigest())
