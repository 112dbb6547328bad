"""`detshim run`: exec a command with the shim preloaded."""

import os
import sys

from .common import DetshimError
from . import preload


def build_env(args, lib):
    mode = preload.validate_mode(args.mode) if args.mode is not None else None
    log = preload.validate_log_template(args.log) if args.log is not None else None
    disable = preload.validate_layers(args.disable) if args.disable is not None else None
    return preload.shim_environ(preload.base_environ(), lib, mode=mode, log=log, disable=disable,
                                verbose=args.verbose, hash_=args.hash)


def exec_command(cmd, env, prog):
    """Replace this process by cmd; never returns.  127/126 like a shell when it cannot."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)
    except FileNotFoundError:
        sys.stderr.write("%s: cannot run %r: command not found\n" % (prog, cmd[0]))
        sys.exit(127)
    except PermissionError:
        sys.stderr.write("%s: cannot run %r: permission denied (not executable?)\n" % (prog, cmd[0]))
        sys.exit(126)
    except OSError as e:
        sys.stderr.write("%s: cannot run %r: %s\n" % (prog, cmd[0], e.strerror or e))
        sys.exit(126)


def main(args, lib_configured, prog):
    if not args.cmd:
        raise DetshimError("no command given; usage: detshim run [options] -- CMD [ARGS...]")
    # Validate the options before looking for the library: a typo is the likelier fault.
    if args.mode is not None:
        preload.validate_mode(args.mode)
    lib = preload.require_library(lib_configured)
    env = build_env(args, lib)
    if args.print_env:
        for k in sorted(env):
            if k.startswith("DETSHIM_") or k == "LD_PRELOAD":
                sys.stdout.write("%s=%s\n" % (k, env[k]))
        return 0
    exec_command(args.cmd, env, prog)
    return 127  # not reached
