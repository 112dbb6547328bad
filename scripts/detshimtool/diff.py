"""`detshim diff A B`: can two runs match bitwise, and where do their records part?

The inputs are dispatched on their trace type (TRACE_TYPES): today only the JSONL log
(docs/log-format.md); a binary hash trace can register its own sniff/compare pair
here without touching the log comparison."""

import json
import os
import sys

from . import logs
from .common import DetshimError, clip_pair, cuda_version, shorten, table, without_addresses

# Severity of a fingerprint difference.
BLOCKING = "not expected"   # bitwise equality is not to be expected
CAUTION = "may differ"      # equality likely, but not guaranteed
INFO = "info"               # differs, irrelevant to the numbers

# Environment variables that differ between identical runs without changing any result.
_ENV_INFO = {"DETSHIM_LOG", "LD_PRELOAD", "DETSHIM_LIB", "CUDA_VISIBLE_DEVICES", "DETSHIM_VERBOSE"}


# ---- trace types ---------------------------------------------------------------------------
def _sniff_log(head):
    return head.lstrip()[:1] == b"{"


class TraceType:
    def __init__(self, name, description, sniff, compare):
        self.name, self.description, self.sniff, self.compare = name, description, sniff, compare


TRACE_TYPES = []   # filled at the end of this module; first match wins


