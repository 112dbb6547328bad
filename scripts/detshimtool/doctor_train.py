#!/usr/bin/env python3
"""doctor_train.py: the short PyTorch training `detshim doctor` runs (plain and under the shim).

A tiny message-passing model whose forward and backward accumulate with CUDA float atomics:
index_add_ (forward), index_select (its backward is index_add_) and scatter_add_ (forward;
backward is gather).  Prints `digest <sha256>` over the parameters and the losses (bit-exact)
and `# ms_per_step X` on stderr (steps after the first 3).  Exit 77 when torch or a CUDA GPU
is not usable (one line on stderr saying which), 0 otherwise.

  python3 doctor_train.py [--steps 30] [--device cuda|cpu]
"""
import argparse
import hashlib
import sys
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--device", default="cuda")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    try:
        import torch
    except ImportError as e:
        print("doctor_train: torch is not importable by %s: %s" % (sys.executable, e), file=sys.stderr)
        return 77
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("doctor_train: torch %s has no usable CUDA GPU (built for CUDA %s)"
              % (torch.__version__, torch.version.cuda), file=sys.stderr)
        return 77
    dev = torch.device(a.device)
    g = torch.Generator().manual_seed(a.seed)
    n_src, n_dst, d = 1 << 17, 512, 64
    x = torch.randn(n_src, d, generator=g).to(dev)
    idx = torch.randint(0, n_dst, (n_src,), generator=g).to(dev)
    target = torch.randn(n_dst, 1, generator=g).to(dev)
    w1 = (torch.randn(d, d, generator=g) / d ** 0.5).to(dev).requires_grad_()
    w2 = (torch.randn(d, 1, generator=g) / d ** 0.5).to(dev).requires_grad_()
    params = [w1, w2]
    opt = torch.optim.SGD(params, lr=1e-3)
    losses = []
    t0 = None
    for step in range(a.steps):
        if step == 3:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        h = torch.tanh(x @ w1)
        agg = torch.zeros(n_dst, d, device=dev).index_add_(0, idx, h)        # float atomics
        msg = agg.index_select(0, idx) * h                                    # backward: index_add_
        out = msg @ w2
        s = torch.zeros(n_dst, 1, device=dev).scatter_add_(0, idx[:, None], out)  # float atomics
        loss = ((s / 256.0 - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    if t0 is not None and a.steps > 3:
        print("# ms_per_step %.3f" % ((time.perf_counter() - t0) * 1000.0 / (a.steps - 3)), file=sys.stderr)
    hsh = hashlib.sha256()
    for t in params:
        hsh.update(t.detach().cpu().contiguous().numpy().tobytes())
    for v in losses:
        hsh.update(float(v).hex().encode())
    print("loss %s" % float(losses[-1]).hex() if losses else "loss none")
    print("digest %s" % hsh.hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
