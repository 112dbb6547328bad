#!/usr/bin/env python3
"""detshim report and detshim diff on the hand-written logs in fixtures/, corrupt ones too.

fixtures/ (docs/log-format.md, schema 1):
  h100-run1.jsonl          rank 0 on an H100, enforce; 3 events, a notice, a summary
  h100-rank1-killed.jsonl  rank 1 of the same run, killed: no summary
  h100-run2.jsonl          same fingerprint as run1 (other node and pid), events in another order
  a100-run.jsonl           run1's events on an A100 (another GPU model, SM count, cc)
  shared-two-processes.jsonl  one file written by two processes (a template without %p)
  corrupt-*.jsonl          truncated line, not JSON, an array, no header, schema 2,
                           no type, a field of the wrong type, an empty file"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import FIXTURES, Tally, detshim, preflight, tempdir  # noqa: E402


def fx(name):
    return os.path.join(FIXTURES, name)


def main():
    t = Tally("logs")
    if not preflight(t):
        return t.finish()
    tmp = tempdir()
    try:
        # ---- report ------------------------------------------------------------------------------
        r = detshim("report", fx("h100-run1.jsonl"), fx("h100-rank1-killed.jsonl"))
        t.ok(r.rc == 0, "report on two ranks: exit 0", r)
        out = r.out
        t.contains(out, "detshim report: 2 processes in 2 logs", "report headline", r)
        t.contains(out, "h100-run1.jsonl: host node01, pid 4242, rank 0, mode enforce, GPU NVIDIA H100 80GB HBM3 "
                        "(132 SMs, cc 9.0, driver 12.8, runtime 12.8); 3 event records, summary",
                   "per-process line: host, pid, rank, mode, GPU from the device record", r)
        t.contains(out, "h100-rank1-killed.jsonl: host node01, pid 4243, rank 1", "rank 1's line", r)
        t.contains(out, "no summary (killed, _exit, or still running)", "a process without a summary is marked", r)
        lines = out.splitlines()
        rows = [l.split() for l in lines if l.strip()[:2] in ("1 ", "2 ", "3 ", "4 ")]
        # columns: # CALLS PYTHON-LINE FUNCTION LAYER CALL ACTION PROCS RANKS SITES ...
        t.contains(out, "culprits by Python line, most calls first", "culprits ranked by Python line", r)
        t.ok(len(rows) >= 4 and rows[0][1:6] == ["1500", "-", "-", "kernels", "cudaLaunchKernel"],
             "culprit 1: the summary's site count ranks the kernel launch first (1500 calls), no Python line", out)
        t.ok(len(rows) >= 4 and rows[1][1:10] == ["401", "/scratch/run1/model.py:41", "forward", "cublas",
                                                  "cublasSetAtomicsMode", "forced", "2", "0-1", "2"],
             "culprit 2: one Python line (rank 1's innermost frame, in site-packages, passed over): "
             "400 (summary) + 1 (event record of the rank without summary), 2 processes, ranks 0-1, 2 sites", out)
        t.ok(len(rows) >= 4 and rows[2][1:6] == ["50", "/scratch/run1/train.py:92", "step", "cudnn",
                                                 "cudnnConvolutionBackwardFilter"],
             "culprit 3: cudnn, 50 calls, its line", out)
        t.ok(len(rows) >= 4 and rows[3][1:7] == ["1", "-", "-", "cublas", "cublasGemmEx", "blocked"],
             "culprit 4: counted from its event record (no summary)", out)
        t.contains(out, "void at::native::indexFuncLargeIndex<float", "the kernel names the kernel-launch culprit", r)
        t.ok("#0 " not in out and "(native stacks: --native)" in out, "native stacks only on request", out)
        rn = detshim("report", "--native", fx("h100-run1.jsonl"), fx("h100-rank1-killed.jsonl"))
        t.contains(rn.out, "#0 at::cuda::getCurrentCUDABlasHandle() (libtorch_cuda.so+0x1f3a2c4)",
                   "--native: stack frame: function (module+offset)", rn)
        t.contains(rn.out, "#2 libtorch_cpu.so+0x2c11a0", "--native: stack frame without a function: module+offset", rn)
        t.contains(out, "/scratch/run1/model.py:41 in forward", "python stack shown", r)
        t.contains(out, "python: the calling thread holds no GIL", "pystack_note shown when there is no python stack", r)
        t.contains(out, "first in h100-rank1-killed.jsonl (pid 4243, seq 3)", "where a culprit was first seen", r)
        t.contains(out, "[cublaslt] cublasLtMatmulAlgoGetHeuristic not found", "notices listed", r)
        r = detshim("report", "--native", "--frames", "1", fx("h100-run1.jsonl"))
        t.contains(r.out, "... 2 more frames", "--frames limits the native stack", r)
        t.contains(r.out, "... 1 more frame\n", "--frames limits the Python stack", r)

        r = detshim("report", "--json", "--native", fx("h100-run1.jsonl"), fx("h100-rank1-killed.jsonl"))
        try:
            doc = json.loads(r.out)
        except ValueError:
            doc = None
        t.ok(r.rc == 0 and doc is not None, "report --json: valid JSON", r)
        if doc:
            t.ok(len(doc["processes"]) == 2 and doc["processes"][0]["device"]["sm_count"] == 132,
                 "report --json: processes with their device", doc["processes"])
            c0 = doc["culprits"][0]
            t.ok(c0["symbol"] == "cudaLaunchKernel" and c0["count"] == 1500 and c0["kernel"].startswith("void at::native"),
                 "report --json: culprit 1", c0)
            t.ok(doc["culprits"][1]["count"] == 401 and doc["culprits"][1]["processes"] == 2
                 and doc["culprits"][1]["ranks"] == [0, 1]
                 and doc["culprits"][1]["python"] == {"file": "/scratch/run1/model.py", "line": 41, "function": "forward"},
                 "report --json: culprit 2 merged over ranks, with its Python line", doc["culprits"][1])
            t.ok(doc["culprits"][1]["stack"][0]["function"] == "at::cuda::getCurrentCUDABlasHandle()",
                 "report --json: first stack", doc["culprits"][1])

        logdir = os.path.join(tmp, "logs")
        os.makedirs(logdir)
        for n in ("h100-run1.jsonl", "h100-rank1-killed.jsonl"):
            shutil.copy(fx(n), logdir)
        r = detshim("report", logdir, os.path.join(logdir, "h100-run1.jsonl"))
        t.ok(r.rc == 0 and "2 processes in 2 logs" in r.out, "a directory stands for its *.jsonl; a file given twice counts once", r)

        r = detshim("report", fx("shared-two-processes.jsonl"))
        t.ok(r.rc == 0, "report on a file shared by two processes: exit 0", r)
        t.contains(r.out, "shared-two-processes.jsonl#100: host node02, pid 100", "process 100 of the shared file", r)
        t.contains(r.out, "shared-two-processes.jsonl#101: host node02, pid 101", "process 101 of the shared file", r)
        t.contains(r.out, "GPU no device record", "no device record said", r)
        rows = [l.split() for l in r.out.splitlines() if l.strip().startswith("1 ")]
        t.ok(rows and rows[0][1:6] == ["3", "-", "-", "cublaslt", "cublasLtMatmul"] and rows[0][7:11] == ["2", "-", "3", "heuristic"],
             "records go to the process of their pid: 3 calls, 2 processes, 3 sites", r)

        # ---- diff: different GPUs -----------------------------------------------------------------
        r = detshim("diff", fx("h100-run1.jsonl"), fx("a100-run.jsonl"))
        t.ok(r.rc == 1, "diff H100 vs A100: exit 1", r)
        t.contains(r.out, "verdict: bitwise equality is NOT expected between these runs: device.name differs "
                          "(GPU model: NVIDIA H100 80GB HBM3 vs NVIDIA A100-SXM4-80GB)",
                   "diff names the GPU model field", r)
        t.contains(r.out, "device.sm_count differs (SM count: 132 vs 108)", "diff names the SM count", r)
        t.contains(r.out, "device.compute_capability differs", "diff names the compute capability", r)
        t.contains(r.out, "events: the sequences are identical (3 events each)", "same events", r)
        t.contains(r.out, "result: different", "result line", r)
        r = detshim("diff", "--json", fx("h100-run1.jsonl"), fx("a100-run.jsonl"))
        try:
            doc = json.loads(r.out)
        except ValueError:
            doc = {}
        t.ok(r.rc == 1 and doc.get("bitwise_expected") == "no" and doc.get("equal") is False,
             "diff --json: bitwise not expected", r)
        fields = {d["field"]: d for d in doc.get("fingerprint_differences", [])}
        t.ok(fields.get("device.name", {}).get("severity") == "not expected" and
             fields.get("host", {}).get("severity") == "info", "diff --json: severities per field", fields)

        # ---- diff: same fingerprint, different event sequences -------------------------------------
        r = detshim("diff", fx("h100-run1.jsonl"), fx("h100-run2.jsonl"))
        t.ok(r.rc == 1, "diff of two H100 runs with different events: exit 1", r)
        t.contains(r.out, "verdict: bitwise equality is expected: same GPU, libraries, pins, mode and environment",
                   "same fingerprint: equality expected", r)
        t.contains(r.out, "events: the event sequences part at event 2:", "where the sequences part", r)
        t.contains(r.out, "A: cudnn cudnnConvolutionBackwardFilter forced", "A's event at the parting point", r)
        t.contains(r.out, "B: kernels cudaLaunchKernel observed: void at::native::indexFuncLargeIndex",
                   "B's event at the parting point", r)
        t.ok("NOT expected" not in r.out, "host, pid and log path do not count against equality", r)
        t.contains(r.out, "no effect on results", "informational differences are marked as such", r)

        r = detshim("diff", fx("h100-run1.jsonl"), fx("h100-run1.jsonl"))
        t.ok(r.rc == 0 and "result: equal" in r.out and "the sequences are identical" in r.out,
             "diff of a log with itself: equal, exit 0", r)

        # a shorter sequence, a differing driver, a differing pinned variable
        short = os.path.join(tmp, "short.jsonl")
        with open(fx("h100-run1.jsonl")) as f, open(short, "w") as g:
            for line in f:
                rec = json.loads(line)
                if rec.get("seq") in (3, 4, 6):
                    continue
                if rec["type"] == "device":
                    rec["driver_version"] = 12090
                if rec["type"] == "header":
                    rec["env"]["CUBLAS_WORKSPACE_CONFIG"] = ":16:8"
                g.write(json.dumps(rec) + "\n")
        r = detshim("diff", fx("h100-run1.jsonl"), short)
        t.ok(r.rc == 1, "diff with a shorter log: exit 1", r)
        t.contains(r.out, "the event sequences agree for 1 event, then A has 2 more", "a prefix sequence is described", r)
        t.contains(r.out, "env CUBLAS_WORKSPACE_CONFIG differs", "a determinism variable difference rules equality out", r)
        t.contains(r.out, "device.driver_version", "driver difference listed", r)

        r = detshim("diff", fx("shared-two-processes.jsonl"), fx("h100-run1.jsonl"))
        t.clean_error(r, "diff on a file of two processes")
        t.contains(r.err, "holds 2 processes", "diff refuses a shared file, and says why", r)

        # ---- corrupt and missing inputs: one line naming file and line, exit 2 ----------------------
        garbage = os.path.join(tmp, "garbage.jsonl")
        with open(garbage, "wb") as f:
            f.write(bytes(range(256)) * 4)
        nonutf = os.path.join(tmp, "nonutf8.jsonl")
        with open(nonutf, "wb") as f:
            f.write(b"\xff\xfe\x80\x81 binary\n")
        cases = [
            ("corrupt-truncated.jsonl", ":3: truncated line"),
            ("corrupt-notjson.jsonl", ":2: not valid JSON"),
            ("corrupt-array.jsonl", ":2: an array, not a JSON object"),
            ("corrupt-noheader.jsonl", ":1: the first record is 'event', not the header"),
            ("corrupt-schema2.jsonl", ":1: log schema 2 is not supported"),
            ("corrupt-notype.jsonl", ":2: record without a 'type'"),
            ("corrupt-badfield.jsonl", ":2: event record: 'symbol' is an integer, not a string"),
            ("corrupt-empty.jsonl", ": empty file"),
            (garbage, ":1: binary data"),
            (nonutf, ":1: binary data (not UTF-8 text)"),
            (os.path.join(tmp, "missing.jsonl"), ": no such file"),
        ]
        for name, needle in cases:
            path = name if os.path.isabs(name) else fx(name)
            base = os.path.basename(path)
            r = detshim("report", path)
            t.clean_error(r, "report " + base)
            t.contains(r.err, path + needle, "report %s: names file, line and fault" % base, r)
            r = detshim("diff", fx("h100-run1.jsonl"), path)
            t.clean_error(r, "diff against " + base)
            t.ok(path in r.err, "diff against %s: names the file" % base, r)
        r = detshim("report", fx("h100-run1.jsonl"), fx("corrupt-notjson.jsonl"))
        t.clean_error(r, "report with one good and one corrupt log")
        r = detshim("report", tmp)
        t.clean_error(r, "report on a directory holding no log")
        r = detshim("diff", tmp, fx("h100-run1.jsonl"))
        t.clean_error(r, "diff on a directory")
        r = detshim("report")
        t.clean_error(r, "report without a log")
        r = detshim("diff", fx("h100-run1.jsonl"))
        t.clean_error(r, "diff with one log")
        real_logs(t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.finish()


def real_logs(t, tmp):
    """Logs the shim itself writes (in front of the fake vendor libraries of tests/fakes,
    driven by tests/progs/core_prog, when those are built): report and diff read them,
    and two runs of one program compare equal although handle addresses differ."""
    from testlib import BUILD, clean_env
    fakes = os.path.join(BUILD, "tests", "fakes")
    prog = os.path.join(BUILD, "tests", "progs", "core_prog")
    if not (os.path.isdir(fakes) and os.access(prog, os.X_OK)):
        print("(tests/fakes or tests/progs/core_prog not built: the real-log case is skipped)")
        return
    env = clean_env(LD_LIBRARY_PATH=fakes)
    d = os.path.join(tmp, "real")
    os.makedirs(d)
    for name, args in (("a", ["twosites"]), ("b", ["twosites"]), ("c", ["create", "50"])):
        r = detshim("run", "--log", os.path.join(d, name + "-%p.jsonl"), "--", prog, *args, env=env)
        t.ok(r.rc == 0, "real log %s: the program ran under detshim run" % name, r)
    logs = {n: [os.path.join(d, f) for f in os.listdir(d) if f.startswith(n + "-")] for n in "abc"}
    if not t.ok(all(len(v) == 1 for v in logs.values()), "real logs: one per run", logs):
        return
    a, b, c = logs["a"][0], logs["b"][0], logs["c"][0]
    r = detshim("report", "--native", a, c)
    t.ok(r.rc == 0 and "2 processes in 2 logs" in r.out, "report reads the shim's own logs", r)
    t.contains(r.out, "cublasCreate_v2", "report: the hooked symbol", r)
    t.contains(r.out, "(core_prog+0x", "report: frames as function (module+offset)", r)
    t.contains(r.out, "0x...", "report: addresses in details are masked, so one culprit, not one per handle", r)
    r = detshim("diff", a, b)
    t.ok(r.rc == 0 and "result: equal" in r.out, "diff: two runs of one program are equal (addresses masked)", r)
    r = detshim("diff", a, c)
    t.ok(r.rc == 1 and "call counts differ" in r.out, "diff: a different workload differs", r)


if __name__ == "__main__":
    sys.exit(main())
