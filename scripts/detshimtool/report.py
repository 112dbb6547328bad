"""`detshim report`: merge logs (many ranks / processes) into one table of culprits, ranked
by the Python line that made the call (the innermost frame of the program itself), then the
op or kernel. C++ names are demangled; native stacks are shown only with --native."""

import json
import os
import sys

from . import logs
from .common import shorten, table, without_addresses
from .names import demangle, pyline, short_function, short_path


def subject(ev):
    """What distinguishes two culprits with the same symbol: the kernel (or torch op),
    else the detail (its addresses masked: a handle's address is no property of the call)."""
    k = ev.get("kernel") or ev.get("op")      # the kernel launched, the torch op alerted
    return k if k else without_addresses(ev.get("detail"))


def frame_text(fr, names):
    if not isinstance(fr, dict):
        return shorten(fr, 160)
    mod = os.path.basename(str(fr.get("module") or "?"))
    off = fr.get("offset")
    where = mod + ("+" + str(off) if off is not None else "")
    fn = fr.get("function") or fr.get("mangled")
    fn = names.get(fn, fn)
    return shorten("%s (%s)" % (fn, where) if fn else where, 160)


def pyframe_text(fr):
    if not isinstance(fr, dict):
        return shorten(fr, 160)
    return shorten("%s:%s in %s" % (fr.get("file", "?"), fr.get("line", "?"), fr.get("function", "?")), 160)


class Culprit:
    def __init__(self, key):
        self.py, self.layer, self.symbol, self.action, self.subject = key
        self.count = 0
        self.procs = set()
        self.sites = set()
        self.first = None          # (process index, event)
        self.order = None

    def ranks(self, procs):
        r = sorted({procs[pi].rank for pi in self.procs if procs[pi].rank is not None})
        return r

    def to_json(self, procs, frames, native, names):
        d = {"count": self.count,
             "python": {"file": self.py[0], "line": self.py[1], "function": self.py[2]} if self.py else None,
             "layer": self.layer, "symbol": self.symbol,
             "symbol_demangled": names.get(self.symbol, self.symbol),
             "action": self.action, "subject": self.subject, "processes": len(self.procs),
             "ranks": self.ranks(procs), "sites": len(self.sites), "first": None}
        if self.first:
            pi, ev = self.first
            p = procs[pi]
            d["detail"] = ev.get("detail")
            if ev.get("kernel"):
                d["kernel"] = ev.get("kernel")
            if ev.get("op"):
                d["op"] = ev.get("op")
            d["first"] = {"log": p.path, "pid": p.pid, "rank": p.rank, "seq": ev.get("seq"),
                          "line": ev.get("_line")}
            d["pystack"] = (ev.get("pystack") or [])[:frames]
            if ev.get("pystack_note"):
                d["pystack_note"] = ev["pystack_note"]
            if native:
                stack = []
                for fr in (ev.get("stack") or [])[:frames]:
                    if isinstance(fr, dict):
                        fr = dict(fr)
                        fn = fr.get("function") or fr.get("mangled")
                        if fn in names:
                            fr["function"] = names[fn]
                    stack.append(fr)
                d["stack"] = stack
        return d


def culprits(procs):
    table = {}
    order = 0
    for pi, p in enumerate(procs):
        first_by_site = {}
        for ev in p.events:
            first_by_site.setdefault(ev.get("site") or ("seq%s" % ev.get("seq")), ev)
        for sid, (count, srec) in p.site_counts().items():
            ev = first_by_site.get(sid)
            if ev is not None:
                key = (pyline(ev.get("pystack")), ev["layer"], ev["symbol"], ev["action"], subject(ev))
            else:
                srec = srec or {}
                key = (None, srec.get("layer", "?"), srec.get("symbol", "?"), srec.get("action", "?"), None)
            c = table.get(key)
            if c is None:
                c = table[key] = Culprit(key)
                c.order = order
                order += 1
            c.count += count
            c.procs.add(pi)
            c.sites.add((pi, sid))
            if ev is not None and c.first is None:
                c.first = (pi, ev)
    return sorted(table.values(), key=lambda c: (-c.count, c.order))


def all_names(cul):
    """Every C++ name the output may show, demangled in one go."""
    want = set()
    for c in cul:
        want.add(c.symbol)
        if isinstance(c.subject, str):
            want.add(c.subject)
        if c.first:
            for fr in c.first[1].get("stack") or []:
                if isinstance(fr, dict):
                    want.add(fr.get("function") or fr.get("mangled"))
    return demangle(want)


def process_line(p):
    bits = ["host %s" % (p.host or "?"), "pid %s" % p.pid,
            "rank %s" % ("-" if p.rank is None else p.rank), "mode %s" % (p.mode or "?"),
            "GPU %s" % p.gpu_text()]
    tail = "%d event record%s" % (len(p.events), "" if len(p.events) == 1 else "s")
    if p.summary is not None:
        tail += ", summary"
    elif (p.header or {}).get("forked"):
        tail += ", no summary (a forked worker: it left with _exit, as DataLoader workers do)"
    else:
        tail += ", no summary (killed, _exit, or still running)"
    return "%s: %s; %s" % (p.label, ", ".join(bits), tail)


