#!/usr/bin/env python3
"""detshim check: repeated runs, fresh working copies, the verdict table, exit codes.

The nondeterministic commands are made predictable: each run bumps a counter kept
outside the working directory, so run k writes k, and the first difference is known
exactly.  One command uses `date +%N` as the real thing."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import PY, Tally, clean_env, detshim, preflight, tempdir  # noqa: E402

# A fake torch, enough for compare.py's checkpoint path: a ".pt" file here is JSON
# {name: {"dtype": "float32", "shape": [n], "data": [...]}} or {name: number}.
FAKE_TORCH = r'''
import json, struct
class dtype:
    def __init__(self, name, size, fmt, flt):
        self.name, self.size, self.fmt, self.flt = name, size, fmt, flt
    def __repr__(self):
        return "torch." + self.name
float32 = dtype("float32", 4, "f", True)
uint8 = dtype("uint8", 1, "B", False)
int16 = dtype("int16", 2, "h", False)
int32 = dtype("int32", 4, "i", False)
int64 = dtype("int64", 8, "q", False)
float64 = dtype("float64", 8, "d", True)
class Tensor:
    def __init__(self, data, dt, shape=None):
        self.data, self.dtype = list(data), dt
        self.shape = tuple(shape) if shape is not None else (len(self.data),)
    def detach(self): return self
    def cpu(self): return self
    def contiguous(self): return self
    def reshape(self, *s): return Tensor(self.data, self.dtype)
    def element_size(self): return self.dtype.size
    def numel(self): return len(self.data)
    def is_floating_point(self): return self.dtype.flt
    def view(self, dt):
        raw = b"".join(struct.pack("<" + self.dtype.fmt, v) for v in self.data)
        n = len(raw) // dt.size
        return Tensor(struct.unpack("<%d%s" % (n, dt.fmt), raw), dt)
    def double(self): return Tensor([float(v) for v in self.data], float64)
    def __sub__(self, o): return Tensor([a - b for a, b in zip(self.data, o.data)], self.dtype)
    def abs(self): return Tensor([abs(v) for v in self.data], self.dtype)
    def max(self): return Tensor([max(self.data)], self.dtype)
    def __ne__(self, o): return Tensor([int(a != b) for a, b in zip(self.data, o.data)], int64)
    def sum(self): return Tensor([sum(self.data)], int64)
    def item(self): return self.data[0]
def equal(a, b):
    return a.dtype is b.dtype and a.shape == b.shape and a.data == b.data
def load(path, map_location=None, weights_only=False):
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            dt = globals()[v["dtype"]]
            out[k] = Tensor([dt.flt and float(x) or int(x) for x in v["data"]], dt, v.get("shape"))
        else:
            out[k] = v
    return out
'''


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def kept_dir(out):
    m = re.search(r"^kept: (\S+)$", out, re.M)
    return m.group(1) if m else None


def row(out, name):
    """The verdict table's line for one output."""
    for line in out.splitlines():
        if line.startswith(name + " "):
            return line
    return ""


