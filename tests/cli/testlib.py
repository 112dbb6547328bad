"""Helpers for the cli suite: where things are, running the detshim command, counting.

Run a test directly with   /usr/bin/python3 tests/cli/test_run.py
(the build directory is $DETSHIM_BUILD, else build/ of the source tree), or through
`meson test --suite cli`, which passes the paths in the environment."""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DETSHIM_SRC") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("DETSHIM_BUILD") or os.path.join(SRC, "build")
CMD = os.environ.get("DETSHIM_CMD") or os.path.join(BUILD, "scripts", "detshim")
LIB = os.environ.get("DETSHIM_TEST_LIB") or os.path.join(BUILD, "shim", "libdetshim.so")
FIXTURES = os.path.join(HERE, "fixtures")
PY = sys.executable or "/usr/bin/python3"

# Variables of the caller that would change what the shim or the command does.
_SCRUB = ("LD_PRELOAD", "DETSHIM_LIB", "DETSHIM_MODE", "DETSHIM_LOG", "DETSHIM_DISABLE",
          "DETSHIM_VERBOSE", "DETSHIM_HASH", "DETSHIM_DEBUG", "CUBLAS_WORKSPACE_CONFIG",
          "DETSHIM_CUBLAS_WORKSPACE_CONFIG",
          "NCCL_ALGO", "NCCL_PROTO", "NCCL_NVLS_ENABLE", "MKL_CBWR", "MKL_DYNAMIC",
          "OMP_DYNAMIC", "PYTHONPATH")


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "rc=%s\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out, self.err)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run(argv, env=None, cwd=None, timeout=120):
    try:
        p = subprocess.run(argv, env=env if env is not None else clean_env(), cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(-1, "", "TIMEOUT after %d s" % timeout)
    return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))


def detshim(*args, env=None, cwd=None, timeout=120):
    return run([PY, CMD] + list(args), env=env, cwd=cwd, timeout=timeout)


class Tally:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s" % what)
            if detail is not None:
                for line in str(detail).splitlines()[:60]:
                    print("     | " + line)
        sys.stdout.flush()
        return bool(cond)

    def contains(self, text, needle, what, detail=None):
        return self.ok(needle in text, "%s: has %r" % (what, needle), detail if detail is not None else text)

    def clean_error(self, r, what, code=2):
        """A usage/input error: the code, one line on stderr, no traceback."""
        # check's progress lines ("detshim check: run 1/2 ...") come before the error
        lines = [l for l in r.err.splitlines() if l.strip() and not re.match(r"detshim check: run \d+/\d+ ", l)]
        self.ok(r.rc == code, "%s: exit %d" % (what, code), r)
        self.ok("Traceback" not in r.err and "Traceback" not in r.out, "%s: no traceback" % what, r)
        self.ok(len(lines) == 1 and lines[0].startswith("detshim"), "%s: one line, starting 'detshim'" % what, r)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def preflight(t):
    """The command and the library must exist; otherwise everything else is noise."""
    okc = t.ok(os.path.isfile(CMD), "the build-tree command exists: %s" % CMD)
    okl = t.ok(os.path.isfile(LIB), "the library exists: %s" % LIB)
    return okc and okl


def tempdir():
    return tempfile.mkdtemp(prefix="detshim-clitest-")
