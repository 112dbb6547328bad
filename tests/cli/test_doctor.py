"""detshim doctor without a GPU: the no-GPU answer, the table from recorded probe outputs
(fake probe executables via --probes, a fake libcuda.so.1 that answers one GPU), exit codes
0/1/2, and tests/gpu/measure.sh's no-GPU path."""

import os
import stat
import subprocess
import sys

from testlib import CMD, LIB, SRC, Tally, clean_env, detshim, preflight, run, tempdir

FAKE_CUDA_C = r"""
#include <stdlib.h>
#include <string.h>
static int env(const char *n, int d) { const char *e = getenv(n); return e ? atoi(e) : d; }
int cuInit(unsigned f) { (void)f; return env("FAKE_CU_INIT", 0); }
int cuDeviceGetCount(int *n) { *n = env("FAKE_CU_COUNT", 1); return 0; }
int cuDeviceGet(int *d, int o) { *d = o; return 0; }
int cuDeviceGetName(char *s, int len, int d) { (void)d; strncpy(s, "Test GPU X", len); return 0; }
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuGetErrorName(int e, const char **s) { *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }
"""

# A fake probe: prints a recorded output.  Plain runs (no libdetshim in LD_PRELOAD) give a
# new digest each run when VARY_PLAIN names it; shim runs a fixed one unless VARY_SHIM does.
FAKE_PROBE = r"""#!%(py)s
import json, os, sys
name = os.path.basename(sys.argv[0])
shim = "libdetshim" in os.environ.get("LD_PRELOAD", "")
cnt = os.path.join(os.environ["FAKE_STATE"], name + ("-shim" if shim else "-plain"))
n = int(open(cnt).read()) if os.path.exists(cnt) else 0
open(cnt, "w").write(str(n + 1))
if name in os.environ.get("FAIL_SHIM", "").split(",") and shim:
    print("%%s: cudaErrorIllegalAddress" %% name, file=sys.stderr); sys.exit(1)
vary = name in os.environ.get("VARY_SHIM" if shim else "VARY_PLAIN", "").split(",")
print("%%s: device 0: Test GPU X" %% name)
if name in os.environ.get("WITHIN", "").split(","):
    print("result repeats=7 differing=%%d" %% (6 if vary or not shim else 0))
print("digest %%016x" %% ((0x1234 + n) if vary else 0x1234))
if name in ("doctor_train.py", "train") :
    print("# ms_per_step %%s" %% ("11.0" if shim else "10.0"), file=sys.stderr)
if shim and name == "atomic_sum" and os.environ.get("NAME_IT"):
    log = os.environ["DETSHIM_LOG"].replace("%%p", str(os.getpid()))
    with open(log, "w") as f:
        f.write(json.dumps({"type": "event", "layer": "kernels", "action": "observed",
                            "kernel": "atomic_sum_kernel(float*, const float*, int)"}) + "\n")
"""

PROBES = ("atomic_sum", "cublas_streams", "cublaslt_align", "cudnn_bwd_filter")


