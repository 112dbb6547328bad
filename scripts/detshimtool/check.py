"""`detshim check`: run a command N times and compare what it wrote, bitwise.

Each run gets a fresh working directory: by default a copy of the current directory in
a temporary directory (--workdir-mode copy), so that a run can neither see nor change
another run's files; --workdir-mode inplace runs in the current directory itself.  In
both modes the files named by --compare are removed from the working directory before
each run (a stale file must not pass for output) and kept aside after it; a directory
named by --compare is compared file by file and is not emptied.  Standard input is
/dev/null; stdout and stderr of each run are captured.  With the shim (every mode but
`none`) each run writes its logs to its own directory.  The temporary directory
($TMPDIR, else /tmp) is removed at the end unless --keep is given."""

import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from . import preload
from .common import DetshimError, EXIT_DIFFERENT, EXIT_OK, EXIT_USAGE, note, shorten, table
from .compare import compare_files

BIG_COPY = 1 << 30


class Target:
    """One --compare argument."""

    def __init__(self, given, cwd, copy):
        self.given = given
        ap = os.path.abspath(os.path.join(cwd, given))
        rel = os.path.relpath(ap, cwd)
        self.abs = ap
        if rel == ".":
            raise DetshimError("--compare %r names the whole working directory; name the output files"
                               % given)
        self.inside = not (rel == os.pardir or rel.startswith(os.pardir + os.sep))
        if copy and not self.inside and not os.path.isabs(given):
            raise DetshimError("--compare %r is outside the current directory: the runs happen in "
                               "copies of it, where %r means another file; give an absolute path, "
                               "or use --workdir-mode inplace" % (given, given))
        self.rel = rel if self.inside else None
        # where this target's copies are kept under results/run-N/
        self.key = rel if self.inside else os.path.join("outside", ap.lstrip(os.sep))


def _cmdline(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


def _signal_name(n):
    try:
        return signal.Signals(n).name
    except (ValueError, AttributeError):
        return "signal %d" % n


def _tree_size(top, limit):
    total = 0
    for root, dirs, files in os.walk(top):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
            if total > limit:
                return total
    return total


def _copy_workdir(src, dst, skip):
    def ignore(d, names):
        out = []
        for n in names:
            p = os.path.join(d, n)
            if os.path.realpath(p) in skip:
                out.append(n)
                continue
            try:
                m = os.lstat(p).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(m) or stat.S_ISDIR(m) or stat.S_ISLNK(m)):
                out.append(n)   # FIFOs, sockets, devices: never copied
        return out
    try:
        shutil.copytree(src, dst, symlinks=True, ignore=ignore)
    except shutil.Error as e:
        # e.args[0]: [(source, destination, why), ...]
        errs = e.args[0] if e.args and isinstance(e.args[0], list) else []
        why = "%s: %s" % (errs[0][0], errs[0][2]) if errs and len(errs[0]) == 3 else str(e)
        raise DetshimError("cannot copy the current directory %s for a run: %s "
                           "(use --workdir-mode inplace to run in it instead)" % (src, why))
    except OSError as e:
        raise DetshimError("cannot copy the current directory %s for a run: %s "
                           "(use --workdir-mode inplace to run in it instead)" % (src, e))


def _remove(path):
    try:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise DetshimError("cannot remove %s before a run: %s" % (path, e.strerror or e))