def trace_type(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise DetshimError("%s: no such file" % path)
    except IsADirectoryError:
        raise DetshimError("%s: is a directory (diff compares two files)" % path)
    except OSError as e:
        raise DetshimError("%s: cannot read it: %s" % (path, e.strerror or e))
    if not head:
        raise DetshimError("%s: empty file, not a detshim log (it needs at least the header line)" % path)
    for t in TRACE_TYPES:
        if t.sniff(head):
            return t
    raise DetshimError("%s: not a detshim log or trace (unrecognised format: %s)" % (
        path, "binary data" if b"\x00" in head else "text that is not JSON Lines"))


# ---- logs: the fingerprint -----------------------------------------------------------------
def _lib_key(name):
    base = os.path.basename(name or "?")
    return base.split(".so")[0]


def fingerprint(p):
    """[(field, value, severity, what it is)]: everything that decides equality."""
    h, d = p.header, p.device or {}
    fp = []
    if p.device is not None:
        fp += [("device.name", d.get("name"), BLOCKING, "GPU model"),
               ("device.sm_count", d.get("sm_count"), BLOCKING, "SM count"),
               ("device.compute_capability", d.get("compute_capability"), BLOCKING,
                "compute capability"),
               ("device.runtime_version", d.get("runtime_version"), BLOCKING, "CUDA runtime version"),
               ("device.driver_version", d.get("driver_version"), CAUTION,
                "driver version: PTX is JIT-compiled by the driver")]
    for lib in h.get("libraries") or []:
        if isinstance(lib, dict):
            fp.append(("library %s" % _lib_key(lib.get("name")), lib.get("version") or lib.get("realpath"),
                       BLOCKING, "vendor library version"))
    fp.append(("mode", h.get("mode"), BLOCKING, "detshim mode"))
    fp.append(("disabled", ",".join(sorted(str(x) for x in h.get("disabled") or [])) or None, BLOCKING,
               "layers switched off"))
    for pin in h.get("pins") or []:
        if isinstance(pin, dict):
            # what the shim changed; the values in force are compared as env entries
            fp.append(("pin %s" % pin.get("var"), "%s (%s)" % (pin.get("value"), pin.get("action")),
                       INFO, "what the shim pinned"))
    for k, v in sorted((h.get("env") or {}).items()):
        fp.append(("env %s" % k, v, INFO if k in _ENV_INFO else BLOCKING,
                   "environment" if k in _ENV_INFO else "determinism-relevant environment variable"))
    fp.append(("detshim version", h.get("version"), CAUTION, "libdetshim version"))
    fp.append(("host", h.get("host"), INFO, "host name"))
    cmd = h.get("cmdline")
    fp.append(("cmdline", " ".join(str(c) for c in cmd) if isinstance(cmd, list) else None, INFO,
               "command line"))
    return fp


def _show(field, v):
    if v is None:
        return "(absent)"
    if field.startswith("device.") and field.endswith("_version"):
        return "%s (%s)" % (cuda_version(v), v)
    return str(v)


def compare_fingerprints(pa, pb):
    fa = {f: (v, sev, what) for f, v, sev, what in fingerprint(pa)}
    fb = {f: (v, sev, what) for f, v, sev, what in fingerprint(pb)}
    fields = list(fa) + [f for f in fb if f not in fa]
    diffs, same = [], 0
    for f in fields:
        va, sa, wa = fa.get(f, (None, None, None))
        vb, sb, wb = fb.get(f, (None, None, None))
        if f not in fa or f not in fb:
            # a library loaded or a variable set in one run only
            sev, what = (sa or sb), (wa or wb)
            if f.startswith("library "):
                what = "vendor library loaded in one run only"
            diffs.append((f, va, vb, sev, what))
        elif va != vb:
            diffs.append((f, va, vb, sa, wa))
        else:
            same += 1
    notes = []
    if (pa.device is None) != (pb.device is None):
        who = "A" if pa.device is None else "B"
        notes.append("%s has no device record (the program never initialised CUDA, or ended first): "
                     "the GPUs cannot be compared" % who)
    elif pa.device is None:
        notes.append("neither log has a device record: the GPUs cannot be compared")
    return diffs, same, notes


# ---- logs: the event sequences -------------------------------------------------------------
def event_key(ev):
    """What must match between two runs: layer, symbol, action, and the kernel or the
    detail with its addresses masked (pointers and handles differ from run to run)."""
    detail = ev.get("kernel") or without_addresses(ev.get("detail"))
    return (ev.get("layer"), ev.get("symbol"), ev.get("action"), detail)


def event_text(ev):
    k = event_key(ev)
    return "%s %s %s%s (seq %s, line %s)" % (k[0], k[1], k[2], ": " + shorten(k[3], 90) if k[3] else "",
                                            ev.get("seq"), ev.get("_line"))


def compare_events(pa, pb):
    """None when equal, else a description of the first point where they part."""
    ea, eb = pa.events, pb.events
    for i in range(min(len(ea), len(eb))):
        if event_key(ea[i]) != event_key(eb[i]):
            return {"index": i + 1, "a": ea[i], "b": eb[i],
                    "text": "the event sequences part at event %d:\n    A: %s\n    B: %s"
                            % (i + 1, event_text(ea[i]), event_text(eb[i]))}
    if len(ea) != len(eb):
        longer, name, other = (ea, "A", "B") if len(ea) > len(eb) else (eb, "B", "A")
        i = min(len(ea), len(eb))
        return {"index": i + 1, "a": ea[i] if name == "A" else None, "b": eb[i] if name == "B" else None,
                "text": "the event sequences agree for %d event%s, then %s has %d more (%s ends there); "
                        "the first extra one:\n    %s: %s"
                        % (i, "" if i == 1 else "s", name, len(longer) - i, other, name,
                           event_text(longer[i]))}
    return None


def _totals(p):
    if p.summary is None:
        return None
    first_by_site = {}
    for ev in p.events:
        first_by_site.setdefault(ev.get("site"), ev)
    tot = {}
    for sid, (count, srec) in p.site_counts().items():
        ev = first_by_site.get(sid)
        key = event_key(ev) if ev else ((srec or {}).get("layer"), (srec or {}).get("symbol"),
                                        (srec or {}).get("action"), None)
        tot[key] = tot.get(key, 0) + count
    return tot


def compare_counts(pa, pb):
    ta, tb = _totals(pa), _totals(pb)
    if ta is None or tb is None:
        return []
    out = []
    for k in list(ta) + [k for k in tb if k not in ta]:
        if ta.get(k, 0) != tb.get(k, 0):
            out.append((k, ta.get(k, 0), tb.get(k, 0)))
    return out


def _one_process(path):
    procs = logs.read_log(path)
    if len(procs) != 1:
        raise DetshimError("%s holds %d processes' records; diff compares one process with another "
                           "(give DETSHIM_LOG a %%p so that each process writes its own file)"
                           % (path, len(procs)))
    return procs[0]


def compare_logs(path_a, path_b, args, out):
    from .report import process_line
    pa, pb = _one_process(path_a), _one_process(path_b)
    diffs, same, notes = compare_fingerprints(pa, pb)
    ev = compare_events(pa, pb)
    counts = compare_counts(pa, pb)
    blocking = [d for d in diffs if d[3] == BLOCKING]
    caution = [d for d in diffs if d[3] == CAUTION]

    def why(d):
        return "%s differs (%s: %s vs %s)" % (d[0], d[4], _show(d[0], d[1]), _show(d[0], d[2]))

    if blocking:
        verdict = "bitwise equality is NOT expected between these runs: " + "; ".join(why(d) for d in blocking)
        expected = "no"
    elif caution:
        verdict = ("bitwise equality is likely but not guaranteed: " + "; ".join(why(d) for d in caution))
        expected = "maybe"
    elif notes:
        verdict = "bitwise equality is expected as far as the logs tell (%s)" % "; ".join(notes)
        expected = "yes"
    else:
        verdict = "bitwise equality is expected: same GPU, libraries, pins, mode and environment"
        expected = "yes"
    different = bool(blocking or caution or ev or counts)

    if args.json:
        doc = {"a": path_a, "b": path_b, "trace_type": "log", "equal": not different,
               "bitwise_expected": expected, "verdict": verdict,
               "fingerprint_differences": [{"field": f, "a": a, "b": b, "severity": s, "what": w}
                                           for f, a, b, s, w in diffs],
               "notes": notes,
               "events": {"a": len(pa.events), "b": len(pb.events),
                          "first_difference": None if ev is None else {
                              "index": ev["index"],
                              "a": None if ev["a"] is None else list(event_key(ev["a"])) + [ev["a"].get("seq")],
                              "b": None if ev["b"] is None else list(event_key(ev["b"])) + [ev["b"].get("seq")]}},
               "count_differences": [{"event": list(k), "a": a, "b": b} for k, a, b in counts]}
        json.dump(doc, out, indent=2)
        out.write("\n")
        return 1 if different else 0

    out.write("A: %s\nB: %s\n\n" % (process_line(pa), process_line(pb)))
    if diffs:
        out.write("fingerprint: %d field%s differ%s, %d equal\n" % (
            len(diffs), "" if len(diffs) == 1 else "s", "s" if len(diffs) == 1 else "", same))
        rows = [[f] + list(clip_pair(_show(f, a), _show(f, b), 40)) + [
                 {BLOCKING: "bitwise equality not expected", CAUTION: "may change results",
                  INFO: "no effect on results"}[s]] for f, a, b, s, w in diffs]
        table(rows, ["FIELD", "A", "B", "EFFECT"], out, indent="  ")
    else:
        out.write("fingerprint: all %d fields equal\n" % same)
    for n in notes:
        out.write("  note: %s\n" % n)
    out.write("\nverdict: %s\n\n" % verdict)
    if ev is None:
        out.write("events: the sequences are identical (%d event%s each)\n" % (
            len(pa.events), "" if len(pa.events) == 1 else "s"))
    else:
        out.write("events: %s\n" % ev["text"])
    if counts:
        out.write("call counts differ at %d culprit%s:\n" % (len(counts), "" if len(counts) == 1 else "s"))
        for k, a, b in counts[:10]:
            out.write("  %s %s %s: %d vs %d\n" % (k[0], k[1], k[2], a, b))
    out.write("\nresult: %s\n" % ("different" if different else "equal"))
    return 1 if different else 0


# Hash traces (DETSHIM_HASH=1) are JSON Lines too: sniffed first, by their header.
def _sniff_hash(head):
    from . import hashdiff
    return hashdiff.sniff(head)


def _compare_hash(path_a, path_b, args, out):
    from . import hashdiff
    return hashdiff.compare_traces(path_a, path_b, args, out)


TRACE_TYPES.append(TraceType("hash", "detshim hash trace (DETSHIM_HASH=1, docs/log-format.md)",
                             _sniff_hash, _compare_hash))
TRACE_TYPES.append(TraceType("log", "detshim JSONL log (docs/log-format.md)", _sniff_log, compare_logs))


def main(args):
    ta, tb = trace_type(args.a), trace_type(args.b)
    if ta is not tb:
        raise DetshimError("%s is a %s but %s is a %s: diff compares two files of one kind"
                           % (args.a, ta.description, args.b, tb.description))
    return ta.compare(args.a, args.b, args, sys.stdout)
