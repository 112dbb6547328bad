"""`detshim doctor`: does the shim make this GPU node's runs reproducible, and at what cost?

Runs each probe (probes/*.cu, built by meson with nvcc) N times plain and N times under the
shim, and a short built-in PyTorch training (doctor_train.py) when torch with CUDA is
importable, and prints one table: source of nondeterminism | plain: distinct results |
shim: distinct results | cost.  Exit 0 when every row that ran is reproducible under the
shim, 1 when one is not (or the shim broke a run), 2 when it cannot run (no driver, no GPU,
nothing to run): one line saying why.

A probe prints `digest <hex>` (its output bits) and may print `result repeats=N differing=K`
(the same computation repeated N times inside the run, K of them gave other bits).  The
atomics probe's kernel cannot be made deterministic by any shim: its row passes when the
shim names the kernel in its log (the kernels layer, with DETSHIM_DENY standing in for a
`detshim scan` database)."""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .common import DetshimError
from . import preload

EXIT_OK, EXIT_NOT_REPRODUCIBLE, EXIT_CANNOT_RUN = 0, 1, 2
NO_GPU_RC = 77  # the probes' and doctor_train's "no usable GPU"

# name, source of nondeterminism, arguments, kernel pattern the shim must name (None: fix)
PROBES = (
    ("atomic_sum", "float atomics in a CUDA kernel (atomicAdd)", [], "*atomic_sum_kernel*"),
    ("cublas_streams", "cuBLAS: one handle on 4 streams", ["--streams", "4"], None),
    ("cublaslt_align", "cuBLASLt: algorithm chosen by buffer alignment", [], None),
    ("cudnn_bwd_filter", "cuDNN: backward filter, atomic algorithm", [], None),
)
TRAIN_SOURCE = "PyTorch training: index_add_/scatter_add_ (built-in)"

_DIGEST = re.compile(r"^digest ([0-9a-fA-F]+)\s*$", re.M)
_RESULT = re.compile(r"^result repeats=(\d+) differing=(\d+)\s*$", re.M)
_MS = re.compile(r"^# ms_per_step ([0-9.]+)", re.M)