def _keep_aside(src, dst):
    if not os.path.lexists(src):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _files_under(path):
    """Relative names of the regular files under a directory."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in sorted(files):
            out.append(os.path.relpath(os.path.join(root, f), path))
    return out


def _environment(mode, lib, logdir):
    if mode == "none":
        env = preload.base_environ()
        if lib and env.get("LD_PRELOAD"):
            rest = [e for e in preload.preload_entries(env["LD_PRELOAD"])
                    if not preload.already_preloaded(lib, e)]
            if rest:
                env["LD_PRELOAD"] = ":".join(rest)
            else:
                env.pop("LD_PRELOAD")
        return env
    os.makedirs(logdir, exist_ok=True)
    return preload.shim_environ(preload.base_environ(), lib, mode=mode,
                                log=os.path.join(logdir, "detshim-%h-%p.jsonl"))


def _tail(path, lines=8):
    try:
        with open(path, "rb") as f:
            data = f.read()[-4000:]
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]


def run_all(args, lib, tmp, cwd, targets, prog):
    copy = args.workdir_mode == "copy"
    n = args.n
    skip = {os.path.realpath(tmp)}
    if copy:
        size = _tree_size(cwd, BIG_COPY)
        if size > BIG_COPY:
            note("%s: note: each run copies the current directory (more than %.1f GiB); "
                 "--workdir-mode inplace avoids that" % (prog, size / float(1 << 30)))
    workdirs = []
    for i in range(1, n + 1):
        work = os.path.join(tmp, "run-%d" % i) if copy else cwd
        if copy:
            _copy_workdir(cwd, work, skip)
        for t in targets:
            where = os.path.join(work, t.rel) if t.inside else t.abs
            _remove(where)
        env = _environment(args.mode, lib, os.path.join(tmp, "logs", "run-%d" % i))
        out_path = os.path.join(tmp, "stdout", "run-%d" % i)
        err_path = os.path.join(tmp, "stderr", "run-%d" % i)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        os.makedirs(os.path.dirname(err_path), exist_ok=True)
        note("%s: run %d/%d (%s) ..." % (prog, i, n, "no shim" if args.mode == "none"
                                          else "mode " + args.mode))
        t0 = time.time()
        with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
            try:
                rc = subprocess.call(args.cmd, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                     stdout=fo, stderr=fe)
            except FileNotFoundError:
                raise DetshimError("cannot run %r: command not found" % args.cmd[0])
            except PermissionError:
                raise DetshimError("cannot run %r: permission denied (not executable?)" % args.cmd[0])
            except OSError as e:
                raise DetshimError("cannot run %r: %s" % (args.cmd[0], e.strerror or e))
        dt = time.time() - t0
        if rc != 0:
            how = ("exit code %d" % rc) if rc > 0 else ("was killed by %s" % _signal_name(-rc))
            tail = _tail(err_path)
            if tail:
                note("%s: the last lines run %d wrote on stderr:" % (prog, i))
                for line in tail:
                    note("    " + shorten(line, 200))
            if rc > 0:
                raise DetshimError("run %d of %d failed with exit code %d: %s; nothing compared"
                                   % (i, n, rc, shorten(_cmdline(args.cmd), 120)))
            raise DetshimError("run %d of %d %s: %s; nothing compared"
                               % (i, n, how, shorten(_cmdline(args.cmd), 120)))
        note("%s: run %d/%d finished in %.2f s" % (prog, i, n, dt))
        # keep the outputs of this run
        for t in targets:
            if copy and t.inside:
                continue           # they stay in the run's own copy
            src = os.path.join(work, t.rel) if t.inside else t.abs
            _keep_aside(src, os.path.join(tmp, "results", "run-%d" % i, t.key))
        workdirs.append(work)
    return workdirs


def _result_path(args, tmp, i, t):
    if args.workdir_mode == "copy" and t.inside:
        return os.path.join(tmp, "run-%d" % i, t.rel)
    return os.path.join(tmp, "results", "run-%d" % i, t.key)


def compare_runs(paths):
    """paths[i]: run i+1's copy of one file (None when missing).  (identical, where)."""
    n = len(paths)
    present = [p is not None and os.path.isfile(p) for p in paths]
    if not any(present):
        return None, "missing in every run"
    if not all(present):
        missing = [str(i + 1) for i in range(n) if not present[i]]
        return False, "missing in run%s %s" % ("" if len(missing) == 1 else "s", ", ".join(missing))
    differing, first = [], None
    for k in range(1, n):
        o = compare_files(paths[0], paths[k], "run 1", "run %d" % (k + 1))
        if not o.identical:
            differing.append(k + 1)
            if first is None:
                first = o.where
    if not differing:
        return True, ""
    runs = ", ".join(str(k) for k in differing)
    return False, "%s%s" % (first, "" if len(differing) == 1 else " (runs %s differ from run 1)" % runs)


def _compare_logs(tmp, n):
    """When outputs differ: where the shim's logs of run 1 and the first run whose log
    differs part (only when every run wrote exactly one log)."""
    from . import diff, logs
    files = []
    for i in range(1, n + 1):
        d = os.path.join(tmp, "logs", "run-%d" % i)
        f = sorted(os.listdir(d)) if os.path.isdir(d) else []
        if len(f) != 1:
            return []
        files.append(os.path.join(d, f[0]))
    try:
        procs = [logs.read_log(f) for f in files]
    except logs.LogError as e:
        return ["shim logs: cannot compare them: %s" % e.message]
    if any(len(p) != 1 for p in procs):
        return []
    for k in range(1, n):
        ev = diff.compare_events(procs[0][0], procs[k][0])
        if ev is not None:
            return ["shim logs of run 1 and run %d: %s" % (k + 1, ev["text"])]
    return ["shim logs: every run made the same sequence of %d recorded call%s"
            % (len(procs[0][0].events), "" if len(procs[0][0].events) == 1 else "s")]


