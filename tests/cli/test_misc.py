#!/usr/bin/env python3
"""The rest of the detshim command: help texts, the man page, agreement with the shim's
sources (modes, layers, pins, fingerprint variables), `scan` wiring, internal errors,
Python 3.8 syntax, and the Spack recipe (compiled, and its class built against a stub
of Spack's API)."""

import ast
import contextlib
import io
import os
import py_compile
import re
import shutil
import subprocess
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import PY, SRC, Tally, detshim, preflight, tempdir  # noqa: E402

PKG = os.path.join(SRC, "scripts", "detshimtool")
sys.path.insert(0, os.path.join(SRC, "scripts"))

SUBCOMMANDS = ("run", "check", "report", "diff", "env")


def c_strings(path, start, end):
    with open(path) as f:
        text = f.read()
    a = text.index(start)
    return re.findall(r'"([^"]*)"', text[a:text.index(end, a)])


def help_and_man(t):
    r = detshim("--help")
    t.ok(r.rc == 0, "--help: exit 0", r)
    for sub in SUBCOMMANDS + ("scan",):
        t.ok(re.search(r"^\s+%s\s" % sub, r.out, re.M) is not None, "--help lists %s" % sub, r)
    t.contains(r.out, "DETSHIM_LIB", "--help documents DETSHIM_LIB", r)
    for sub in SUBCOMMANDS:
        r = detshim(sub, "--help")
        t.ok(r.rc == 0 and ("usage: detshim %s" % sub) in r.out, "detshim %s --help" % sub, r)
    r = detshim("check", "--help")
    t.contains(r.out, "fresh copy of the current directory", "check --help documents the working copies", r)
    r = detshim()
    t.ok(r.rc == 2 and "usage: detshim" in r.err, "no arguments: usage on stderr, exit 2", r)
    r = detshim("frobnicate")
    t.clean_error(r, "an unknown command")
    t.contains(r.err, "frobnicate", "the unknown command is named", r)
    r = detshim("--version")
    t.ok(r.rc == 0 and re.match(r"detshim \d+\.\d+", r.out), "--version", r)

    # the man page documents every command and every long option
    from detshimtool import cli
    parser = cli.build_parser("/x/libdetshim.so")
    with open(os.path.join(SRC, "scripts", "detshim.1")) as f:
        man = f.read().replace("\\-", "-")
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sp in subs.choices.items():
        t.ok(re.search(r"^\.B(?: detshim)? %s\b" % name, man, re.M) is not None or ".B %s\n" % name in man,
             "man page: command %s" % name)
        for act in sp._actions:
            for opt in act.option_strings:
                if opt.startswith("--") and opt != "--help":
                    t.ok(opt in man, "man page: %s %s" % (name, opt))
    for word in ("DETSHIM_LIB", "EXIT STATUS", "modulefiles-tcl", "share/modulefiles/detshim/VERSION.lua"):
        t.ok(word in man, "man page mentions %s" % word)
    if shutil.which("man") and shutil.which("groff"):
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(SRC, "scripts", "detshim.1")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8"))
        t.ok(p.returncode == 0 and b"DETSHIM" in p.stdout, "man -l renders the page")
        t.ok(p.stderr.strip() == b"", "man --warnings: no troff warnings", p.stderr.decode())


def agreement(t):
    from detshimtool import common
    with open(os.path.join(SRC, "shim", "table", "layers.def")) as f:
        layers = re.findall(r'^LAYER\(\s*\w+\s*,\s*"([^"]+)"', f.read(), re.M)
    t.ok(tuple(layers) == common.LAYERS, "layer names agree with shim/table/layers.def", (layers, common.LAYERS))
    modes = c_strings(os.path.join(SRC, "shim", "core", "config.c"), "mode_names[]", ";")
    t.ok(tuple(modes) == common.MODES, "modes agree with shim/core/config.c", modes)
    with open(os.path.join(SRC, "shim", "core", "pins.def")) as f:
        pins = re.findall(r'^PIN(?:_OPTIN\(\s*"[^"]+"\s*,|\()\s*\w+\s*,\s*"([^"]+)"', f.read(), re.M)
    t.ok(tuple(pins) == common.PIN_VARS, "pinned variables agree with shim/core/pins.def", pins)
    env = c_strings(os.path.join(SRC, "shim", "core", "fingerprint.c"), "env_vars[]", "NULL}")
    t.ok(tuple(env) == common.DETERMINISM_ENV, "fingerprint variables agree with shim/core/fingerprint.c",
         set(env) ^ set(common.DETERMINISM_ENV))


