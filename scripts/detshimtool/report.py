"""`detshim report`: merge logs (many ranks / processes) into one table of culprits."""

import json
import os
import sys

from . import logs
from .common import shorten, table, without_addresses


def subject(ev):
    """What distinguishes two culprits with the same symbol: the kernel (or torch op),
    else the detail (its addresses masked: a handle's address is no property of the call)."""
    k = ev.get("kernel") or ev.get("op")      # the kernel launched, the torch op alerted
    return k if k else without_addresses(ev.get("detail"))


def frame_text(fr):
    if not isinstance(fr, dict):
        return shorten(fr, 160)
    mod = os.path.basename(str(fr.get("module") or "?"))
    off = fr.get("offset")
    where = mod + ("+" + str(off) if off is not None else "")
    fn = fr.get("function") or fr.get("mangled")
    return shorten("%s (%s)" % (fn, where) if fn else where, 160)


def pyframe_text(fr):
    if not isinstance(fr, dict):
        return shorten(fr, 160)
    return shorten("%s:%s in %s" % (fr.get("file", "?"), fr.get("line", "?"), fr.get("function", "?")), 160)


class Culprit:
    def __init__(self, key):
        self.layer, self.symbol, self.action, self.subject = key
        self.count = 0
        self.procs = set()
        self.sites = set()
        self.first = None          # (process index, event)
        self.order = None

    def to_json(self, procs, frames):
        d = {"count": self.count, "layer": self.layer, "symbol": self.symbol,
             "action": self.action, "subject": self.subject, "processes": len(self.procs),
             "sites": len(self.sites), "first": None}
        if self.first:
            pi, ev = self.first
            p = procs[pi]
            d["detail"] = ev.get("detail")
            if ev.get("kernel"):
                d["kernel"] = ev.get("kernel")
            d["first"] = {"log": p.path, "pid": p.pid, "rank": p.rank, "seq": ev.get("seq"),
                          "line": ev.get("_line")}
            d["stack"] = (ev.get("stack") or [])[:frames]
            d["pystack"] = (ev.get("pystack") or [])[:frames]
            if ev.get("pystack_note"):
                d["pystack_note"] = ev["pystack_note"]
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
                key = (ev["layer"], ev["symbol"], ev["action"], subject(ev))
            else:
                srec = srec or {}
                key = (srec.get("layer", "?"), srec.get("symbol", "?"), srec.get("action", "?"), None)
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


def render_text(procs, cul, frames, out):
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
        out.write("culprits, most calls first (%d call%s at %d site%s in all):\n" % (
            total, "" if total == 1 else "s", sum(len(c.sites) for c in cul),
            "" if sum(len(c.sites) for c in cul) == 1 else "s"))
        rows = []
        for i, c in enumerate(cul, 1):
            rows.append([str(i), str(c.count), c.layer, c.symbol, c.action,
                         str(len(c.procs)), str(len(c.sites)), shorten(c.subject or "-", 70)])
        table(rows, ["#", "CALLS", "LAYER", "SYMBOL", "ACTION", "PROCS", "SITES", "KERNEL / DETAIL"],
              out, indent="  ")
        out.write("\nfirst stack of each culprit:\n")
        for i, c in enumerate(cul, 1):
            out.write("  %d. %s %s (%s)\n" % (i, c.layer, c.symbol, c.action))
            if c.first is None:
                out.write("     no event record (only counted in the summary)\n")
                continue
            pi, ev = c.first
            p = procs[pi]
            if ev.get("detail") and ev.get("detail") != c.subject:
                out.write("     %s\n" % shorten(ev["detail"], 140))
            out.write("     first in %s (pid %s, seq %s)\n" % (p.label, p.pid, ev.get("seq")))
            stack = ev.get("stack") or []
            if not stack:
                out.write("     no native stack%s\n" % (" (record truncated)" if ev.get("truncated") else ""))
            for fr in stack[:frames]:
                n = fr.get("frame", "?") if isinstance(fr, dict) else "?"
                out.write("       #%s %s\n" % (n, frame_text(fr)))
            if len(stack) > frames:
                out.write("       ... %d more frame%s\n" % (len(stack) - frames, "" if len(stack) - frames == 1 else "s"))
            py = ev.get("pystack") or []
            if py:
                out.write("     python:\n")
                for fr in py[:frames]:
                    out.write("       %s\n" % pyframe_text(fr))
            elif ev.get("pystack_note"):
                out.write("     python: %s\n" % shorten(ev["pystack_note"], 120))
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


def render_json(procs, cul, frames, out):
    doc = {
        "processes": [{
            "log": p.path, "host": p.host, "pid": p.pid, "rank": p.rank, "mode": p.mode,
            "device": {k: v for k, v in (p.device or {}).items() if not k.startswith("_")} or None,
            "events": len(p.events), "summary": p.summary is not None,
            "notices": [n.get("message") for n in p.notices]} for p in procs],
        "culprits": [c.to_json(procs, frames) for c in cul],
    }
    json.dump(doc, out, indent=2, sort_keys=False)
    out.write("\n")


def main(args):
    procs = logs.read_logs(args.logs)
    cul = culprits(procs)
    if args.json:
        render_json(procs, cul, args.frames, sys.stdout)
    else:
        render_text(procs, cul, args.frames, sys.stdout)
    return 0
