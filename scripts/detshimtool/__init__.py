"""detshimtool: the Python side of libdetshim (the `detshim` command).

Standard library only; runs under any Python 3 from 3.8 on.  The command-line entry
point is detshimtool.cli.main(argv, lib=..., version=...), called by the `detshim`
script that meson configures (scripts/detshim.in).  Each subcommand lives in its own
module: run and check (runner.py, check.py, compare.py), report and diff (logs.py,
report.py, diff.py), env (envinfo.py); `scan` is detshimtool/scan.py (its own work)."""

__all__ = ["cli"]
