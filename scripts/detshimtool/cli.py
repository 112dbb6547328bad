"""The detshim command line: argument parsing and dispatch to the subcommands.

main(argv, lib=..., version=...) returns the exit status; it never lets a Python
traceback reach the user: a DetshimError is one line and its own code (2 for usage and
input errors), anything unexpected one line and 70 (DETSHIM_DEBUG=1 shows the traceback)."""

import argparse
import os
import sys

from .common import EXIT_INTERNAL, EXIT_USAGE, MODES, LAYERS, DetshimError

PROG = "detshim"

DESCRIPTION = """\
Run programs under libdetshim (LD_PRELOAD), the library that makes CUDA training runs
bitwise reproducible and logs every nondeterministic call with its backtrace; check that
repeated runs give identical outputs; read and compare the shim's logs."""

COMMANDS_EPILOG = """\
environment:
  DETSHIM_LIB   the libdetshim.so to preload (default: %(lib)s)

exit status: 0 success / identical, 1 differences found (check, diff), 2 usage error,
unreadable or corrupt input, or a failed run, 70 internal error; run: the command's own
status, 127 when it is not found; doctor: 0 reproducible, 1 not, 2 cannot run (no GPU).  See detshim(1)."""

RUN_EPILOG = """\
The library is put first in LD_PRELOAD (kept where it is if it is already there); the
options set DETSHIM_MODE, DETSHIM_LOG, DETSHIM_DISABLE, DETSHIM_VERBOSE and DETSHIM_HASH;
then the command replaces detshim (exec), so its exit status is the command's.

examples:
  detshim run -- python train.py --epochs 1
  detshim run --mode log --log 'logs/detshim-r%r-%p.jsonl' -- torchrun --nproc-per-node 8 train.py"""

CHECK_EPILOG = """\
Each run happens in a fresh copy of the current directory, in a temporary directory
($TMPDIR or /tmp), so that no run sees another's files (--workdir-mode inplace runs in
the current directory instead).  The files named by --compare are removed from the
working directory before each run and kept aside after it; paths are relative to the
current directory (an absolute path outside it names a file all runs write); a
directory is compared file by file.  Without --compare, the runs'
standard output is compared.  Text files: first differing line; binary files: first
differing byte; .pt/.pth checkpoints: tensor by tensor when 'import torch' works here.
Standard input is /dev/null.  Put the command after '--'.

exit status: 0 all identical, 1 something differs, 2 usage error or a run failed.

examples:
  detshim check -n 3 --compare model.pt loss.txt -- python train.py --steps 50
  detshim check -n 2 --mode none -- python train.py   # baseline without the shim"""

REPORT_EPILOG = """\
Culprits are (Python line, layer, symbol, action, op / kernel or detail), ranked by how
many calls they made: the summary records' per-site counts where a process wrote one, else
the number of event records.  The Python line is the innermost frame of the program itself
(not in site-packages or the standard library) of the event's Python stack.  C++ names are
demangled (c++filt, else a simple fallback); native stacks only with --native.  A directory
argument stands for the *.jsonl files in it.

example:
  detshim report logs/          # every rank's log of one run"""

DIFF_EPILOG = """\
First compares the runs' fingerprints (GPU model, SM count, compute capability, driver
and runtime versions, vendor library versions, pins, determinism-relevant environment,
mode) and says whether bitwise equality can be expected at all; then the event
sequences in seq order (layer, symbol, action, kernel or detail) and where they part.
Addresses in details (hex numbers of 8 or more digits) are masked: they change from run
to run.

Given two hash traces (DETSHIM_HASH=1, `detshim run --hash`: LOG.trace.jsonl beside each
log), aligns the two call sequences and names the first call whose inputs were equal and
whose outputs differ (kernel or copy, call site, seq, how many calls of its kind came
before), then the first calls that only inherited the difference; or where the call
sequences part.  A call site is named by its Python line (with its callers) where the
trace has one, by its native caller (demangled) where it has none or with --native.

exit status: 0 equal, 1 different, 2 unreadable or corrupt input."""

DOCTOR_EPILOG = """\
Cost: the shim runs' median ms/step (the training) or wall time (a probe, CUDA start-up
included) over the plain runs'.  The atomics probe's kernel has no deterministic version: its
row passes when the shim's log names it.  Probes: --probes DIR, else $DETSHIM_PROBES, else the
directory configured at build time (PREFIX/libexec/detshim, or BUILD/probes).

exit status: 0 every row that ran is reproducible under the shim, 1 one is not (or a run
failed only under the shim), 2 it cannot run (no NVIDIA driver, no GPU, nothing to run).

example:
  detshim doctor              # after `module load detshim`, on a GPU node"""

ENV_EXTRA = """\
The pins are observed, not assumed: a child process runs under the shim with
DETSHIM_VERBOSE=1, its environment is compared with the one it got, and the shim's
'detshim: pinned ...' messages give the reasons."""