# ---- the GPU ---------------------------------------------------------------------------
def gpu_status():
    """(True, 'NAME (driver X.Y)') or (False, why not, in one line): the driver API via ctypes."""
    try:
        cu = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        return False, "no NVIDIA driver: libcuda.so.1 cannot be loaded (%s)" % str(e).split(":")[-1].strip()

    def err_name(rc):
        s = ctypes.c_char_p()
        try:
            if cu.cuGetErrorName(rc, ctypes.byref(s)) == 0 and s.value:
                return "%s (%d)" % (s.value.decode(), rc)
        except AttributeError:
            pass
        return "error %d" % rc

    try:
        rc = cu.cuInit(0)
        if rc != 0:
            return False, "the NVIDIA driver finds no usable GPU: cuInit returned %s" % err_name(rc)
        n = ctypes.c_int(0)
        rc = cu.cuDeviceGetCount(ctypes.byref(n))
    except AttributeError as e:
        return False, "libcuda.so.1 is not a CUDA driver (%s)" % e
    if rc != 0 or n.value < 1:
        vis = os.environ.get("CUDA_VISIBLE_DEVICES")
        return False, "no CUDA GPU visible: cuDeviceGetCount %s%s" % (
            "returned " + err_name(rc) if rc else "found 0 devices",
            "" if vis is None else " (CUDA_VISIBLE_DEVICES=%r)" % vis)
    name = ctypes.create_string_buffer(256)
    drv = ctypes.c_int(0)
    try:
        dev = ctypes.c_int(0)
        cu.cuDeviceGet(ctypes.byref(dev), 0)
        cu.cuDeviceGetName(name, 256, dev)
        cu.cuDriverGetVersion(ctypes.byref(drv))
    except AttributeError:
        pass
    label = name.value.decode("utf-8", "replace") or "GPU 0"
    if drv.value:
        label += " (CUDA driver %d.%d)" % (drv.value // 1000, (drv.value % 1000) // 10)
    if n.value > 1:
        label += ", GPU 0 of %d" % n.value
    return True, label


# ---- where the probes are --------------------------------------------------------------
def probe_dir(option, configured, lib):
    """The first of --probes, $DETSHIM_PROBES, the configured directory, LIBDIR/../probes (a
    build tree), PREFIX/libexec/detshim that holds a probe; None when none does."""
    if option:
        if not os.path.isdir(option):
            raise DetshimError("--probes %s: not a directory" % option)
        return option
    libdir = os.path.dirname(lib)
    cands = [os.environ.get("DETSHIM_PROBES"), configured, os.path.join(libdir, "..", "probes"),
             os.path.join(libdir, "..", "libexec", "detshim"),
             os.path.join(libdir, "..", "..", "libexec", "detshim")]
    for d in cands:
        if d and any(os.access(os.path.join(d, p[0]), os.X_OK) for p in PROBES):
            return os.path.normpath(d)
    return None


# ---- one run -----------------------------------------------------------------------------
class Run:
    def __init__(self, rc, out, err, wall):
        self.rc, self.out, self.err, self.wall = rc, out, err, wall
        m = _DIGEST.findall(out)
        self.digest = m[-1] if m else None
        r = _RESULT.findall(out)
        self.within = (int(r[-1][0]), int(r[-1][1])) if r else None
        ms = _MS.findall(err) or _MS.findall(out)
        self.ms = float(ms[-1]) if ms else None

    def why(self):
        lines = [l for l in (self.err + self.out).splitlines() if l.strip()]
        return "rc=%s: %s" % (self.rc, lines[-1].strip()[:120] if lines else "no output")


def run_once(argv, env, timeout, save):
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = 124, e.stdout or b"", (e.stderr or b"") + b"\ntimed out after %d s" % timeout
    except OSError as e:
        rc, out, err = 126, b"", str(e).encode()
    r = Run(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.monotonic() - t0)
    if save:
        with open(save + ".out", "w") as f:
            f.write(r.out)
        with open(save + ".err", "w") as f:
            f.write(r.err)
    return r


def plain_env(base, lib):
    env = dict(base)
    keep = [e for e in preload.preload_entries(env.get("LD_PRELOAD", ""))
            if not preload._same(e, lib) and os.path.basename(e) != "libdetshim.so"]
    if keep:
        env["LD_PRELOAD"] = " ".join(keep)
    else:
        env.pop("LD_PRELOAD", None)
    return env


def log_names_kernel(logdir, prefix, pattern):
    import fnmatch
    for name in os.listdir(logdir):
        if not (name.startswith(prefix) and name.endswith(".jsonl")):
            continue
        with open(os.path.join(logdir, name), errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("type") == "event" and rec.get("layer") == "kernels":
                    for k in ("kernel", "kernel_demangled", "detail"):
                        if isinstance(rec.get(k), str) and fnmatch.fnmatchcase(rec[k], pattern):
                            return True
    return False


# ---- one row -----------------------------------------------------------------------------
class Row:
    def __init__(self, source):
        self.source = source
        self.plain, self.shim = [], []
        self.na = None          # why the row could not be measured
        self.named = None       # for a detect row: did the shim's log name the kernel
        self.detect = None

    def _distinct(self, runs):
        d = len({r.digest for r in runs})
        text = "%d of %d runs" % (d, len(runs))
        w = [r.within for r in runs if r.within]
        if w and any(k for _, k in w):
            text += "; %d of %d differ within a run" % (max(k for _, k in w), w[0][0])
        return text

    def reproducible(self, runs):
        return (len({r.digest for r in runs}) == 1
                and not any(r.within and r.within[1] for r in runs))

    def failed_shim(self):
        return next((r for r in self.shim if r.rc != 0 or r.digest is None), None)

    def ok(self):
        if self.na or self.failed_shim():
            return self.na is not None
        if self.detect:
            return self.reproducible(self.shim) or bool(self.named)
        return self.reproducible(self.shim)

    def cells(self):
        if self.na:
            return [self.source, "n/a (%s)" % self.na, "n/a", ""]
        plain = self._distinct(self.plain)
        bad = self.failed_shim()
        if bad:
            return [self.source, plain, "FAILED under the shim (%s)" % bad.why(), ""]
        shim = self._distinct(self.shim)
        if self.reproducible(self.shim):
            shim += ": reproducible"
        elif self.detect and self.named:
            shim += ": named in the log (no fix exists)"
        else:
            shim += ": NOT reproducible"
        return [self.source, plain, shim, self.cost()]

    def cost(self):
        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2] if xs else None
        p = median([r.ms for r in self.plain if r.ms]), median([r.ms for r in self.shim if r.ms])
        unit = "ms/step"
        if not (p[0] and p[1]):
            p, unit = (median([r.wall for r in self.plain]), median([r.wall for r in self.shim])), "wall"
        if not (p[0] and p[1]):
            return "?"
        return "x%.2f %s" % (p[1] / p[0], unit)

    def as_json(self):
        return {"source": self.source, "na": self.na, "ok": self.ok(),
                "plain": [[r.rc, r.digest, r.within, r.ms, round(r.wall, 3)] for r in self.plain],
                "shim": [[r.rc, r.digest, r.within, r.ms, round(r.wall, 3)] for r in self.shim],
                "named_in_log": self.named, "cells": self.cells()}


def measure(row, argv, n, penv, senv_for, timeout, out, tag):
    """n plain runs, then n shim runs (interleaved would mix warm-up into both)."""
    for i in range(n):
        r = run_once(argv, penv, timeout, out and os.path.join(out, "%s-plain%d" % (tag, i + 1)))
        if r.rc == NO_GPU_RC or (i == 0 and r.rc != 0):
            row.na = ("no GPU for it: " if r.rc == NO_GPU_RC else "fails without the shim: ") + r.why()
            return
        row.plain.append(r)
    for i in range(n):
        row.shim.append(run_once(argv, senv_for(i), timeout,
                                 out and os.path.join(out, "%s-shim%d" % (tag, i + 1))))


def render(rows, out):
    header = ["source of nondeterminism", "plain: distinct results", "shim: distinct results", "cost"]
    cells = [r.cells() for r in rows]
    w = [max(len(c[i]) for c in cells + [header]) for i in range(3)]
    for c in [header] + cells:
        out.write(" | ".join([c[i].ljust(w[i]) for i in range(3)] + [c[3]]).rstrip() + "\n")


def main(args, lib_configured, probes_configured, prog):
    if args.n is not None and args.n < 2:
        raise DetshimError("-n must be at least 2 (distinct results need two runs)")
    n = args.n or 3
    if args.mode is not None:
        preload.validate_mode(args.mode)
    ok, gpu = gpu_status()
    if not ok:
        raise DetshimError("cannot run: %s" % gpu, code=EXIT_CANNOT_RUN)
    lib = preload.require_library(lib_configured)
    pdir = probe_dir(args.probes, probes_configured, lib)
    if args.no_torch and not (pdir and any(os.access(os.path.join(pdir, p[0]), os.X_OK) for p in PROBES)):
        raise DetshimError("cannot run: no probe found (%s) and --no-torch given"
                           % ("none built in " + pdir if pdir else "none built: needs nvcc at build time, "
                              "or --probes DIR"), code=EXIT_CANNOT_RUN)
    keep = args.out
    work = keep or tempfile.mkdtemp(prefix="detshim-doctor-")
    os.makedirs(work, exist_ok=True)
    base = preload.base_environ()
    penv = plain_env(base, lib)
    mode = args.mode or "enforce"
    sys.stderr.write("%s: %s; %d runs each, plain and under the shim (%s); work in %s\n"
                     % (prog, gpu, n, mode, work))
    rows = []
    try:
        for name, source, pargs, pattern in PROBES:
            row = Row("%s (%s)" % (source, name))
            row.detect = pattern
            rows.append(row)
            exe = os.path.join(pdir, name) if pdir else None
            if not exe or not os.access(exe, os.X_OK):
                row.na = "probe not built: needs nvcc at build time, or --probes DIR"
                continue

            def senv_for(i, name=name, pattern=pattern):
                env = preload.shim_environ(penv, lib, mode=mode,
                                           log=os.path.join(work, "%s-shim%d-%%p.jsonl" % (name, i + 1)))
                if pattern:
                    env["DETSHIM_DENY"] = ",".join(x for x in (env.get("DETSHIM_DENY"), pattern) if x)
                return env
            sys.stderr.write("%s: %s ...\n" % (prog, name))
            measure(row, [exe] + pargs, n, penv, senv_for, args.timeout, work, name)
            if pattern and row.shim:
                row.named = log_names_kernel(work, name + "-shim", pattern)
        if not args.no_torch:
            row = Row(TRAIN_SOURCE)
            rows.append(row)
            train = os.path.join(os.path.dirname(os.path.abspath(__file__)), "doctor_train.py")
            argv = [args.python or sys.executable, train, "--steps", str(args.steps)]
            sys.stderr.write("%s: PyTorch training ...\n" % prog)
            measure(row, argv, n, penv,
                    lambda i: preload.shim_environ(penv, lib, mode=mode,
                                                   log=os.path.join(work, "train-shim%d-%%p.jsonl" % (i + 1))),
                    args.timeout, work, "train")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    ran = [r for r in rows if not r.na]
    if args.json:
        json.dump({"gpu": gpu, "runs": n, "mode": mode, "rows": [r.as_json() for r in rows]},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("detshim doctor: %s, %d runs each plain and under the shim (%s)\n" % (gpu, n, mode))
        render(rows, sys.stdout)
    if not ran:
        raise DetshimError("cannot run: no probe could run and no PyTorch training (%s)"
                           % "; ".join("%s: %s" % (r.source.split(" (")[-1].rstrip(")"), r.na) for r in rows),
                           code=EXIT_CANNOT_RUN)
    bad = [r for r in ran if not r.ok()]
    if not args.json:
        sys.stdout.write("verdict: %s\n" % (
            "every row that ran is reproducible under the shim (%d of %d rows ran)" % (len(ran), len(rows))
            if not bad else "%d row(s) NOT reproducible under the shim: %s"
            % (len(bad), "; ".join(r.source for r in bad))))
    return EXIT_NOT_REPRODUCIBLE if bad else EXIT_OK
