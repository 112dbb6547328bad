"""Names for people: C++ names demangled (c++filt, else a small fallback that gives the
qualified function name), and the Python line that stands for an event."""

import os
import re
import shutil
import subprocess

_cache = {}


def _fallback(name):
    """The qualified name of an Itanium-mangled function, `a::b::f(...)`, for machines
    without c++filt; the name as given where this simple reading does not apply."""
    if not name.startswith("_Z"):
        return name
    s, i, parts = name, 2, []

    def source(i):
        m = re.match(r"(\d+)", s[i:])
        if not m:
            return None, i
        n, j = int(m.group(1)), i + len(m.group(1))
        return s[j:j + n], j + n

    def template(i):  # skip a balanced I...E, as <...>
        depth = 0
        while i < len(s):
            if s[i] == "I":
                depth += 1
            elif s[i] == "E":
                depth -= 1
                if depth == 0:
                    return i + 1
            elif s[i].isdigit():
                m = re.match(r"(\d+)", s[i:])
                i += len(m.group(1)) + int(m.group(1))
                continue
            i += 1
        return None

    if s[i:i + 1] == "N":
        i += 1
        while i < len(s) and s[i] in "rVKRO":
            i += 1
        if s.startswith("St", i):
            parts.append("std")
            i += 2
        while i < len(s) and s[i] != "E":
            if s[i].isdigit():
                part, i = source(i)
                if part is None:
                    return name
                parts.append(part)
            elif s[i] == "I":
                j = template(i)
                if j is None or not parts:
                    return name
                parts[-1] += "<...>"
                i = j
            elif s[i] in "CD" and i + 1 < len(s) and s[i + 1] in "0123" and parts:
                base = re.sub(r"<.*", "", parts[-1])
                parts.append(("~" if s[i] == "D" else "") + base)
                i += 2
            else:
                return name
        i += 1
    else:
        part, i = source(i)
        if part is None:
            return name
        parts.append(part)
    rest = s[i:]
    return "::".join(parts) + ("()" if rest in ("", "v") else "(...)")


def demangle(names):
    """{name: demangled} for every name given; one c++filt process for all that start with
    _Z, else the fallback."""
    todo = sorted({n for n in names if isinstance(n, str) and n.startswith("_Z") and n not in _cache})
    if todo:
        tool = shutil.which("c++filt") or shutil.which("llvm-cxxfilt")
        got = None
        if tool and not os.environ.get("DETSHIM_NO_CXXFILT"):
            try:
                r = subprocess.run([tool], input="\n".join(todo) + "\n", stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, universal_newlines=True, timeout=120)
                out = r.stdout.split("\n")
                if r.returncode == 0 and len(out) >= len(todo):
                    got = out
            except (OSError, subprocess.SubprocessError):
                pass
        for k, n in enumerate(todo):
            d = got[k] if got and got[k] and got[k] != n else _fallback(n)
            _cache[n] = d
    return {n: _cache.get(n, n) for n in names if isinstance(n, str)}


def readable(name):
    """One name, demangled."""
    if not isinstance(name, str):
        return name
    return demangle([name])[name]


def short_function(name):
    """A demangled function name without its parameter list (and return type), for tables:
    `void at::native::f<float>(...)` -> `at::native::f<float>`."""
    if not isinstance(name, str):
        return name
    depth, cut = 0, len(name)
    for i, ch in enumerate(name):  # the first '(' outside template brackets
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0 and not name.startswith("(anonymous", i):
            cut = i
            break
    head = name[:cut]
    depth, start = 0, 0
    for i, ch in enumerate(head):  # a return type before the name ("void f")
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == " " and depth == 0:
            start = i + 1
    return head[start:] or name


_LIBRARY = re.compile(r"(/(site|dist)-packages/|/lib/python\d+(\.\d+)?/|^<frozen |^<string>)")


def is_library(path):
    return bool(_LIBRARY.search(str(path or "")))


def pyline(pystack):
    """The Python frame that stands for an event: the innermost frame of the program itself
    (not in site-packages, dist-packages or the standard library), else the innermost.
    Returns (file, line, function) or None."""
    frames = [f for f in (pystack or []) if isinstance(f, dict)]
    if not frames:
        return None
    pick = next((f for f in frames if not is_library(f.get("file"))), frames[0])
    return (str(pick.get("file", "?")), pick.get("line", "?"), str(pick.get("function", "?")))


def short_path(path, width=40):
    path = str(path)
    if len(path) <= width:
        return path
    parts = path.split("/")
    out = parts[-1]
    for p in reversed(parts[:-1]):
        if len(p) + len(out) + 5 > width:
            break
        out = p + "/" + out
    return ".../" + out