class ParserError(DetshimError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that raises one-line errors instead of printing usage and exiting."""

    def error(self, message):
        raise ParserError("%s (see '%s --help')" % (message, self.prog))


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    return v


def build_parser(lib_configured):
    fmt = argparse.RawDescriptionHelpFormatter
    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=fmt,
               epilog=COMMANDS_EPILOG % {"lib": lib_configured or "(none configured)"})
    p.add_argument("--version", action="store_true", help="print the version and the library path")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    modes = "|".join(MODES)
    r = sub.add_parser("run", help="run a command with the shim preloaded", formatter_class=fmt,
                       description="Run CMD with libdetshim preloaded.", epilog=RUN_EPILOG,
                       usage="%(prog)s [options] -- CMD [ARGS...]")
    r.add_argument("--mode", metavar="MODE", help="DETSHIM_MODE: %s (default: the shim's, enforce)" % modes)
    r.add_argument("--log", metavar="PATH",
                   help="DETSHIM_LOG: the log file template; %%p pid, %%r rank, %%h host, %%%% a percent sign")
    r.add_argument("--disable", metavar="LAYERS",
                   help="DETSHIM_DISABLE: comma-separated layers to switch off (%s, all)" % ", ".join(LAYERS))
    r.add_argument("-v", "--verbose", action="count", default=0,
                   help="DETSHIM_VERBOSE=1 (twice: 2, trace): the shim reports on stderr")
    r.add_argument("--hash", action="store_true", help="DETSHIM_HASH=1: ask the shim for hash traces")
    r.add_argument("--print-env", action="store_true",
                   help="print LD_PRELOAD and the DETSHIM_* variables the command would get, and exit")
    r.add_argument("cmd", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    c = sub.add_parser("check", help="run a command N times and compare its outputs bitwise",
                       formatter_class=fmt, description="Run CMD N times and compare what it wrote.",
                       epilog=CHECK_EPILOG, usage="%(prog)s -n N [options] -- CMD [ARGS...]")
    c.add_argument("-n", type=_positive_int, metavar="N", help="how many runs (at least 2)")
    c.add_argument("--compare", action="append", nargs="+", metavar="FILE",
                   help="output files (or directories) to compare across runs")
    c.add_argument("--stdout", action="store_true", help="compare standard output too when --compare is given")
    c.add_argument("--mode", metavar="MODE",
                   help="shim mode for the runs: %s, or none to run without the shim (default: enforce)" % modes)
    c.add_argument("--workdir-mode", choices=("copy", "inplace"), default="copy",
                   help="copy: each run in a fresh copy of the current directory (default); "
                        "inplace: in the current directory")
    c.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (run copies, stdout, stderr, shim logs)")
    c.add_argument("cmd", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    rp = sub.add_parser("report", help="merge logs (many ranks / processes) into a table of culprits", formatter_class=fmt,
                        description="Read one or many detshim logs and rank the nondeterministic calls.",
                        epilog=REPORT_EPILOG)
    rp.add_argument("logs", nargs="+", metavar="LOG", help="log files, or directories of *.jsonl logs")
    rp.add_argument("--json", action="store_true", help="machine-readable output")
    rp.add_argument("--frames", type=_positive_int, default=5, metavar="N",
                    help="stack frames shown per culprit (default 5)")
    rp.add_argument("--native", action="store_true",
                    help="show each culprit's native stack too (demangled)")

    d = sub.add_parser("diff", help="compare two logs: can the runs match bitwise, where do they part", formatter_class=fmt,
                       description="Compare two runs' logs: environment fingerprints, then event sequences.",
                       epilog=DIFF_EPILOG)
    d.add_argument("a", metavar="LOG_A")
    d.add_argument("b", metavar="LOG_B")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--native", action="store_true",
                   help="hash traces: the native caller too where the Python line is known")

    e = sub.add_parser("env", help="what the shim pins and why, and this machine's fingerprint", formatter_class=fmt,
                       description="Show what the shim pins in the environment and why, and this "
                                   "machine's fingerprint (host, CPUs, GPUs, CUDA libraries).",
                       epilog=ENV_EXTRA)
    e.add_argument("--mode", metavar="MODE",
                   help="the mode to show (default: $DETSHIM_MODE, else enforce): %s" % modes)
    e.add_argument("--disable", metavar="LAYERS", help="layers switched off, as DETSHIM_DISABLE")
    e.add_argument("--python", metavar="PYTHON",
                   help="the interpreter whose nvidia-* wheels to list (default: the active virtual "
                        "environment's, else python3 on PATH)")
    e.add_argument("--json", action="store_true", help="machine-readable output")

    dr = sub.add_parser("doctor", help="is this GPU node reproducible under the shim? probes and a short training",
                        formatter_class=fmt, description="Run the probes (float atomics, cuBLAS on several "
                        "streams, cuBLASLt alignment, cuDNN backward filter) and a short built-in PyTorch "
                        "training N times plain and N times under the shim, and print one verdict table.",
                        epilog=DOCTOR_EPILOG)
    dr.add_argument("-n", type=_positive_int, metavar="N", help="runs each, plain and under the shim (default 3)")
    dr.add_argument("--probes", metavar="DIR", help="where the probe programs are (default: the installed or built ones)")
    dr.add_argument("--mode", metavar="MODE", help="the shim's mode for the shim runs (default: enforce)")
    dr.add_argument("--no-torch", action="store_true", help="skip the PyTorch training")
    dr.add_argument("--python", metavar="PY", help="the Python that runs the training (default: this one)")
    dr.add_argument("--steps", type=_positive_int, default=30, metavar="S", help="training steps (default 30)")
    dr.add_argument("--timeout", type=_positive_int, default=300, metavar="SEC", help="per run (default 300)")
    dr.add_argument("--out", metavar="DIR", help="keep every run's output and the shim's logs in DIR")
    dr.add_argument("--json", action="store_true", help="machine-readable output")

    sub.add_parser("scan", help="scan binaries for nondeterministic kernels (detshim scan --help)",
                   add_help=False)
    return p


def _strip_dashdash(cmd):
    return cmd[1:] if cmd and cmd[0] == "--" else cmd


def run_scan(argv):
    """`detshim scan ...` is detshimtool/scan.py's main(argv) (its own work)."""
    import importlib
    try:
        scan = importlib.import_module(__package__ + ".scan")
    except ModuleNotFoundError as e:
        if e.name in (__package__ + ".scan", "scan"):
            here = os.path.dirname(os.path.abspath(__file__))
            raise DetshimError("the scan command is not installed: %s is missing"
                               % os.path.join(here, "scan.py"))
        raise DetshimError("the scan command cannot be loaded: it needs the Python module %r" % e.name)
    if not hasattr(scan, "main"):
        raise DetshimError("the scan module %s has no main(argv)" % scan.__file__)
    rc = scan.main(argv)
    return 0 if rc is None else int(rc)


def _dispatch(argv, lib, version, probes=None):
    # `scan` takes its own arguments, --help included
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first] == "scan" and all(a not in ("-h", "--help") for a in argv[:first]):
        return "scan", run_scan(argv[first + 1:])
    parser = build_parser(lib)
    if not argv:
        parser.print_help(sys.stderr)
        return None, EXIT_USAGE
    args = parser.parse_args(argv)
    if args.version:
        sys.stdout.write("detshim %s\nlibrary: %s\n" % (version or "unknown", lib or "(none)"))
        return None, 0
    if not args.command:
        raise ParserError("no command given (see 'detshim --help')")
    cmd = args.command
    if cmd == "run":
        from . import runner
        args.cmd = _strip_dashdash(args.cmd)
        return cmd, runner.main(args, lib, "%s run" % PROG)
    if cmd == "check":
        from . import check
        args.cmd = _strip_dashdash(args.cmd)
        args.compare = [f for group in (args.compare or []) for f in group]
        return cmd, check.main(args, lib, "%s check" % PROG)
    if cmd == "report":
        from . import report
        return cmd, report.main(args)
    if cmd == "diff":
        from . import diff
        return cmd, diff.main(args)
    if cmd == "env":
        from . import envinfo
        return cmd, envinfo.main(args, lib, "%s env" % PROG)
    if cmd == "doctor":
        from . import doctor
        return cmd, doctor.main(args, lib, probes, "%s doctor" % PROG)
    raise ParserError("unknown command %r" % cmd)


def _command_name(argv):
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in ("run", "check", "report", "diff", "env", "scan", "doctor") else None


def main(argv=None, lib=None, version=None, probes=None):
    """Entry point; returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    argv = list(argv)
    name = _command_name(argv)
    who = PROG + (" " + name if name else "")
    try:
        _, rc = _dispatch(argv, lib, version, probes)
        sys.stdout.flush()
        return rc
    except ParserError as e:
        sys.stderr.write("%s: %s\n" % (who, e.message))
        return EXIT_USAGE
    except DetshimError as e:
        sys.stdout.flush()
        sys.stderr.write("%s: %s\n" % (who, e.message))
        return e.code
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % who)
        return 130
    except BrokenPipeError:
        # the reader went away (detshim report ... | head): not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except SystemExit:
        raise
    except Exception as e:  # a bug in detshim: one line, unless asked for more
        if os.environ.get("DETSHIM_DEBUG"):
            import traceback
            traceback.print_exc()
        sys.stderr.write("%s: internal error: %s: %s (set DETSHIM_DEBUG=1 for a traceback)\n"
                         % (who, type(e).__name__, e))
        return EXIT_INTERNAL
