"""Where libdetshim.so is, and the environment that preloads it.

Used by `run`, `check` and `env`.  The library path is the one meson configured into
the detshim script (the installed libdir, or the build tree's shim/libdetshim.so for the
build-tree script); DETSHIM_LIB in the environment overrides it."""

import os
import re

from .common import LAYERS, MODES, PIN_VARS, DetshimError


def _shim_in_this_process():
    try:
        import ctypes
        ctypes.CDLL(None).detshim_abi_marker  # noqa: B018 (exported by libdetshim.so)
        return True
    except (AttributeError, OSError, ImportError):
        return False


def _initial_environ():
    """The environment this process was started with (before any constructor ran)."""
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode("utf-8", "surrogateescape")] = v.decode("utf-8", "surrogateescape")
    return env


def base_environ():
    """os.environ as the user set it.

    When detshim itself runs with the shim preloaded (the detshim-preload module), the
    shim's constructor has already pinned variables in this process; a child must not
    inherit those as if the user had set them (`check --mode none` would not be a
    baseline, `run --mode log` would not be log mode, `env` would see nothing to pin).
    The pinned variables get back the values this process started with."""
    env = dict(os.environ)
    if not _shim_in_this_process():
        return env
    initial = _initial_environ()
    if initial is None:
        return env
    for var in PIN_VARS:
        if var in initial:
            env[var] = initial[var]
        else:
            env.pop(var, None)
    return env


def library_path(configured):
    """(path, where it came from)."""
    env = os.environ.get("DETSHIM_LIB")
    if env:
        return env, "DETSHIM_LIB"
    return configured or "", "the detshim script"


def require_library(configured):
    path, origin = library_path(configured)
    if not path:
        raise DetshimError("no shim library is configured: set DETSHIM_LIB to the path of libdetshim.so")
    if not os.path.isabs(path):
        path = os.path.abspath(path)
    if not os.path.isfile(path):
        hint = ("fix or unset DETSHIM_LIB" if origin == "DETSHIM_LIB"
                else "build it (ninja -C BUILDDIR) or install it, or set DETSHIM_LIB")
        raise DetshimError("the shim library %s (from %s) does not exist; %s" % (path, origin, hint))
    if not os.access(path, os.R_OK):
        raise DetshimError("the shim library %s (from %s) is not readable" % (path, origin))
    return path


def preload_entries(value):
    """LD_PRELOAD's entries: ld.so separates them by colons and blanks."""
    return [e for e in re.split(r"[:\s]+", value or "") if e]


def _same(a, b):
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def already_preloaded(lib, ld_preload):
    base = os.path.basename(lib)
    for entry in preload_entries(ld_preload):
        if "/" not in entry and entry == base:
            return True          # a bare name that ld.so finds on its search path
        if "/" in entry and _same(entry, lib):
            return True
    return False


def prepend_preload(lib, ld_preload):
    """LD_PRELOAD with lib first, unless it is already in it (then unchanged)."""
    if not ld_preload or not ld_preload.strip():
        return lib
    if already_preloaded(lib, ld_preload):
        return ld_preload
    return lib + ":" + ld_preload


def validate_mode(value, option="--mode", allow_none=False):
    v = (value or "").strip().lower()
    accepted = MODES + (("none",) if allow_none else ())
    if v not in accepted:
        raise DetshimError("%s %r is not a mode; use one of %s" % (option, value, ", ".join(accepted)))
    return v


def validate_layers(value, option="--disable"):
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    for n in names:
        if n != "all" and n not in LAYERS:
            raise DetshimError("%s: unknown layer %r; the layers are %s, or all (comma-separated)"
                               % (option, n, ", ".join(LAYERS)))
    return ",".join(names)


def validate_log_template(value, option="--log"):
    """The shim's DETSHIM_LOG escapes are %p (pid), %r (rank), %h (host) and %%."""
    if not value:
        raise DetshimError("%s needs a path" % option)
    i = 0
    while i < len(value):
        if value[i] == "%":
            nxt = value[i + 1:i + 2]
            if nxt not in ("p", "r", "h", "%"):
                what = "a trailing %" if not nxt else "unknown escape %" + nxt
                raise DetshimError("%s %r: %s; the escapes are %%p (pid), %%r (rank), %%h (host), %%%%"
                                   % (option, value, what))
            i += 2
        else:
            i += 1
    if len(value.encode()) >= 4096:
        raise DetshimError("%s: the path is too long (4096 bytes at most)" % option)
    return os.path.abspath(value)


def shim_environ(base, lib, mode=None, log=None, disable=None, verbose=0, hash_=False):
    """A copy of `base` that preloads `lib`, with the DETSHIM_* variables that were given."""
    env = dict(base)
    env["LD_PRELOAD"] = prepend_preload(lib, base.get("LD_PRELOAD", ""))
    env["DETSHIM_LIB"] = lib
    if mode:
        env["DETSHIM_MODE"] = mode
    if log:
        env["DETSHIM_LOG"] = log
    if disable is not None:
        env["DETSHIM_DISABLE"] = disable
    if verbose:
        env["DETSHIM_VERBOSE"] = "2" if verbose > 1 else "1"
    if hash_:
        env["DETSHIM_HASH"] = "1"
    return env
