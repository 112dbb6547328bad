#!/usr/bin/env python3
"""detshim run: LD_PRELOAD prepended once, DETSHIM_* set, exec and its failures."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import LIB, PY, Tally, clean_env, detshim, preflight, tempdir  # noqa: E402

SHOW = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in "
        "('LD_PRELOAD', 'DETSHIM_MODE', 'DETSHIM_LOG', 'DETSHIM_DISABLE', 'DETSHIM_VERBOSE', "
        "'DETSHIM_HASH', 'DETSHIM_LIB', 'NCCL_ALGO')}))")


def child_env(t, r, what):
    t.ok(r.rc == 0, "%s: exit 0" % what, r)
    try:
        return json.loads(r.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        t.ok(False, "%s: the child printed its environment" % what, r)
        return {}


def main():
    t = Tally("run")
    if not preflight(t):
        return t.finish()
    tmp = tempdir()
    try:
        # -- the plain case: the library preloaded, the shim's default mode pins ---------------
        r = detshim("run", "--", PY, "-c", SHOW, cwd=tmp)
        e = child_env(t, r, "run -- python")
        t.ok(e.get("LD_PRELOAD") == LIB, "LD_PRELOAD is exactly the library", e)
        t.ok(e.get("NCCL_ALGO") == "Ring",
             "the shim ran in the child (enforce pins NCCL_ALGO=Ring)", e)
        t.ok(e.get("DETSHIM_MODE") is None, "no --mode: DETSHIM_MODE left alone", e)

        # -- every option becomes its variable ----------------------------------------------
        r = detshim("run", "--mode", "log", "--log", "logs/x-%p-%r.jsonl", "--disable", "cudnn, kernels",
                    "-v", "--hash", "--", PY, "-c", SHOW, cwd=tmp)
        e = child_env(t, r, "run with every option")
        t.ok(e.get("DETSHIM_MODE") == "log", "--mode log sets DETSHIM_MODE=log", e)
        t.ok(e.get("DETSHIM_LOG") == os.path.join(tmp, "logs/x-%p-%r.jsonl"),
             "--log sets DETSHIM_LOG, made absolute, escapes kept", e)
        t.ok(e.get("DETSHIM_DISABLE") == "cudnn,kernels", "--disable sets DETSHIM_DISABLE (normalised)", e)
        t.ok(e.get("DETSHIM_VERBOSE") == "1", "-v sets DETSHIM_VERBOSE=1", e)
        t.ok(e.get("DETSHIM_HASH") == "1", "--hash sets DETSHIM_HASH=1", e)
        t.ok(e.get("NCCL_ALGO") is None, "mode log pins nothing", e)
        r = detshim("run", "-v", "-v", "--print-env", "--", "true")
        t.contains(r.out, "DETSHIM_VERBOSE=2\n", "-v -v")

        r = detshim("run", "--mode", "ENFORCE", "-v", "--", PY, "-c", SHOW, cwd=tmp)
        e = child_env(t, r, "run --mode ENFORCE -v")
        t.ok(e.get("DETSHIM_MODE") == "enforce", "modes are case-insensitive, passed lower-case", e)
        t.contains(r.err, "detshim: pinned NCCL_ALGO=Ring", "verbose shim on stderr", r)

        # -- LD_PRELOAD: prepended to what is there, never twice --------------------------------
        other = os.path.join(tmp, "other", "libother.so")
        os.makedirs(os.path.dirname(other))
        shutil.copy(LIB, other)           # a real, different file: it loads, then passes through
        r = detshim("run", "--", PY, "-c", SHOW, env=clean_env(LD_PRELOAD=other))
        e = child_env(t, r, "run with another LD_PRELOAD")
        t.ok(e.get("LD_PRELOAD") == LIB + ":" + other, "the library is prepended to an existing LD_PRELOAD", e)

        r = detshim("run", "--", PY, "-c", SHOW, env=clean_env(LD_PRELOAD=other + " " + LIB))
        e = child_env(t, r, "run with the library already preloaded (blank-separated)")
        t.ok(e.get("LD_PRELOAD") == other + " " + LIB, "already in LD_PRELOAD: left as it is", e)

        link = os.path.join(tmp, "link-to-libdetshim.so")
        os.symlink(LIB, link)
        r = detshim("run", "--", PY, "-c", SHOW, env=clean_env(LD_PRELOAD=link))
        e = child_env(t, r, "run with the library preloaded under another path")
        t.ok(e.get("LD_PRELOAD") == link, "the same file under another path counts as present", e)

        r = detshim("run", "--print-env", "--", "true", env=clean_env(LD_PRELOAD="/x/liba.so:/y/libb.so"))
        t.contains(r.out, "LD_PRELOAD=%s:/x/liba.so:/y/libb.so\n" % LIB, "--print-env shows the prepended list")
        t.contains(r.out, "DETSHIM_LIB=%s\n" % LIB, "--print-env shows DETSHIM_LIB")

        # -- detshim itself running under the shim (the detshim-preload module): the pins the
        #    shim made in detshim's own process are not passed on as if the user had set them
        r = detshim("run", "--mode", "log", "--", PY, "-c", SHOW, env=clean_env(LD_PRELOAD=LIB))
        e = child_env(t, r, "run --mode log from a process that has the shim preloaded")
        t.ok(e.get("NCCL_ALGO") is None and e.get("LD_PRELOAD") == LIB,
             "under a preloaded detshim, --mode log still means: no pins", e)
        r = detshim("run", "--", PY, "-c", SHOW,
                    env=clean_env(LD_PRELOAD=LIB, NCCL_ALGO="Tree"))
        e = child_env(t, r, "run with a user value and a preloaded detshim")
        t.ok(e.get("NCCL_ALGO") == "Tree", "a value the user set is kept", e)

        # -- DETSHIM_LIB overrides the configured path -----------------------------------------
        r = detshim("run", "--print-env", "--", "true", env=clean_env(DETSHIM_LIB=link))
        t.contains(r.out, "LD_PRELOAD=%s\n" % link, "DETSHIM_LIB overrides the configured library")
        r = detshim("run", "--", "true", env=clean_env(DETSHIM_LIB="/nonexistent/libdetshim.so"))
        t.clean_error(r, "DETSHIM_LIB pointing nowhere")
        t.contains(r.err, "/nonexistent/libdetshim.so", "missing library message names the path", r)
        t.contains(r.err, "DETSHIM_LIB", "missing library message names DETSHIM_LIB", r)

        # -- exec: the exit status is the command's; failures are 127 / 126 ----------------------
        r = detshim("run", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
        t.ok(r.rc == 7 and r.out == "out\n" and "err" in r.err, "the command's status and output pass through", r)
        r = detshim("run", PY, "-c", "print('no dashes')")
        t.ok(r.rc == 0 and r.out == "no dashes\n", "the command may follow without '--'", r)
        r = detshim("run", "--", PY, "-c", "import sys; print(sys.argv[1:])", "--mode", "x", "--")
        t.ok(r.out.strip() == "['--mode', 'x', '--']", "options after the command belong to it", r)
        r = detshim("run", "--", "no-such-command-detshim-test", "arg")
        t.ok(r.rc == 127, "a command that is not found: exit 127", r)
        t.contains(r.err, "cannot run 'no-such-command-detshim-test': command not found", "exec failure message", r)
        t.ok("Traceback" not in r.err, "exec failure: no traceback", r)
        plain = os.path.join(tmp, "not-executable")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(plain, 0o644)
        r = detshim("run", "--", plain)
        t.ok(r.rc == 126, "a file that is not executable: exit 126", r)
        t.contains(r.err, "permission denied", "not executable message", r)

        # -- bad arguments: one line, exit 2 -----------------------------------------------------
        r = detshim("run", "--mode", "bogus", "--", "true")
        t.clean_error(r, "run --mode bogus")
        t.contains(r.err, "'bogus' is not a mode; use one of off, log, enforce, strict", "bad mode message", r)
        r = detshim("run", "--disable", "cudnn,gpu", "--", "true")
        t.clean_error(r, "run --disable with an unknown layer")
        t.contains(r.err, "unknown layer 'gpu'", "bad layer message", r)
        r = detshim("run", "--log", "log-%q.jsonl", "--", "true")
        t.clean_error(r, "run --log with a bad escape")
        t.contains(r.err, "unknown escape %q", "bad log template message", r)
        r = detshim("run", "--log", "log-%", "--", "true")
        t.contains(r.err, "a trailing %", "trailing percent message", r)
        for args, what in ((["run"], "run without a command"), (["run", "--"], "run -- without a command")):
            r = detshim(*args)
            t.clean_error(r, what)
            t.contains(r.err, "no command given", what, r)
        r = detshim("run", "--frobnicate", "--", "true")
        t.clean_error(r, "run with an unknown option")
        t.contains(r.err, "--frobnicate", "unknown option named", r)
        r = detshim("run", "--mode")
        t.clean_error(r, "run --mode without a value")

        # -- the script runs by itself too (shebang, executable bit) -----------------------------
        from testlib import CMD, run
        r = run([CMD, "--version"])
        t.ok(r.rc == 0 and "detshim " in r.out and LIB in r.out, "the build-tree script runs directly", r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
