"""`detshim env`: what the shim pins and why (seen, not assumed), and this machine.

The pins are observed: a child (`env -0`, else Python printing os.environ) runs under
the shim with DETSHIM_VERBOSE=1; its environment is compared with the one it was given,
and the shim's `detshim: pinned VAR=VALUE (reason)` lines on its stderr give the reasons."""

import glob
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys

from . import preload
from .common import DETERMINISM_ENV, MODES, DetshimError

VENDOR_LIBS = ("libcuda", "libcudart", "libcublas", "libcublasLt", "libcudnn", "libnccl", "libnvrtc")
_LIB_RE = re.compile(r"^(%s)\.so(\.[0-9][0-9.]*)?$" % "|".join(VENDOR_LIBS))


# ---- the pins, observed --------------------------------------------------------------------
def _child_environ(env):
    """The environment the child process ended up with, and its stderr."""
    envprog = shutil.which("env", path=env.get("PATH") or os.defpath) or (
        "/usr/bin/env" if os.path.exists("/usr/bin/env") else None)
    if envprog:
        cmd = [envprog, "-0"]
    else:
        cmd = [sys.executable or "python3", "-c",
               "import os,sys\nfor k,v in os.environ.items(): sys.stdout.write(k+'='+v+'\\0')"]
        env = dict(env, PYTHONCOERCECLOCALE="0")
    try:
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise DetshimError("cannot start a child process under the shim (%s): %s" % (cmd[0], e))
    err = r.stderr.decode("utf-8", "replace")
    for line in err.splitlines():
        if "cannot be preloaded" in line or ("ld.so" in line and "LD_PRELOAD" in line):
            raise DetshimError("the dynamic loader refused the shim library: %s" % line.strip())
    if r.returncode != 0:
        raise DetshimError("the child process under the shim failed (exit code %d): %s"
                           % (r.returncode, err.strip()[:300]))
    child = {}
    for item in r.stdout.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            child[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return child, err, cmd[0]


def _parse_pin_line(line, given, child):
    """(var, value, previous, reason) from 'detshim: pinned VAR=VALUE[, replacing PREV] (REASON)'."""
    body = line[len("detshim: pinned "):]
    var = body.split("=", 1)[0]
    value = child.get(var)
    rest = None
    if value is not None and body.startswith(var + "=" + value):
        rest = body[len(var) + 1 + len(value):]
    if rest is None:      # the child's value is not the one printed: fall back to the text
        m = re.match(r"^([^=]+)=(.*?)(, replacing (.*?))? \((.*)\)$", body)
        if not m:
            return var, None, None, body
        return m.group(1), m.group(2), m.group(4), m.group(5)
    prev = None
    if rest.startswith(", replacing "):
        old = given.get(var)
        if old is not None and rest.startswith(", replacing " + old):
            prev = old
            rest = rest[len(", replacing ") + len(old):]
        else:
            m = re.match(r"^, replacing (.*?) \(", rest)
            prev = m.group(1) if m else "?"
            rest = rest[len(", replacing ") + len(prev):]
    rest = rest.strip()
    reason = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest
    return var, value, prev, reason


def observe_pins(lib, mode, disable):
    """mode None: the child inherits DETSHIM_MODE as it is."""
    given = preload.shim_environ(preload.base_environ(), lib, mode=mode, disable=disable, verbose=1)
    child, err, probe = _child_environ(given)
    pins, messages, optin = [], [], []
    for line in err.splitlines():
        m = re.match(r"^detshim: opt-in pin not applied: ([^=]+)=(.*?) is exported only with "
                     r"([A-Za-z0-9_]+)=1 \((.*)\)$", line)
        if m:
            optin.append({"var": m.group(1), "value": m.group(2), "optin": m.group(3),
                          "reason": m.group(4)})
            continue
        if line.startswith("detshim: pinned "):
            var, value, prev, reason = _parse_pin_line(line, given, child)
            pins.append({"var": var, "value": value, "previous": prev, "reason": reason,
                         "action": "replaced" if prev is not None else "set",
                         "in_effect": child.get(var) == value})
        elif line.startswith("detshim: "):
            messages.append(line[len("detshim: "):])
    announced = {p["var"] for p in pins}
    silent = []
    for k in sorted(set(child) | set(given)):
        if k in announced or k == "_":
            continue
        if child.get(k) != given.get(k):
            silent.append({"var": k, "before": given.get(k), "after": child.get(k)})
    return {"probe": probe, "pins": pins, "optin": optin, "messages": messages,
            "unannounced_changes": silent}


# ---- this machine ----------------------------------------------------------------------------
def _gpus():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        r = subprocess.run([smi, "--query-gpu=index,name,uuid,driver_version,memory.total,compute_cap",
                            "--format=csv,noheader"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    gpus = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        f = [x.strip() for x in line.split(",")]
        if len(f) >= 5:
            gpus.append({"index": f[0], "name": f[1], "uuid": f[2], "driver": f[3], "memory": f[4],
                         "compute_capability": f[5] if len(f) > 5 else None})
    return gpus


def _lib_dirs():
    dirs = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            dirs += [os.path.join(os.environ[var], "lib64"), os.path.join(os.environ[var], "lib")]
    dirs += ["/usr/local/cuda/lib64", "/usr/local/cuda/lib"]
    dirs += glob.glob("/usr/local/cuda/targets/*/lib")
    dirs += [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    try:
        import site
        sp = list(site.getsitepackages()) + [site.getusersitepackages()]
    except Exception:
        sp = []
    for s in sp:                  # pip wheels (nvidia-cublas-cu12 ...), what PyTorch loads
        dirs += glob.glob(os.path.join(s, "nvidia", "*", "lib"))
    return dirs


def _ldconfig():
    prog = shutil.which("ldconfig") or next((p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig")
                                             if os.path.exists(p)), None)
    if not prog:
        return []
    try:
        r = subprocess.run([prog, "-p"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if "=>" in line:
            out.append(line.split("=>", 1)[1].strip())
    return out


def cuda_libraries():
    """[{name, version, path, realpath, found}] for the vendor libraries on this machine."""
    cands = [(p, "ldconfig") for p in _ldconfig()]
    for d in _lib_dirs():
        for p in sorted(glob.glob(os.path.join(d, "lib*.so*"))):
            cands.append((p, d))
    seen, out = set(), []
    for path, found in cands:
        m = _LIB_RE.match(os.path.basename(path))
        if not m or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        rm = re.search(r"\.so\.([0-9][0-9.]*)$", real)
        out.append({"name": m.group(1), "version": rm.group(1) if rm else None, "path": path,
                    "realpath": real, "found": "ldconfig" if found == "ldconfig" else "directory"})
    out.sort(key=lambda x: (VENDOR_LIBS.index(x["name"]), x["realpath"]))
    return out


# ---- the Python environment's own CUDA libraries (pip's nvidia-* wheels) -------------------
_WHEEL_LIB_RE = re.compile(r"^(lib[A-Za-z0-9_+-]+)\.so(\.[0-9][0-9.]*)?$")
_SITE_PROBE = ("import json, site, sys\n"
               "d = []\n"
               "try: d += list(site.getsitepackages())\n"
               "except Exception: pass\n"
               "try: d.append(site.getusersitepackages())\n"
               "except Exception: pass\n"
               "d += [p for p in sys.path if p.rstrip('/').endswith(('site-packages', 'dist-packages'))]\n"
               "print(json.dumps({'executable': sys.executable, 'version': sys.version.split()[0], 'dirs': d}))\n")


def active_python(explicit=None):
    """The interpreter a `python3 train.py` typed now would run: --python, else the active
    virtual environment's (VIRTUAL_ENV, CONDA_PREFIX), else python3 on PATH."""
    if explicit:
        return explicit
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        root = os.environ.get(var)
        if root:
            for name in ("python3", "python"):
                cand = os.path.join(root, "bin", name)
                if os.access(cand, os.X_OK):
                    return cand
    return shutil.which("python3") or shutil.which("python")


def python_cuda_libraries(python):
    """{python, version, site_packages, libraries, error}: the shared objects of the nvidia-*
    wheels (site-packages/nvidia/<wheel>/lib/*.so*) that this interpreter's packages load
    (PyTorch, TensorFlow, JAX and cupy wheels prefer them over the system toolkit)."""
    out = {"python": python, "version": None, "site_packages": [], "libraries": [], "error": None}
    if not python:
        out["error"] = "no python3 on PATH"
        return out
    try:
        r = subprocess.run([python, "-I", "-c", _SITE_PROBE], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        doc = json.loads(r.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
        out["error"] = "cannot ask %s for its site-packages: %s" % (python, e)
        return out
    out["python"] = doc.get("executable") or python
    out["version"] = doc.get("version")
    seen_dirs = []
    for d in doc.get("dirs", []):
        if d and os.path.isdir(d) and os.path.realpath(d) not in [os.path.realpath(x) for x in seen_dirs]:
            seen_dirs.append(d)
    out["site_packages"] = seen_dirs
    seen = set()
    for sp in seen_dirs:
        for libdir in sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib"))):
            wheel = os.path.basename(os.path.dirname(libdir))
            for path in sorted(glob.glob(os.path.join(libdir, "lib*.so*"))):
                m = _WHEEL_LIB_RE.match(os.path.basename(path))
                real = os.path.realpath(path)
                if not m or real in seen or not os.path.isfile(real):
                    continue
                seen.add(real)
                rm = re.search(r"\.so\.([0-9][0-9.]*)$", real)
                out["libraries"].append({"name": m.group(1), "version": rm.group(1) if rm else None,
                                         "wheel": "nvidia/" + wheel, "path": path, "realpath": real,
                                         "vendor": m.group(1) in VENDOR_LIBS})
    return out


def machine(python=None):
    base = preload.base_environ()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {"host": socket.gethostname(), "os": "%s %s %s" % (platform.system(), platform.release(),
                                                             platform.machine()),
            "cpus": os.cpu_count(), "cpus_usable": usable,
            "python": "%s (%s)" % (platform.python_version(), sys.executable),
            "gpus": _gpus(), "cuda_libraries": cuda_libraries(),
            "python_cuda_libraries": python_cuda_libraries(active_python(python)),
            "env": {k: base[k] for k in DETERMINISM_ENV if k in base}}


# ---- output ----------------------------------------------------------------------------------
def main(args, lib_configured, prog):
    if args.mode is not None:
        mode = preload.validate_mode(args.mode)
    else:
        # as the shim sees it: an invalid DETSHIM_MODE falls back to enforce (the shim says so)
        mode = (os.environ.get("DETSHIM_MODE") or "enforce").strip().lower()
        if mode not in MODES:
            mode = "enforce"
    disable = preload.validate_layers(args.disable) if args.disable is not None else None
    lib = preload.require_library(lib_configured)
    obs = observe_pins(lib, args.mode and mode, disable)
    mach = machine(getattr(args, "python", None))
    if args.json:
        json.dump({"library": lib, "mode": mode, "pins": obs["pins"], "optin_pins": obs["optin"],
                   "shim_messages": obs["messages"],
                   "unannounced_changes": obs["unannounced_changes"], "machine": mach},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    w = sys.stdout.write
    w("detshim env: the shim in mode %s (library %s)\n\n" % (mode, lib))
    w("pins (seen in a child process, %s, started under the shim with DETSHIM_VERBOSE=1):\n"
      % os.path.basename(obs["probe"]))
    if not obs["pins"]:
        w("  none: %s\n" % ("the shim pins variables in enforce and strict mode only"
                            if mode in ("off", "log") else
                            "every variable the shim pins already holds an accepted value, "
                            "or its layer is disabled"))
    for p in obs["pins"]:
        how = ("replaced %r" % p["previous"]) if p["action"] == "replaced" else "set; it was unset"
        w("  %s=%s  (%s)\n" % (p["var"], p["value"], how))
        w("      why: %s\n" % p["reason"])
    if obs["pins"]:
        w("  (a variable you already set to an accepted value is kept, and not listed)\n")
    for p in obs["optin"]:
        w("  not pinned unless asked: %s=%s  (%s=1 exports it)\n" % (p["var"], p["value"], p["optin"]))
        w("      why: %s\n" % p["reason"])
    for c in obs["unannounced_changes"]:
        w("  changed without a message: %s: %r -> %r\n" % (c["var"], c["before"], c["after"]))
    for m in obs["messages"]:
        w("  the shim said: %s\n" % m)
    w("\nthis machine:\n")
    w("  host: %s\n  os: %s\n" % (mach["host"], mach["os"]))
    w("  cpus: %s%s\n" % (mach["cpus"], "" if mach["cpus_usable"] in (None, mach["cpus"])
                          else " (%d usable by this process)" % mach["cpus_usable"]))
    w("  python: %s\n" % mach["python"])
    if mach["gpus"] is None:
        w("  gpus: unknown (nvidia-smi is not available)\n")
    elif not mach["gpus"]:
        w("  gpus: none visible to nvidia-smi\n")
    else:
        w("  gpus:\n")
        for g in mach["gpus"]:
            w("    %s: %s (cc %s, driver %s, %s, %s)\n" % (g["index"], g["name"], g["compute_capability"],
                                                        g["driver"], g["memory"], g["uuid"]))
    libs = mach["cuda_libraries"]
    if not libs:
        w("  cuda libraries: none found (ldconfig -p, CUDA_HOME, /usr/local/cuda, LD_LIBRARY_PATH, "
          "pip's nvidia packages)\n")
    else:
        w("  cuda libraries:\n")
        width = max(len(l["name"]) for l in libs)
        for l in libs:
            w("    %s  %s  %s%s\n" % (l["name"].ljust(width), (l["version"] or "?").ljust(12), l["realpath"],
                                    "" if l["path"] == l["realpath"] else " (as %s)" % l["path"]))
    pyl = mach["python_cuda_libraries"]
    if pyl["error"]:
        w("  python environment: %s\n" % pyl["error"])
    else:
        w("  python environment: %s (Python %s)\n" % (pyl["python"], pyl["version"] or "?"))
        if not pyl["libraries"]:
            w("    cuda libraries from nvidia-* wheels: none (site-packages: %s)\n"
              % (", ".join(pyl["site_packages"]) or "none"))
        else:
            w("    cuda libraries from nvidia-* wheels (what its torch/tensorflow load first):\n")
            width = max(len(l["name"]) for l in pyl["libraries"])
            for l in pyl["libraries"]:
                w("      %s  %s  %s  %s\n" % (l["name"].ljust(width), (l["version"] or "?").ljust(12),
                                          l["wheel"], l["realpath"]))
    if mach["env"]:
        w("  determinism-relevant variables set now:\n")
        for k, v in mach["env"].items():
            w("    %s=%s\n" % (k, v))
    else:
        w("  determinism-relevant variables set now: none\n")
    return 0
