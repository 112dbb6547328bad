#!/usr/bin/env python3
"""The library's floors, checked on its object files (docs/architecture.md).

Calls go one way: hooks -> layers -> hash -> core -> table (hash mode is a service the
layers call around each vendor call; it never calls a layer). Inside the core every file
uses only files on lower floors (CORE below, bottom first); a layer uses only its own
folder, the core and the table, never another layer. "Uses" is what the linker sees: a
symbol an object leaves undefined that another object of the library defines (functions
and data alike).

Usage: floors.py OBJDIR      (the libdetshim_core.a.p folder of a build)
Prints one line per wrong-way use and exits 1 when there is any.
"""
import os
import re
import subprocess
import sys

# The core, bottom floor first: each file may use the files before it, never after.
CORE = ["json", "hash64", "guard", "logpath", "loader", "privfile", "config", "backtrace", "resolve",
        "log", "fingerprint", "pins", "header", "pyframes", "pystack", "realfn", "event", "summary"]
# Folders above the core, bottom first. Files in one folder may use each other.
ABOVE = ["hash", "layers", "hooks"]
# The one use that goes up, named: the kernels layer hands the program, in place of a launch
# function it asked cuGetProcAddress for, one of the launch trampolines; on x86-64 those are
# assembly fronts built with the hooks' fronts and gate (hooks/fronts_x86_64.S), so the layer
# takes their addresses (it never calls them). docs/architecture.md says so.
ALLOWED_UP = [("layers/kernels", "hooks", re.compile(r"ds_t[lec]_[0-9]+$"))]


def unit_of(obj):
    """'core_log.c.o' -> ('core', 'log'); 'layers_cublas_gemm.c.o' -> ('layers/cublas', ..)."""
    name = obj[:-len(".o")]
    for ext in (".c", ".S"):
        if name.endswith(ext):
            name = name[:-len(ext)]
    parts = name.split("_")
    if parts[0] == "layers":
        return "layers/" + parts[1], "_".join(parts[2:])
    if parts[0] in ("core", "table", "hash", "hooks"):
        return parts[0], "_".join(parts[1:])
    return None, name  # generated data (kernels.db, the PTX): no calls


def rank(folder, stem):
    """A comparable floor: (level, core position)."""
    if folder == "table":
        return (0, 0)
    if folder == "core":
        if stem not in CORE:
            return None
        return (1, CORE.index(stem) + 1)
    top = folder.split("/")[0]
    return (2 + ABOVE.index(top), 0)


def symbols(path):
    out = subprocess.run(["nm", "-P", path], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        sym, kind = f[0], f[1]
        if kind == "U":
            undefined.add(sym)
        elif kind.isupper() or kind in ("u", "v", "w"):
            defined.add(sym)
    return defined, undefined


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    objdir = sys.argv[1]
    units = {}
    for obj in sorted(os.listdir(objdir)):
        if obj.endswith(".o"):
            folder, stem = unit_of(obj)
            units[obj] = (folder, stem) + symbols(os.path.join(objdir, obj))
    owner = {}
    for obj, (folder, stem, defined, _) in units.items():
        for s in defined:
            owner[s] = obj
    bad = unknown = 0
    for obj, (folder, stem, _, undefined) in units.items():
        if folder is None:
            continue
        me = rank(folder, stem)
        if me is None:
            print("%s: a core file not in the floor list (add it to CORE in %s)" % (obj, __file__))
            unknown += 1
            continue
        for s in sorted(undefined):
            dep = owner.get(s)
            if dep is None or dep == obj:
                continue
            dfolder, dstem = units[dep][0], units[dep][1]
            if dfolder is None:
                continue
            them = rank(dfolder, dstem)
            if them is None:
                continue
            wrong = False
            if folder.startswith("layers/") and dfolder.startswith("layers/"):
                wrong = folder != dfolder  # a layer never uses another layer
            elif folder == dfolder and folder != "core":
                wrong = False  # one folder above the core: its files may use each other
            else:
                wrong = them >= me
            if wrong and any(folder == f and dfolder == d and rx.match(s)
                             for f, d, rx in ALLOWED_UP):
                wrong = False
            if wrong:
                print("%s/%s uses %s from %s/%s: calls must go down (hooks -> layers -> hash "
                      "-> core -> table; core floors: %s)" % (folder, stem, s, dfolder, dstem,
                                                              " < ".join(CORE)))
                bad += 1
    checked = sum(1 for u in units.values() if u[0] is not None)
    print("%d objects checked, %d wrong-way uses, %d unplaced core files" % (checked, bad, unknown))
    return 1 if bad or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
