# torch 1.13 on the CPU: put_ (accumulate=False) has no deterministic implementation; the
# op sits in a function called from a loop, and torch's binding releases the GIL around
# it: the event must name the op's line and the caller's line.
import torch


def scatter(x):
    x.put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]), accumulate=False)  # <- OP


def train(steps):
    x = torch.zeros(5)
    for _ in range(steps):
        scatter(x)  # <- CALLER
    return x


train(2)  # <- MAIN
print("trained")