def main(args, lib_configured, prog):
    if args.n is None:
        raise DetshimError("-n N is required: how many times to run the command")
    if args.n < 2:
        raise DetshimError("-n %d: comparing needs at least 2 runs" % args.n)
    if args.n > 1000:
        raise DetshimError("-n %d: at most 1000 runs" % args.n)
    if not args.cmd:
        raise DetshimError("no command given; usage: detshim check -n N [options] -- CMD [ARGS...]")
    args.mode = preload.validate_mode(args.mode or "enforce", allow_none=True)
    if args.workdir_mode not in ("copy", "inplace"):
        raise DetshimError("--workdir-mode %r: use copy or inplace" % args.workdir_mode)
    cwd = os.getcwd()
    targets = [Target(c, cwd, args.workdir_mode == "copy") for c in (args.compare or [])]
    lib = preload.require_library(lib_configured) if args.mode != "none" else \
        preload.library_path(lib_configured)[0]
    tmp = tempfile.mkdtemp(prefix="detshim-check-")
    keep = args.keep
    try:
        try:
            run_all(args, lib, tmp, cwd, targets, prog)
        except DetshimError as e:
            if keep:
                e.message += " (kept: %s)" % tmp
            raise
        rows, verdicts = [], []
        if not targets or args.stdout:
            paths = [os.path.join(tmp, "stdout", "run-%d" % i) for i in range(1, args.n + 1)]
            same, where = compare_runs(paths)
            rows.append(["(stdout)", "yes" if same else "no", where or "-"])
            verdicts.append(same)
        for t in targets:
            paths = [_result_path(args, tmp, i, t) for i in range(1, args.n + 1)]
            if any(os.path.isdir(p) for p in paths):
                names = sorted({f for p in paths if os.path.isdir(p) for f in _files_under(p)})
                if not names:
                    rows.append([t.given + "/", "?", "an empty directory in every run"])
                    verdicts.append(None)
                for f in names:
                    same, where = compare_runs([os.path.join(p, f) if os.path.isdir(p) else None
                                                for p in paths])
                    rows.append([os.path.join(t.given, f), "yes" if same else ("no" if same is False else "?"),
                                 where or "-"])
                    verdicts.append(same)
                continue
            same, where = compare_runs(paths)
            rows.append([t.given, "yes" if same else ("no" if same is False else "?"), where or "-"])
            verdicts.append(same)
        out = sys.stdout
        out.write("\ndetshim check: %d runs of: %s\n" % (args.n, _cmdline(args.cmd)))
        out.write("(%s, %s)\n\n" % ("without the shim" if args.mode == "none" else "shim mode " + args.mode,
                                     "each run in a copy of %s" % cwd if args.workdir_mode == "copy"
                                     else "every run in %s" % cwd))
        table(rows, ["OUTPUT", "IDENTICAL", "FIRST DIFFERENCE"], out)
        out.write("\n")
        nd = sum(1 for v in verdicts if v is False)
        nmissing = sum(1 for v in verdicts if v is None)
        if nmissing:
            out.write("verdict: %d output%s never written by any run (check the names: they are "
                      "relative to the current directory)\n" % (nmissing, "" if nmissing == 1 else "s"))
            rc = EXIT_USAGE
        elif nd:
            out.write("verdict: NOT reproducible: %d of %d output%s differ%s between runs\n"
                      % (nd, len(verdicts), "" if len(verdicts) == 1 else "s", "s" if nd == 1 else ""))
            rc = EXIT_DIFFERENT
        else:
            out.write("verdict: reproducible: %d output%s identical across %d runs\n"
                      % (len(verdicts), "" if len(verdicts) == 1 else "s", args.n))
            rc = EXIT_OK
        if rc == EXIT_DIFFERENT:
            for line in _compare_logs(tmp, args.n):
                out.write(line + "\n")
        if keep:
            parts = []
            if args.workdir_mode == "copy":
                parts.append("run-N/: each run's working copy")
            parts.append("stdout/run-N, stderr/run-N: what each run printed")
            if os.path.isdir(os.path.join(tmp, "logs")):
                parts.append("logs/run-N/: the shim's logs")
            if os.path.isdir(os.path.join(tmp, "results")):
                parts.append("results/run-N/: the compared files")
            out.write("kept: %s\n" % tmp)
            for p in parts:
                out.write("  %s\n" % p)
            logs1 = os.path.join(tmp, "logs", "run-1")
            if rc == EXIT_DIFFERENT and os.path.isdir(logs1) and os.listdir(logs1):
                out.write("compare the shim's logs of two runs with: detshim diff %s/logs/run-1/FILE %s/logs/run-2/FILE\n"
                          % (tmp, tmp))
        elif rc != EXIT_OK:
            out.write("(rerun with --keep to keep each run's files and the shim's logs)\n")
        out.flush()
        return rc
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