def scan_wiring(t):
    if os.path.exists(os.path.join(PKG, "scan.py")):
        r = detshim("scan", "--help")
        t.ok("not installed" not in r.err and "Traceback" not in r.err, "detshim scan --help reaches scan.py", r)
    # without scan.py: a clear message (a copy of the package without it)
    tmp = tempdir()
    try:
        shutil.copytree(PKG, os.path.join(tmp, "detshimtool"),
                        ignore=shutil.ignore_patterns("scan.py", "__pycache__"))
        code = ("import sys; sys.path.insert(0, %r); from detshimtool.cli import main; "
                "sys.exit(main(['scan', 'x.so'], lib='/x'))" % tmp)
        p = subprocess.run([PY, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode()
        t.ok(p.returncode == 2 and err.count("\n") == 1 and "the scan command is not installed" in err
             and "scan.py is missing" in err, "scan without scan.py: one clear line, exit 2", err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def internal_error(t):
    from detshimtool import cli, report
    saved = report.main

    def boom(args):
        raise ValueError("synthetic failure")
    report.main = boom
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            rc = cli.main(["report", "x.jsonl"], lib="/x", version="0")
    finally:
        report.main = saved
    text = err.getvalue()
    t.ok(rc == 70, "an unexpected exception: exit 70", text)
    t.ok(text.count("\n") == 1 and "internal error: ValueError: synthetic failure" in text
         and "Traceback" not in text, "an unexpected exception: one line, no traceback", text)


def py38(t):
    for name in sorted(os.listdir(PKG)) + ["../detshim.in"]:
        if not name.endswith((".py", ".in")):
            continue
        path = os.path.normpath(os.path.join(PKG, name))
        with open(path) as f:
            src = f.read()
        try:
            ast.parse(src, filename=path, feature_version=(3, 8))
            good = True
        except SyntaxError as e:
            good = e
        t.ok(good is True, "Python 3.8 syntax: %s" % os.path.relpath(path, SRC), good)


class _Recorder:
    """Stand-ins for Spack's directives and helpers: they record what the recipe asks."""

    def __init__(self):
        self.calls = []

    def directive(self, name):
        def f(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return f


def spack_recipe(t):
    path = os.path.join(SRC, "scripts", "spack", "package.py")
    try:
        py_compile.compile(path, cfile=os.path.join(tempdir(), "package.pyc"), doraise=True)
        t.ok(True, "the Spack recipe compiles")
    except py_compile.PyCompileError as e:
        t.ok(False, "the Spack recipe compiles", e)
        return
    rec = _Recorder()
    spack = types.ModuleType("spack")
    pkgmod = types.ModuleType("spack.package")

    class MesonPackage:
        run_tests = False

    @contextlib.contextmanager
    def when(spec):
        rec.calls.append(("when", (spec,), {}))
        yield
    names = ["version", "variant", "depends_on", "conflicts", "license", "maintainers"]
    for n in names:
        setattr(pkgmod, n, rec.directive(n))
    pkgmod.when = when
    pkgmod.MesonPackage = MesonPackage
    pkgmod.join_path = os.path.join
    pkgmod.mkdirp = lambda p: os.makedirs(p, exist_ok=True)
    pkgmod.which = lambda *a, **k: None
    pkgmod.__all__ = names + ["when", "MesonPackage", "join_path", "mkdirp", "which"]
    spack.package = pkgmod
    saved = {k: sys.modules.get(k) for k in ("spack", "spack.package")}
    sys.modules["spack"], sys.modules["spack.package"] = spack, pkgmod
    try:
        ns = {"__name__": "libdetshim_recipe"}
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), ns)
    except Exception as e:
        t.ok(False, "the Spack recipe loads against a stub of Spack's API", repr(e))
        return
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    cls = ns.get("Libdetshim")
    t.ok(cls is not None and issubclass(cls, MesonPackage), "class Libdetshim(MesonPackage)")
    deps = {c[1][0]: c[2] for c in rec.calls if c[0] == "depends_on"}
    t.ok(any(d.startswith("meson") and deps[d].get("type") == "build" for d in deps), "depends_on meson, type build", deps)
    t.ok(deps.get("pkgconfig", {}).get("type") == "build", "depends_on pkgconfig (build)", deps)
    t.ok("libunwind" in deps, "depends_on libunwind", deps)
    t.ok(deps.get("check", {}).get("type") == "test", "depends_on check, type test", deps)
    t.ok(deps.get("cuda", {}).get("type") == "build", "depends_on cuda, type build (headers)", deps)
    t.ok(any(c[0] == "variant" and c[1][0] == "cuda_headers" for c in rec.calls), "a cuda_headers variant")

    # meson_args, setup_run_environment, the stand-alone test, with a stub spec
    tmp = tempdir()
    try:
        inc_cuda = os.path.join(tmp, "cuda", "include")
        inc_cudnn = os.path.join(tmp, "cudnn", "include")
        for d, h in ((inc_cuda, "cuda.h"), (inc_cudnn, "cudnn.h")):
            os.makedirs(d)
            open(os.path.join(d, h), "w").close()

        class Prefix(str):
            def __getattr__(self, name):
                return Prefix(os.path.join(self, name))

        class Dep:
            def __init__(self, root):
                self.prefix = Prefix(root)

        class Spec:
            variants = {"toolkit_include_dir": types.SimpleNamespace(value="none")}

            def satisfies(self, s):
                return s == "cuda_headers=spack"

            def __getitem__(self, name):
                return Dep(os.path.join(tmp, name))

        pkg = cls.__new__(cls)
        pkg.spec = Spec()
        pkg.stage = types.SimpleNamespace(path=os.path.join(tmp, "stage"))
        pkg.prefix = Prefix(os.path.join(tmp, "prefix"))
        pkg.run_tests = False
        args = pkg.meson_args()
        inc = [a for a in args if a.startswith("-Dtoolkit_include_dir=")]
        t.ok(len(inc) == 1, "meson_args passes -Dtoolkit_include_dir", args)
        if inc:
            d = inc[0].split("=", 1)[1]
            t.ok(os.path.exists(os.path.join(d, "cuda.h")) and os.path.exists(os.path.join(d, "cudnn.h")),
                 "the include directory holds the cuda and the cudnn headers", os.listdir(d))
        t.ok("-Dtests=false" in args, "meson_args: tests off unless Spack runs them", args)

        class Env:
            def __init__(self):
                self.ops = []

            def __getattr__(self, op):
                return lambda *a, **k: self.ops.append((op,) + a)
        env = Env()
        pkg.setup_run_environment(env)
        t.ok(("set", "DETSHIM_LIB", os.path.join(tmp, "prefix", "lib", "libdetshim.so")) in env.ops,
             "setup_run_environment sets DETSHIM_LIB", env.ops)
        t.ok(not any("LD_PRELOAD" in op for op in env.ops), "setup_run_environment leaves LD_PRELOAD alone", env.ops)
        t.ok(callable(getattr(cls, "test_preload_pins", None)), "a stand-alone test that preloads the library")
        with open(path) as f:
            src = f.read()
        t.ok('os.environ["LD_PRELOAD"] = self.detshim_lib' in src and "os.environ.pop(k, None)" in src,
             "the stand-alone test sets LD_PRELOAD for one command and restores it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = Tally("misc")
    if not preflight(t):
        return t.finish()
    help_and_man(t)
    agreement(t)
    scan_wiring(t)
    internal_error(t)
    py38(t)
    spack_recipe(t)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