def main():
    t = Tally("check")
    if not preflight(t):
        return t.finish()
    tmp = tempdir()
    try:
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        counter = os.path.join(tmp, "counter")
        write(os.path.join(work, "input.txt"), "original\n")
        # run k: out.txt's third line is c<k>; out.bin is 100 zero bytes and the byte k;
        # same.txt and ck/y never change; ck/x is k; input.txt is appended to.
        write(os.path.join(work, "prog.sh"), r'''
n=$(cat "$COUNTER" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNTER"
printf 'a\nb\nc%s\n' $n > out.txt
head -c 100 /dev/zero > out.bin; printf "\\$(printf %o $n)" >> out.bin
echo same > same.txt
mkdir -p ck; echo $n > ck/x; echo fixed > ck/y
echo "changed by run $n" >> input.txt
echo "stdout of run $n"
''')
        env = clean_env(COUNTER=counter)

        # -- nondeterministic outputs: text line, binary offset, a directory, exit 1 -------------
        r = detshim("check", "-n", "3", "--compare", "out.txt", "out.bin", "same.txt", "ck", "--",
                    "sh", "prog.sh", cwd=work, env=env)
        t.ok(r.rc == 1, "check with differing outputs: exit 1", r)
        t.contains(r.out, "OUTPUT", "verdict table header", r)
        t.contains(row(r.out, "out.txt"), " no ", "out.txt: not identical", r)
        t.contains(row(r.out, "out.txt"), "line 3: run 1 'c1' | run 2 'c2'", "out.txt: first differing line", r)
        t.contains(row(r.out, "out.txt"), "runs 2, 3 differ from run 1", "out.txt: which runs differ", r)
        t.contains(row(r.out, "out.bin"), "byte 100 (0x64): run 1 0x01 | run 2 0x02", "out.bin: first differing byte", r)
        t.contains(row(r.out, "same.txt"), " yes ", "same.txt: identical", r)
        t.contains(row(r.out, "ck/x"), "line 1: run 1 '1' | run 2 '2'", "a directory is compared file by file", r)
        t.contains(row(r.out, "ck/y"), " yes ", "ck/y: identical", r)
        t.contains(r.out, "verdict: NOT reproducible: 3 of 5 outputs differ between runs", "verdict line", r)
        t.contains(r.out, "each run in a copy of %s" % work, "the table says where runs happen", r)
        t.contains(r.err, "run 3/3", "progress on stderr", r)
        with open(os.path.join(work, "input.txt")) as f:
            t.ok(f.read() == "original\n", "copy mode: the current directory is untouched")
        t.ok(not os.path.exists(os.path.join(work, "out.txt")), "copy mode: no output lands in the current directory")

        # -- deterministic outputs: exit 0 -------------------------------------------------------
        r = detshim("check", "-n", "2", "--compare", "same.txt", "ck/y", "--", "sh", "prog.sh", cwd=work, env=env)
        t.ok(r.rc == 0, "check with identical outputs: exit 0", r)
        t.contains(row(r.out, "same.txt"), " yes ", "same.txt identical", r)
        t.contains(r.out, "verdict: reproducible: 2 outputs identical across 2 runs", "reproducible verdict", r)

        # -- no --compare: stdout is compared ------------------------------------------------------
        r = detshim("check", "-n", "2", "--", "sh", "prog.sh", cwd=work, env=env)
        t.ok(r.rc == 1, "stdout differs: exit 1", r)
        t.contains(row(r.out, "(stdout)"), "line 1:", "stdout compared line by line", r)
        t.contains(row(r.out, "(stdout)"), "'stdout of run", "stdout difference shows the lines", r)
        r = detshim("check", "-n", "2", "--", "echo", "hello", cwd=work)
        t.ok(r.rc == 0 and " yes " in row(r.out, "(stdout)"), "identical stdout: exit 0", r)
        r = detshim("check", "-n", "2", "--stdout", "--compare", "same.txt", "--", "sh", "prog.sh", cwd=work, env=env)
        t.ok(r.rc == 1 and row(r.out, "(stdout)") and " yes " in row(r.out, "same.txt"),
             "--stdout adds stdout to the --compare files", r)

        # -- the real thing: date +%N -------------------------------------------------------------
        r = detshim("check", "-n", "2", "--compare", "stamp.txt", "--", "sh", "-c",
                    "echo header > stamp.txt; date +%N >> stamp.txt", cwd=work)
        t.ok(r.rc == 1, "date +%N: differs, exit 1", r)
        t.contains(row(r.out, "stamp.txt"), "line 2: run 1 '", "date +%N: the first difference is line 2", r)

        # -- inplace mode -------------------------------------------------------------------------
        r = detshim("check", "-n", "2", "--workdir-mode", "inplace", "--compare", "out.txt", "same.txt", "--",
                    "sh", "prog.sh", cwd=work, env=env)
        t.ok(r.rc == 1, "inplace: differing out.txt, exit 1", r)
        t.contains(row(r.out, "out.txt"), "line 3:", "inplace: first differing line", r)
        t.contains(r.out, "every run in %s" % work, "inplace: said so", r)
        with open(os.path.join(work, "input.txt")) as f:
            t.ok(f.read().count("changed by run") == 2, "inplace: the runs happened in the current directory")
        write(os.path.join(work, "input.txt"), "original\n")

        # -- an absolute path outside the working directory: shared by the runs, kept aside
        outside = os.path.join(tmp, "outside.txt")
        write(counter, "0\n")
        r = detshim("check", "-n", "2", "--compare", outside, "--", "sh", "-c",
                    'n=$(cat "$COUNTER"); echo $((n+1)) > "$COUNTER"; echo "v$n" > "%s"' % outside,
                    cwd=work, env=env)
        t.ok(r.rc == 1 and "line 1: run 1 'v0' | run 2 'v1'" in row(r.out, outside),
             "an absolute --compare path outside the directory is compared too", r)

        # -- a stale output is not taken for a run's output ----------------------------------------
        write(os.path.join(work, "stale.txt"), "from an earlier run\n")
        r = detshim("check", "-n", "2", "--compare", "stale.txt", "--", "true", cwd=work)
        t.ok(r.rc == 2, "an output no run writes: exit 2", r)
        t.contains(row(r.out, "stale.txt"), "missing in every run", "stale file reported missing", r)
        r = detshim("check", "-n", "2", "--workdir-mode", "inplace", "--compare", "stale.txt", "--", "true", cwd=work)
        t.contains(row(r.out, "stale.txt"), "missing in every run", "inplace: stale file removed before the runs", r)
        write(counter, "0\n")
        r = detshim("check", "-n", "3", "--compare", "half.txt", "--", "sh", "-c",
                    'n=$(cat "$COUNTER"); echo $((n+1)) > "$COUNTER"; [ $n -eq 1 ] || echo x > half.txt',
                    cwd=work, env=env)
        write(counter, "0\n")
        t.ok(r.rc == 1 and "missing in run" in row(r.out, "half.txt"), "an output missing in some runs: differs", r)

        # -- --mode none runs without the shim; the default mode is enforce ------------------------
        show = "import os; open('env.txt','w').write('%s|%s' % (os.environ.get('NCCL_ALGO'), os.environ.get('LD_PRELOAD')))"
        from testlib import LIB
        r = detshim("check", "-n", "2", "--keep", "--mode", "none", "--compare", "env.txt", "--", PY, "-c", show,
                    cwd=work, env=clean_env(LD_PRELOAD=LIB))
        t.ok(r.rc == 0, "--mode none: identical, exit 0", r)
        t.contains(r.out, "without the shim", "--mode none said so", r)
        k = kept_dir(r.out)
        t.ok(k and os.path.isdir(k), "--keep keeps the temporary directory and names it", r)
        if k:
            with open(os.path.join(k, "run-1", "env.txt")) as f:
                t.ok(f.read() == "None|None", "--mode none: no pin, no LD_PRELOAD (taken out of an inherited one)")
            shutil.rmtree(k, ignore_errors=True)
        r = detshim("check", "-n", "2", "--keep", "--compare", "env.txt", "--", PY, "-c", show, cwd=work)
        k = kept_dir(r.out)
        t.contains(r.out, "shim mode enforce", "default mode enforce said", r)
        if t.ok(k and os.path.isdir(k), "kept directory (enforce)", r):
            with open(os.path.join(k, "run-2", "env.txt")) as f:
                t.ok(f.read() == "Ring|" + LIB, "default mode: the shim is preloaded and pins")
            t.ok(os.path.isdir(os.path.join(k, "logs", "run-1")), "each run has its own log directory")
            shutil.rmtree(k, ignore_errors=True)
        r = detshim("check", "-n", "2", "--compare", "env.txt", "--", PY, "-c", show, cwd=work)
        t.ok(not kept_dir(r.out), "without --keep nothing is said to be kept", r)

        # -- a run that fails: exit 2 with its exit code --------------------------------------------
        r = detshim("check", "-n", "3", "--", "sh", "-c", "echo oops >&2; exit 3", cwd=work)
        t.ok(r.rc == 2, "a failing run: exit 2", r)
        t.contains(r.err, "run 1 of 3 failed with exit code 3", "the failing run's exit code is reported", r)
        t.contains(r.err, "oops", "the failing run's stderr tail is shown", r)
        t.ok("Traceback" not in r.err, "failing run: no traceback", r)
        r = detshim("check", "-n", "2", "--", "sh", "-c", 'kill -9 $$', cwd=work)
        t.ok(r.rc == 2 and "killed by SIGKILL" in r.err, "a run killed by a signal is named", r)
        r = detshim("check", "-n", "2", "--", "no-such-command-detshim-test", cwd=work)
        t.clean_error(r, "check with a command that does not exist")
        t.contains(r.err, "command not found", "check: command not found", r)

        # -- usage errors -------------------------------------------------------------------------
        for args, needle, what in (
                (["check", "-n", "1", "--", "true"], "at least 2 runs", "-n 1"),
                (["check", "-n", "x", "--", "true"], "'x' is not a whole number", "-n x"),
                (["check", "--", "true"], "-n N is required", "no -n"),
                (["check", "-n", "2"], "no command given", "no command"),
                (["check", "-n", "2", "--mode", "fast", "--", "true"], "'fast' is not a mode", "bad mode"),
                (["check", "-n", "2", "--workdir-mode", "tmpfs", "--", "true"], "invalid choice", "bad workdir mode"),
                (["check", "-n", "2", "--compare", ".", "--", "true"], "names the whole working directory", "--compare ."),
                (["check", "-n", "2", "--compare", "../x", "--", "true"], "is outside the current directory",
                 "--compare ../x in copy mode"),
        ):
            r = detshim(*args, cwd=work)
            t.clean_error(r, "check " + what)
            t.contains(r.err, needle, "check " + what, r)

        # -- torch checkpoints: tensor by tensor with torch, bytes without ---------------------------
        fake = os.path.join(tmp, "fake-torch")
        os.makedirs(os.path.join(fake, "torch"))
        write(os.path.join(fake, "torch", "__init__.py"), FAKE_TORCH)
        write(os.path.join(work, "ckpt.py"), r'''
import json, os
c = os.environ["COUNTER"]
n = int(open(c).read()) + 1 if os.path.exists(c) else 1
open(c, "w").write(str(n))
doc = {"layer1.weight": {"dtype": "float32", "data": [1.0, 2.0, 3.0]},
       "layer2.weight": {"dtype": "float32", "data": [0.5, 0.25 + (n - 1) * 1e-6, 0.125]},
       "layer2.bias": {"dtype": "float32", "data": [0.0]},
       "step": 50}
json.dump(doc, open("model.pt", "w"), indent=1)
''')
        write(counter, "0")
        r = detshim("check", "-n", "2", "--compare", "model.pt", "--", PY, "ckpt.py", cwd=work,
                    env=clean_env(COUNTER=counter, PYTHONPATH=fake))
        t.ok(r.rc == 1, "checkpoint with a differing tensor: exit 1", r)
        line = row(r.out, "model.pt")
        t.contains(line, "tensor 'layer2.weight'", "the first differing tensor is named", r)
        t.contains(line, "1 of 3 tensors differ", "the number of differing tensors", r)
        t.contains(line, "1 of 3 elements differ", "the differing elements of that tensor", r)
        # without torch (a torch package that fails to import shadows any real one)
        broken = os.path.join(tmp, "broken-torch")
        os.makedirs(os.path.join(broken, "torch"))
        write(os.path.join(broken, "torch", "__init__.py"), "raise ImportError('no torch in this test')\n")
        write(counter, "0")
        r = detshim("check", "-n", "2", "--compare", "model.pt", "--", PY, "ckpt.py", cwd=work,
                    env=clean_env(COUNTER=counter, PYTHONPATH=broken))
        line = row(r.out, "model.pt")
        t.ok(r.rc == 1 and "torch is not importable here: compared bytes" in line,
             "without torch a checkpoint is compared as bytes, and it says so", r)
        t.contains(line, "line ", "without torch: the (text) file's first differing line", r)

        # the real torch, when this Python has it
        from testlib import run
        if run([PY, "-c", "import torch"]).rc == 0:
            write(os.path.join(work, "realckpt.py"), r'''
import os, torch
c = os.environ["COUNTER"]
n = int(open(c).read()) + 1 if os.path.exists(c) else 1
open(c, "w").write(str(n))
torch.manual_seed(0)
sd = {"fc.weight": torch.randn(4, 3), "fc.bias": torch.zeros(4),
      "emb": torch.arange(10, dtype=torch.bfloat16), "flag": torch.tensor(True)}
if n > 1:
    sd["emb"][3] = 42
    sd["emb"][4] = 43
torch.save({"model": sd, "step": 10}, "real.pt")
torch.save({"model": {"w": torch.ones(3)}, "step": 10}, "same.pth")
''')
            write(counter, "0")
            r = detshim("check", "-n", "2", "--compare", "real.pt", "same.pth", "--", PY, "realckpt.py",
                        cwd=work, env=clean_env(COUNTER=counter))
            line = row(r.out, "real.pt")
            t.ok(r.rc == 1, "real torch checkpoints: exit 1", r)
            t.contains(line, "tensor 'model.emb': 2 of 10 elements differ", "real torch: first differing tensor (bfloat16)", r)
            t.contains(line, "(1 of 4 tensors differ)", "real torch: differing tensor count", r)
            t.contains(row(r.out, "same.pth"), " yes ", "real torch: an identical checkpoint", r)
        else:
            print("(torch is not importable by %s: the real-checkpoint case is skipped)" % PY)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