def ranks_text(r):
    if not r:
        return "-"
    spans, start, prev = [], r[0], r[0]
    for x in r[1:] + [None]:
        if isinstance(x, int) and isinstance(prev, int) and x == prev + 1:
            prev = x
            continue
        spans.append(str(start) if start == prev else "%s-%s" % (start, prev))
        start = prev = x
    return ",".join(spans)


def render_text(procs, cul, frames, native, out):
    names = all_names(cul)
    nfiles = len({p.path for p in procs})
    out.write("detshim report: %d process%s in %d log%s\n\n" % (
        len(procs), "" if len(procs) == 1 else "es", nfiles, "" if nfiles == 1 else "s"))
    out.write("processes:\n")
    for p in procs:
        out.write("  " + process_line(p) + "\n")
    out.write("\n")
    if not cul:
        out.write("no nondeterministic, forced or blocked call was recorded\n")
    else:
        total = sum(c.count for c in cul)
        nsites = sum(len(c.sites) for c in cul)
        out.write("culprits by Python line, most calls first (%d call%s at %d site%s in all):\n" % (
            total, "" if total == 1 else "s", nsites, "" if nsites == 1 else "s"))
        rows = []
        for i, c in enumerate(cul, 1):
            where = "%s:%s" % (short_path(c.py[0]), c.py[1]) if c.py else "-"
            subj = names.get(c.subject, c.subject) if isinstance(c.subject, str) else c.subject
            rows.append([str(i), str(c.count), where, shorten(c.py[2], 24) if c.py else "-", c.layer,
                         shorten(short_function(names.get(c.symbol, c.symbol)), 48), c.action,
                         str(len(c.procs)), ranks_text(c.ranks(procs)), str(len(c.sites)),
                         shorten(subj or "-", 70)])
        table(rows, ["#", "CALLS", "PYTHON LINE", "FUNCTION", "LAYER", "CALL", "ACTION", "PROCS",
                     "RANKS", "SITES", "OP / KERNEL / DETAIL"], out, indent="  ")
        out.write("\neach culprit, as first seen%s:\n" % (
            "" if native else " (native stacks: --native)"))
        for i, c in enumerate(cul, 1):
            head = "%s:%s in %s" % (c.py[0], c.py[1], c.py[2]) if c.py else "no Python line"
            out.write("  %d. %s: %s %s (%s)\n" % (i, head, c.layer,
                                                   names.get(c.symbol, c.symbol), c.action))
            if c.first is None:
                out.write("     no event record (only counted in the summary)\n")
                continue
            pi, ev = c.first
            p = procs[pi]
            if ev.get("detail") and ev.get("detail") != c.subject:
                out.write("     %s\n" % shorten(ev["detail"], 140))
            elif isinstance(c.subject, str) and names.get(c.subject, c.subject) != c.subject:
                out.write("     %s\n" % shorten(names[c.subject], 140))
            out.write("     first in %s (pid %s, seq %s)\n" % (p.label, p.pid, ev.get("seq")))
            py = ev.get("pystack") or []
            if py:
                out.write("     python:\n")
                for fr in py[:frames]:
                    out.write("       %s\n" % pyframe_text(fr))
                if len(py) > frames:
                    out.write("       ... %d more frame%s\n" % (len(py) - frames, "" if len(py) - frames == 1 else "s"))
            elif ev.get("pystack_note"):
                out.write("     python: %s\n" % shorten(ev["pystack_note"], 160))
            stack = ev.get("stack") or []
            if not native:
                continue
            if not stack:
                out.write("     no native stack%s\n" % (" (record truncated)" if ev.get("truncated") else ""))
                continue
            out.write("     native:\n")
            for fr in stack[:frames]:
                n = fr.get("frame", "?") if isinstance(fr, dict) else "?"
                out.write("       #%s %s\n" % (n, frame_text(fr, names)))
            if len(stack) > frames:
                out.write("       ... %d more frame%s\n" % (len(stack) - frames, "" if len(stack) - frames == 1 else "s"))
    notes = {}
    for p in procs:
        for n in p.notices:
            key = (n.get("layer"), n.get("message"))
            notes.setdefault(key, set()).add(p.label)
    if notes:
        out.write("\nnotices:\n")
        for (layer, msg), who in notes.items():
            out.write("  [%s] %s (%s)\n" % (layer or "-", shorten(msg, 140),
                                            ", ".join(sorted(who)) if len(who) <= 3 else "%d processes" % len(who)))


def render_json(procs, cul, frames, native, out):
    names = all_names(cul)
    doc = {
        "processes": [{
            "log": p.path, "host": p.host, "pid": p.pid, "rank": p.rank, "mode": p.mode,
            "device": {k: v for k, v in (p.device or {}).items() if not k.startswith("_")} or None,
            "events": len(p.events), "summary": p.summary is not None,
            "notices": [n.get("message") for n in p.notices]} for p in procs],
        "culprits": [c.to_json(procs, frames, native, names) for c in cul],
    }
    json.dump(doc, out, indent=2, sort_keys=False)
    out.write("\n")


def main(args):
    procs = logs.read_logs(args.logs)
    cul = culprits(procs)
    native = getattr(args, "native", False)
    if args.json:
        render_json(procs, cul, args.frames, native, sys.stdout)
    else:
        render_text(procs, cul, args.frames, native, sys.stdout)
    return 0
