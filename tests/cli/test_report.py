#!/usr/bin/env python3
"""detshim report and diff by Python line: culprits keyed and ranked by the program's own
Python line, ranks merged, C++ names demangled (c++filt, and the fallback without it),
native stacks only with --native; a hash-trace diff names the Python line first.

fixtures/torch-pylines.jsonl: two ranks, put_ alerts from two Python lines of one function
(20 and 5 calls on rank 0, twice that on rank 1), and a kernel launched by an autograd
worker (no Python on that thread).  Real logs: tests/progs' libmiddle called through
ctypes.CDLL (the GIL released) from tests/layers/torch/py/nogil.py, under the shim."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BUILD, FIXTURES, SRC, Tally, clean_env, detshim, preflight, run, tempdir  # noqa: E402

TORCH_FX = os.path.join(FIXTURES, "torch-pylines.jsonl")
ALERT = "at::Context::alertNotDeterministic"


def rows_of(out):
    return [l.split() for l in out.splitlines() if l.strip()[:2] in ("1 ", "2 ", "3 ", "4 ")]


def fixture_cases(t):
    r = detshim("report", TORCH_FX)
    t.ok(r.rc == 0, "report: exit 0", r)
    rows = rows_of(r.out)
    t.ok(len(rows) == 3, "three culprits: two Python lines of one op, and a kernel", r.out)
    if len(rows) == 3:
        t.ok(rows[0][1:10] == ["60", "/home/u/train.py:8", "scatter", "torch", ALERT, "observed", "2", "0-1", "2"],
             "1st: the line with the most calls (20 + 40), its function, the demangled hook, "
             "both processes, ranks 0-1, 2 sites", rows[0])
        t.ok(rows[0][10:] == ["put_"], "1st: the op", rows[0])
        t.ok(rows[1][1:4] == ["15", "/home/u/train.py:9", "scatter"], "2nd: the other line (5 + 10)", rows[1])
        t.ok(rows[2][1:6] == ["4", "-", "-", "kernels", "cudaLaunchKernel"],
             "3rd: the autograd worker's kernel, no Python line", rows[2])
        t.contains(r.out, "void at::native::indexFuncLargeIndexKernel<float>(float*, int)",
                   "the kernel's name demangled", r.out)
    t.contains(r.out, "/home/u/train.py:14 in train", "the caller's line in the culprit's Python stack", r.out)
    t.contains(r.out, "python: no Python frame on this thread: a torch autograd worker thread (pt_autograd_0)",
               "the autograd worker's note", r.out)
    t.ok("_ZN" not in r.out, "no mangled name left", r.out)
    t.ok("libtorch_cpu" not in r.out and "(native stacks: --native)" in r.out,
         "native stacks not shown unless asked", r.out)

    r = detshim("report", "--native", TORCH_FX)
    t.contains(r.out, "#0 at::native::put_(at::Tensor&, at::Tensor const&, at::Tensor const&, bool) "
                      "(libtorch_cpu.so.1.13+0x1a2b3c)", "--native: frames demangled (the 'mangled' field)", r.out)
    t.contains(r.out, "#1 at::_ops::put_::call(", "--native: a mangled 'function' demangled too", r.out)

    r = detshim("report", "--native", TORCH_FX, env=clean_env(DETSHIM_NO_CXXFILT="1"))
    rows = rows_of(r.out)
    t.ok(rows and rows[0][5] == ALERT, "without c++filt: the fallback's qualified name", rows)
    t.contains(r.out, "#0 at::native::put_(...) (libtorch_cpu.so.1.13+0x1a2b3c)",
               "without c++filt: frames get the fallback's name", r.out)
    t.ok("_ZN" not in r.out, "without c++filt: no mangled name left", r.out)

    r = detshim("report", "--json", TORCH_FX)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = None
    if t.ok(doc is not None, "--json: valid", r):
        c = doc["culprits"][0]
        t.ok(c["python"] == {"file": "/home/u/train.py", "line": 8, "function": "scatter"}
             and c["ranks"] == [0, 1] and c["count"] == 60 and c["op"] == "put_"
             and c["symbol_demangled"].startswith(ALERT + "(") and "stack" not in c,
             "--json: python line, ranks, op, demangled symbol, no native stack unless asked", c)
        t.ok(doc["culprits"][2]["python"] is None, "--json: no Python line: null", doc["culprits"][2])


def trace(path, pid, calls):
    with open(path, "w") as f:
        f.write(json.dumps({"type": "trace_header", "format": "detshim-hash-trace", "version": 2,
                            "pid": pid, "host": "h", "digest": "detshim-wordsum64"}, separators=(",", ":")) + "\n")
        for c in calls:
            f.write(json.dumps(c, separators=(",", ":")) + "\n")


def hash_diff_cases(t, tmp):
    stack = [{"frame": 0, "module": "/usr/lib/libtorch_cuda.so", "offset": "0x10",
              "mangled": "_ZN2at6native11gemm_kernelIfEEvi"},
             {"frame": 1, "module": "/usr/lib/libtorch_cuda.so", "offset": "0x20",
              "function": "_ZN2at6native4mmOpEv"}]
    py = [{"file": "/home/u/model.py", "line": 41, "function": "forward"},
          {"file": "/home/u/train.py", "line": 88, "function": "step"}]

    def calls(out):
        return [{"type": "call", "seq": 1, "tid": 1, "call": "cublasSgemm_v2", "site": "0x1", "count": 0,
                 "what": "gemm", "bytes": 64, "in": "0xa", "out": out, "stack": stack, "pystack": py}]
    a, b = os.path.join(tmp, "a.trace.jsonl"), os.path.join(tmp, "b.trace.jsonl")
    trace(a, 1, calls("0xb"))
    trace(b, 2, calls("0xc"))
    r = detshim("diff", a, b)
    t.ok(r.rc == 1, "hash diff: different: exit 1", r)
    t.contains(r.out, "  called from model.py:41 in forward <- train.py:88 in step\n",
               "hash diff: the Python line first, native caller not shown", r.out)
    r = detshim("diff", "--native", a, b)
    t.contains(r.out, "  called from model.py:41 in forward <- train.py:88 in step; native: "
                      "void at::native::gemm_kernel<float>(int) (libtorch_cuda.so+0x10) <- at::native::mmOp()",
               "hash diff --native: then the native caller, demangled", r.out)


def real_cases(t, tmp):
    lib = os.path.join(BUILD, "tests", "progs", "libmiddle.so")
    fakes = os.path.join(BUILD, "tests", "fakes")
    shim = os.path.join(BUILD, "shim", "libdetshim.so")
    prog = os.path.join(SRC, "tests", "layers", "torch", "py", "nogil.py")
    py = "/usr/bin/python3"
    if not (os.path.isfile(lib) and os.path.isdir(fakes) and os.access(py, os.X_OK)):
        print("(libmiddle, the fakes or /usr/bin/python3 missing: the real-log case is skipped)")
        return
    d = os.path.join(tmp, "real")
    os.makedirs(d)
    env = clean_env(LD_LIBRARY_PATH=fakes, LD_PRELOAD=shim, DETSHIM_LOG=os.path.join(d, "r-%p.jsonl"))
    r = run([py, prog, lib], env=env)
    t.ok(r.rc == 0 and "done" in r.out, "real: nogil.py ran under the shim", r)
    r = detshim("report", d)
    rows = rows_of(r.out)
    line = [i for i, l in enumerate(open(prog), 1) if l.rstrip().endswith("# <- CREATE")][0]
    # (a handle address shorter than 8 hex digits is not masked in the detail: rows may split)
    t.ok(rows and all(x[2].endswith("/nogil.py:%d" % line) and x[3:6] == ["create", "cublas", "cublasCreate_v2"]
                      for x in rows)
         and sum(int(x[1]) for x in rows) == 7 and sum(int(x[9]) for x in rows) == 3,
         "real: the GIL released, every row at the program's line, 7 calls from 3 Python paths (3 sites)", r.out)


def main():
    t = Tally("report")
    if not preflight(t):
        return t.finish()
    tmp = tempdir()
    try:
        fixture_cases(t)
        hash_diff_cases(t, tmp)
        real_cases(t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
