#!/usr/bin/env python3
"""detshim env: the pins, observed in a child under the shim, with the reasons from
shim/core/pins.def; and this machine's fingerprint."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import LIB, SRC, Tally, clean_env, detshim, preflight  # noqa: E402


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
        if value == "@cpus":  # computed: the CPUs this process may run on
            value = str(len(os.sched_getaffinity(0)))
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

    r = detshim("env", "--mode", "bogus")
    t.clean_error(r, "env --mode bogus")
    r = detshim("env", env=clean_env(DETSHIM_LIB="/nonexistent/libdetshim.so"))
    t.clean_error(r, "env with a missing library")
    t.contains(r.err, "/nonexistent/libdetshim.so", "missing library named", r)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