def write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def main():
    t = Tally("doctor")
    if not preflight(t):
        return t.finish()
    tmp = tempdir()
    cudadir = os.path.join(tmp, "cuda")
    os.makedirs(cudadir)
    with open(os.path.join(tmp, "fake_cuda.c"), "w") as f:
        f.write(FAKE_CUDA_C)
    cc = subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(cudadir, "libcuda.so.1"),
                         os.path.join(tmp, "fake_cuda.c")], capture_output=True, text=True)
    if not t.ok(cc.returncode == 0, "the fake libcuda.so.1 builds", cc.stderr):
        return t.finish()
    pdir = os.path.join(tmp, "probes")
    os.makedirs(pdir)
    for p in PROBES:
        write_exe(os.path.join(pdir, p), FAKE_PROBE % {"py": sys.executable})
    fakepy = os.path.join(tmp, "train")
    write_exe(fakepy, FAKE_PROBE % {"py": sys.executable})

    def env(**kw):
        state = tempdir()
        e = clean_env(LD_LIBRARY_PATH=cudadir, FAKE_STATE=state, DETSHIM_LIB=LIB)
        e.update({k: v for k, v in kw.items()})
        return e

    def doctor(*args, **kw):
        return detshim("doctor", *args, env=env(**kw))

    # ---- no GPU: exit 2, one line ----------------------------------------------------------
    r = doctor("--probes", pdir, FAKE_CU_INIT="100")
    t.clean_error(r, "cuInit fails", code=2)
    t.contains(r.err, "cuInit returned CUDA_ERROR_NO_DEVICE (100)", "cuInit fails: names the error")
    t.ok(r.out == "", "cuInit fails: nothing on stdout", r)
    r = doctor("--probes", pdir, FAKE_CU_COUNT="0")
    t.clean_error(r, "no device", code=2)
    t.contains(r.err, "no CUDA GPU visible", "no device")
    try:
        import ctypes
        ctypes.CDLL("libcuda.so.1")
        have_driver = True
    except OSError:
        have_driver = False
    if not have_driver:  # this machine: no driver at all
        r = detshim("doctor", env=clean_env(DETSHIM_LIB=LIB))
        t.clean_error(r, "no driver", code=2)
        t.contains(r.err, "no NVIDIA driver: libcuda.so.1 cannot be loaded", "no driver")

    # ---- recorded outputs: plain varies, the shim fixes it -> 0 ------------------------------
    vary = ",".join(PROBES)
    r = doctor("--probes", pdir, "--no-torch", VARY_PLAIN=vary, NAME_IT="1", WITHIN="cudnn_bwd_filter")
    t.ok(r.rc == 0, "all fixed: exit 0", r)
    t.contains(r.out, "Test GPU X (CUDA driver 13.0)", "all fixed: the GPU is named")
    t.contains(r.out, "source of nondeterminism", "all fixed: header")
    lines = {l.split("|")[0].strip(): [c.strip() for c in l.split("|")] for l in r.out.splitlines() if "|" in l}
    row = next((v for k, v in lines.items() if "(cublas_streams)" in k), None)
    t.ok(row and row[1] == "3 of 3 runs" and row[2] == "1 of 3 runs: reproducible" and row[3].startswith("x")
         and row[3].endswith("wall"), "cublas row: 3 distinct plain, 1 under the shim, a cost", r)
    row = next((v for k, v in lines.items() if "(cudnn_bwd_filter)" in k), None)
    t.ok(row and "6 of 7 differ within a run" in row[1] and row[2] == "1 of 3 runs: reproducible",
         "cudnn row: the within-run result line is shown", r)
    row = next((v for k, v in lines.items() if "(atomic_sum)" in k), None)
    t.ok(row and row[2] == "1 of 3 runs: reproducible", "atomic row: fixed here (fake)", r)
    t.contains(r.out, "verdict: every row that ran is reproducible under the shim (4 of 4 rows ran)", "all fixed")
    # the fake probes saw the shim only in shim runs: 3 plain and 3 shim runs each
    # (checked through the counters the fakes keep)

    # ---- the shim does not fix one -> 1 ------------------------------------------------------
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", VARY_PLAIN=vary, VARY_SHIM="cublaslt_align")
    t.ok(r.rc == 1, "one not fixed: exit 1", r)
    t.contains(r.out, "2 of 2 runs: NOT reproducible", "one not fixed: the row says so")
    t.contains(r.out, "1 row(s) NOT reproducible under the shim: cuBLASLt", "one not fixed: verdict")
    # within-run variation under the shim counts too
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", WITHIN="cudnn_bwd_filter", VARY_SHIM="cudnn_bwd_filter_x")
    t.ok(r.rc == 0, "within-run equal under the shim: exit 0", r)
    # ---- atomics: passes when the log names the kernel, fails when not -------------------------
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", VARY_PLAIN=vary, VARY_SHIM="atomic_sum", NAME_IT="1")
    t.ok(r.rc == 0, "atomics named in the log: exit 0", r)
    t.contains(r.out, "2 of 2 runs: named in the log (no fix exists)", "atomics named")
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", VARY_PLAIN=vary, VARY_SHIM="atomic_sum")
    t.ok(r.rc == 1, "atomics not named: exit 1", r)
    # ---- a run that fails only under the shim -> 1 ----------------------------------------------
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", FAIL_SHIM="cublas_streams")
    t.ok(r.rc == 1, "fails under the shim: exit 1", r)
    t.contains(r.out, "FAILED under the shim (rc=1: cublas_streams: cudaErrorIllegalAddress)", "fails under the shim")

    # ---- probes missing: n/a rows; nothing at all -> 2 -------------------------------------------
    some = os.path.join(tmp, "some")
    os.makedirs(some)
    write_exe(os.path.join(some, "cublas_streams"), FAKE_PROBE % {"py": sys.executable})
    r = doctor("--probes", some, "--no-torch", "-n", "2")
    t.ok(r.rc == 0, "one probe present: exit 0", r)
    t.contains(r.out, "n/a (probe not built", "missing probes: n/a rows")
    t.contains(r.out, "(1 of 4 rows ran)", "missing probes: counted")
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    r = doctor("--probes", empty, "--no-torch", "-n", "2")
    t.clean_error(r, "nothing to run", code=2)
    t.contains(r.err, "cannot run: no probe found (none built in %s) and --no-torch given" % empty, "nothing to run")
    r = doctor("--probes", empty, "-n", "2", "--python", "/bin/false")
    t.ok(r.rc == 2 and "cannot run: no probe could run and no PyTorch training" in r.err,
         "nothing could run (training fails too): exit 2", r)
    r = doctor("--probes", os.path.join(tmp, "nope"))
    t.clean_error(r, "--probes not a directory", code=2)
    r = doctor("--probes", pdir, "-n", "1")
    t.clean_error(r, "-n 1", code=2)

    # ---- the training row, through --python (a fake python printing recorded outputs) ----------
    r = doctor("--probes", empty, "--python", fakepy, "-n", "2", VARY_PLAIN="train")
    t.ok(r.rc == 0, "training row: exit 0", r)
    t.contains(r.out, "| x1.10 ms/step", "training row: cost from ms/step")
    t.contains(r.out, "PyTorch training", "training row: named")
    # a Python without torch: n/a (the real doctor_train.py exits 77)
    r = doctor("--probes", some, "-n", "2", "--python", "/usr/bin/python3", PYTHONPATH=empty)
    t.ok(r.rc == 0 and ("torch is not importable" in r.out or "no usable CUDA" in r.out),
         "no torch/CUDA: the training row is n/a, the rest decides", r)
    # --json
    r = doctor("--probes", some, "--no-torch", "-n", "2", "--json")
    import json
    try:
        j = json.loads(r.out)
    except ValueError:
        j = {}
    t.ok(r.rc == 0 and j.get("runs") == 2 and len(j.get("rows", [])) == 4, "--json", r)
    # --out keeps the runs' outputs and the shim's logs
    keep = os.path.join(tmp, "keep")
    r = doctor("--probes", pdir, "--no-torch", "-n", "2", "--out", keep, NAME_IT="1")
    t.ok(os.path.isfile(os.path.join(keep, "cublas_streams-plain1.out"))
         and any(n.startswith("atomic_sum-shim") and n.endswith(".jsonl") for n in os.listdir(keep)),
         "--out keeps outputs and logs", sorted(os.listdir(keep)) if os.path.isdir(keep) else r)

    # ---- the shim really is preloaded in shim runs only, even when the caller preloads it -----
    spy = os.path.join(tmp, "spy")
    os.makedirs(spy)
    write_exe(os.path.join(spy, "cublas_streams"),
              "#!/bin/sh\necho \"seen ${LD_PRELOAD:-none} ${DETSHIM_MODE:-nomode}\" >> %s/seen\necho digest 1\n" % tmp)
    r = detshim("doctor", "--probes", spy, "--no-torch", "-n", "2", "--mode", "log",
                env=env(LD_PRELOAD=LIB))
    seen = open(os.path.join(tmp, "seen")).read().splitlines() if os.path.exists(os.path.join(tmp, "seen")) else []
    t.ok(r.rc == 0 and len(seen) == 4 and seen[0].startswith("seen none") and seen[1].startswith("seen none")
         and all(LIB in s and s.endswith(" log") for s in seen[2:]),
         "plain runs without the library (even preloaded by the caller), shim runs with it, --mode",
         "\n".join(seen) + "\n" + repr(r))

    # ---- the built-in training runs (CPU) where torch is importable ---------------------------
    train = os.path.join(SRC, "scripts", "detshimtool", "doctor_train.py")
    r1 = run([sys.executable, train, "--device", "cpu", "--steps", "4"], timeout=300)
    if "torch is not importable" in r1.err:
        print("skip the built-in training on the CPU: no torch here")
        t.ok(r1.rc == 77, "doctor_train without torch: exit 77", r1)
    else:
        r2 = run([sys.executable, train, "--device", "cpu", "--steps", "4"], timeout=300)
        t.ok(r1.rc == 0 and "digest " in r1.out and "# ms_per_step" in r1.err, "doctor_train runs on the CPU", r1)
        t.ok(r1.out == r2.out, "doctor_train on the CPU: the same digest twice", (r1, r2))

    # ---- tests/gpu/measure.sh without a GPU: one line, 77 -------------------------------------
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    write_exe(os.path.join(bindir, "nvidia-smi"), "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    r = run(["bash", os.path.join(SRC, "tests", "gpu", "measure.sh"), os.path.join(tmp, "nobuild")],
            env=clean_env(PATH=bindir + ":" + os.environ.get("PATH", "")))
    lines = [l for l in (r.out + r.err).splitlines() if l.strip()]
    t.ok(r.rc == 77 and len(lines) == 1 and "no GPU" in lines[0], "measure.sh without a GPU: exit 77, one line", r)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
