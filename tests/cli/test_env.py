#!/usr/bin/env python3
"""detshim env: the pins, observed in a child under the shim, with the reasons from
shim/core/pins.def; and this machine's fingerprint."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shutil  # noqa: E402
import subprocess  # noqa: E402

from testlib import LIB, PY, SRC, Tally, clean_env, detshim, preflight, tempdir  # noqa: E402


def pins_def(optin=False):
    """[(var, value, reason)] from shim/core/pins.def (C string literals joined): the pins
    made by default, or (optin=True) [(var, value, reason, switch)] for PIN_OPTIN."""
    with open(os.path.join(SRC, "shim", "core", "pins.def")) as f:
        text = f.read()
    out = []
    for m in re.finditer(r"^PIN(_OPTIN)?\((.*?)\)\s*$", text, re.M | re.S):
        # [switch,] layer, "var", "value", accept ("..." or NULL), "reason" "continued"...
        tok = re.findall(r'"(?:[^"\\]|\\.)*"|\bNULL\b|\b\w+\b', m.group(2))
        lit = [x[1:-1] if x.startswith('"') else x for x in tok]
        if bool(m.group(1)) != optin:
            continue
        if optin:
            out.append((lit[2], lit[3], "".join(lit[5:]), lit[0]))
        else:
            out.append((lit[1], lit[2], "".join(lit[4:])))
    return out


def python_wheels(t):
    """The CUDA libraries of a Python environment's nvidia-* wheels: a venv whose
    site-packages holds a fake nvidia/ tree, chosen by --python and by VIRTUAL_ENV."""
    tmp = tempdir()
    try:
        venv = os.path.join(tmp, "venv")
        r = subprocess.run([PY, "-m", "venv", "--without-pip", venv], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            t.ok(True, "python wheels: no venv module here (%s), not checked" % r.stderr.decode()[:80])
            return
        py = os.path.join(venv, "bin", "python3")
        sp = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"],
                            stdout=subprocess.PIPE).stdout.decode().strip()
        files = {"cublas/lib/libcublas.so.12": "", "cublas/lib/libcublasLt.so.12": "",
                 "cudnn/lib/libcudnn.so.9": "", "cudnn/lib/libcudnn_ops.so.9": "",
                 "cu13/lib/libcudart.so.13": "", "cublas/lib/README.txt": ""}
        for rel in files:
            path = os.path.join(sp, "nvidia", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        os.symlink("libcublas.so.12", os.path.join(sp, "nvidia", "cublas", "lib", "libcublas.so"))
        for how, args, env in (("--python", ("env", "--python", py), clean_env()),
                               ("VIRTUAL_ENV", ("env",), clean_env(VIRTUAL_ENV=venv))):
            r = detshim(*args, env=env)
            t.ok(r.rc == 0, "python wheels (%s): exit 0" % how, r)
            t.contains(r.out, "python environment: %s" % py, "python wheels (%s): the interpreter named" % how, r)
            for name, ver, wheel in (("libcublas", "12", "cublas"), ("libcublasLt", "12", "cublas"),
                                     ("libcudnn", "9", "cudnn"), ("libcudnn_ops", "9", "cudnn"),
                                     ("libcudart", "13", "cu13")):
                t.ok(re.search(r"^      %s\s+%s\s+nvidia/%s\s+\S*/nvidia/%s/lib/%s\.so\.%s$"
                               % (name, ver, wheel, wheel, name, ver), r.out, re.M) is not None,
                     "python wheels (%s): %s.so.%s from nvidia/%s listed" % (how, name, ver, wheel), r)
            t.ok("README" not in r.out, "python wheels (%s): only shared objects" % how, r)
            t.ok(r.out.count("/nvidia/cublas/lib/libcublas.so.12") == 1,
                 "python wheels (%s): a symlink and its target listed once" % how, r)
        r = detshim("env", "--json", "--python", py)
        try:
            doc = json.loads(r.out)["machine"]["python_cuda_libraries"]
        except (ValueError, KeyError):
            doc = {}
        libs = {(x["name"], x["wheel"]): x for x in doc.get("libraries", [])}
        t.ok(len(libs) == 5 and libs.get(("libcudnn", "nvidia/cudnn"), {}).get("vendor") is True and
             libs.get(("libcudnn_ops", "nvidia/cudnn"), {}).get("vendor") is False,
             "python wheels: --json lists them, vendor libraries marked", doc)
        r = detshim("env", "--python", os.path.join(tmp, "nope"))
        t.ok(r.rc == 0 and "python environment: cannot ask" in r.out,
             "python wheels: an interpreter that cannot run is named, env still works", r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = Tally("env")
    if not preflight(t):
        return t.finish()
    pins = pins_def()
    optin = pins_def(optin=True)
    t.ok(len(pins) >= 5 and pins[0][0] == "NCCL_ALGO", "pins.def parsed", pins)
    t.ok([(o[0], o[3]) for o in optin] == [("CUBLAS_WORKSPACE_CONFIG", "DETSHIM_CUBLAS_WORKSPACE_CONFIG")],
         "pins.def: CUBLAS_WORKSPACE_CONFIG is an opt-in pin", optin)

    r = detshim("env")
    t.ok(r.rc == 0, "env: exit 0", r)
    out = r.out
    t.contains(out, "detshim env: the shim in mode enforce (library %s)" % LIB, "mode and library", r)
    t.ok("CUBLAS_WORKSPACE_CONFIG=:4096:8  (set" not in out, "CUBLAS_WORKSPACE_CONFIG is not pinned by default", r)
    for var, value, reason, switch in optin:
        t.contains(out, "not pinned unless asked: %s=%s  (%s=1 exports it)" % (var, value, switch),
                   "the opt-in pin %s and its switch are shown" % var, r)
        t.contains(out, "why: " + reason, "reason for %s (from pins.def)" % var, r)
    for var, value, reason in pins:
        t.contains(out, "%s=%s  (set; it was unset)" % (var, value), "pin %s shown" % var, r)
        t.contains(out, "why: " + reason, "reason for %s (from pins.def)" % var, r)
    t.contains(out, "this machine:", "machine section", r)
    t.contains(out, "host: ", "host", r)
    t.contains(out, "cpus: %d" % os.cpu_count(), "cpu count", r)
    t.ok(re.search(r"^  gpus: ", out, re.M) is not None, "a gpus line (nvidia-smi, or why not)", r)
    t.ok(re.search(r"^  cuda libraries", out, re.M) is not None, "a cuda libraries line", r)
    t.ok(r.err == "", "env: nothing on stderr", r)

    # the opt-in: a value the shim replaces, a value it accepts (kept, not listed), a disabled layer
    r = detshim("env", env=clean_env(DETSHIM_CUBLAS_WORKSPACE_CONFIG="1"))
    t.contains(r.out, "CUBLAS_WORKSPACE_CONFIG=:4096:8  (set; it was unset)", "opted in: the cuBLAS pin, observed", r)
    t.ok("not pinned unless asked" not in r.out, "opted in: not listed as not pinned", r)
    r = detshim("env", env=clean_env(CUBLAS_WORKSPACE_CONFIG="bad (value)", NCCL_ALGO="Tree"))
    t.ok("CUBLAS_WORKSPACE_CONFIG=:4096:8  (replaced" not in r.out,
         "not opted in: the user's own value is left alone", r)
    r = detshim("env", env=clean_env(CUBLAS_WORKSPACE_CONFIG="bad (value)", NCCL_ALGO="Tree",
                                     DETSHIM_CUBLAS_WORKSPACE_CONFIG="yes"))
    t.contains(r.out, "CUBLAS_WORKSPACE_CONFIG=:4096:8  (replaced 'bad (value)')", "a replaced value is named", r)
    t.ok("NCCL_ALGO=" not in r.out.split("this machine:")[0],
         "a variable the user set (set-if-unset pin) is not listed as pinned", r)
    t.contains(r.out, "    NCCL_ALGO=Tree", "and shows among the variables set now", r)
    r = detshim("env", env=clean_env(CUBLAS_WORKSPACE_CONFIG=":16:8", DETSHIM_CUBLAS_WORKSPACE_CONFIG="1"))
    t.ok("CUBLAS_WORKSPACE_CONFIG=:4096:8" not in r.out, "an accepted value (:16:8) is kept", r)
    r = detshim("env", "--disable", "env", env=clean_env(DETSHIM_CUBLAS_WORKSPACE_CONFIG="1"))
    pinned = r.out.split("this machine:")[0]
    t.ok("CUBLAS_WORKSPACE_CONFIG=:4096:8" in pinned and "NCCL_ALGO=" not in pinned,
         "--disable env: only the cublas layer's pin is made", r)

    r = detshim("env", "--mode", "log")
    t.ok(r.rc == 0, "env --mode log: exit 0", r)
    t.contains(r.out, "none: the shim pins variables in enforce and strict mode only", "log mode pins nothing", r)
    r = detshim("env", env=clean_env(DETSHIM_MODE="strict"))
    t.contains(r.out, "the shim in mode strict", "DETSHIM_MODE from the environment is the default", r)
    r = detshim("env", env=clean_env(DETSHIM_MODE="bogus"))
    t.ok(r.rc == 0, "an invalid DETSHIM_MODE: the shim falls back to enforce", r)
    t.contains(r.out, "the shim said: DETSHIM_MODE='bogus' is not valid", "the shim's own complaint is shown", r)
    t.contains(r.out, "NCCL_ALGO=Ring", "and the enforce pins", r)

    r = detshim("env", env=clean_env(LD_PRELOAD=LIB))
    t.contains(r.out, "NCCL_ALGO=Ring  (set; it was unset)",
               "env from a process that has the shim preloaded still sees the pins", r)

    r = detshim("env", "--json", env=clean_env(DETSHIM_CUBLAS_WORKSPACE_CONFIG="1"))
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = {}
    t.ok(r.rc == 0 and doc.get("mode") == "enforce", "env --json: valid, mode", r)
    p = {x["var"]: x for x in doc.get("pins", [])}
    t.ok(p.get("CUBLAS_WORKSPACE_CONFIG", {}).get("value") == ":4096:8" and
         p["CUBLAS_WORKSPACE_CONFIG"]["reason"] == optin[0][2] and p["CUBLAS_WORKSPACE_CONFIG"]["in_effect"],
         "env --json: the cuBLAS pin with its reason", doc.get("pins"))
    t.ok(isinstance(doc.get("machine", {}).get("cuda_libraries"), list), "env --json: cuda libraries list", doc)

    python_wheels(t)

    r = detshim("env", "--mode", "bogus")
    t.clean_error(r, "env --mode bogus")
    r = detshim("env", env=clean_env(DETSHIM_LIB="/nonexistent/libdetshim.so"))
    t.clean_error(r, "env with a missing library")
    t.contains(r.err, "/nonexistent/libdetshim.so", "missing library named", r)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
