"""`detshim diff TRACE_A TRACE_B` for hash traces (DETSHIM_HASH=1; docs/log-format.md,
"Hash traces"): which call was the first to write different bits, given the same inputs.

The two call sequences (same program, same inputs) are aligned in seq order, call by call,
on (symbol, kernel or kind of copy). The first aligned call whose input digest is equal in
both runs and whose output digest differs is the divergence; later calls whose inputs
already differed are reported as inherited from it. When the sequences themselves part
(another kernel order), the first point where they do is reported."""

import json

from .common import DetshimError, shorten
from .names import demangle, readable

SNIFF = b'"type":"trace_header"'
# The trace format this reads (shim/hash/hash.c writes it). Version 2: digests of device memory are
# digest.h's, taken on the device or the host; version 1 (host-side fold64) digests cannot be
# compared with them.
TRACE_VERSION = 2
INHERITED_SHOWN = 5


def sniff(head):
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and SNIFF in first


class Trace:
    def __init__(self, path, header, calls):
        self.path, self.header, self.calls = path, header, calls
        self.stacks, self.pystacks = {}, {}
        for c in calls:
            if c.get("stack") and c.get("site") not in self.stacks:
                self.stacks[c.get("site")] = c["stack"]
                if isinstance(c.get("pystack"), list):
                    self.pystacks[c.get("site")] = c["pystack"]


def read_trace(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DetshimError("%s: cannot read it: %s" % (path, e.strerror or e))
    lines = data.split(b"\n")
    truncated_last = lines and lines[-1] != b""
    if not truncated_last:
        lines = lines[:-1]
    header, calls, seqs = None, [], set()
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            what = ("truncated record (the process may have died while writing it)"
                    if truncated_last and i == len(lines) else "corrupt record")
            raise DetshimError("%s:%d: %s: %s" % (path, i, what, shorten(str(e), 80)))
        if truncated_last and i == len(lines):
            raise DetshimError("%s:%d: truncated record (no end of line: the process may have "
                               "died while writing it)" % (path, i))
        if not isinstance(rec, dict):
            raise DetshimError("%s:%d: corrupt record: not a JSON object" % (path, i))
        t = rec.get("type")
        if t == "trace_header":
            if header is not None:
                raise DetshimError("%s:%d: a second trace header: this file holds more than one "
                                   "process's trace (give DETSHIM_LOG a %%p)" % (path, i))
            if rec.get("format") == "detshim-hash-trace" and rec.get("version") == 1:
                raise DetshimError("%s:%d: a version 1 trace (an older detshim, another digest): "
                                   "this detshim reads detshim-hash-trace version %d only; record "
                                   "both runs again with this detshim" % (path, i, TRACE_VERSION))
            if rec.get("format") != "detshim-hash-trace" or rec.get("version") != TRACE_VERSION:
                raise DetshimError("%s:%d: unsupported trace format %r version %r (this detshim "
                                   "reads detshim-hash-trace version %d)"
                                   % (path, i, rec.get("format"), rec.get("version"), TRACE_VERSION))
            header = rec
        elif t == "call":
            if header is None:
                raise DetshimError("%s:%d: a call record before the trace header" % (path, i))
            seq = rec.get("seq")
            if not isinstance(seq, int) or not isinstance(rec.get("call"), str):
                raise DetshimError("%s:%d: corrupt record: a call without seq or call" % (path, i))
            if seq in seqs:
                raise DetshimError("%s:%d: corrupt trace: seq %d appears twice" % (path, i, seq))
            seqs.add(seq)
            rec["_line"] = i
            calls.append(rec)
        else:
            raise DetshimError("%s:%d: corrupt record: unknown type %r" % (path, i, t))
    if header is None:
        raise DetshimError("%s: no trace header: not a complete detshim hash trace" % path)
    calls.sort(key=lambda c: c["seq"])
    return Trace(path, header, calls)


def key(c):
    return (c.get("call"), c.get("kernel_mangled") or c.get("what"))


def _nth(n):
    n += 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return "%d%s" % (n, suffix)


class Namer:
    """Kernel names for people: the trace's demangled name, else c++filt's."""

    def __init__(self, traces):
        todo = set()
        for t in traces:
            for c in t.calls:
                m = c.get("kernel_mangled")
                if m and c.get("kernel") in (None, m) and m.startswith("_Z"):
                    todo.add(m)
        self.names = {}
        if todo:
            try:
                self.names = demangle(sorted(todo))
            except Exception:  # demangling is a nicety
                self.names = {}

    def kernel(self, c):
        m = c.get("kernel_mangled")
        if not m:
            return None
        d = c.get("kernel")
        if d in (None, m):
            d = self.names.get(m, m)
        return d


def what(c, namer):
    k = namer.kernel(c)
    if k is not None:
        return "%s of kernel %s" % (c["call"], shorten(k, 100))
    return "%s (%s, %s bytes)" % (c["call"], c.get("what", "?"), c.get("bytes", "?"))


def caller(trace, c):
    """(function, 'module+offset', [callers]) of the call's site."""
    st = trace.stacks.get(c.get("site")) or []
    if not st:
        return None
    f0 = st[0]
    mod = str(f0.get("module", "?")).rsplit("/", 1)[-1]
    up = [readable(f.get("function") or f.get("mangled")) for f in st[1:3]
          if f.get("function") or f.get("mangled")]
    return (readable(f0.get("function") or f0.get("mangled")) or "?",
            "%s+%s" % (mod, f0.get("offset", "?")), up)


def python_frames(trace, c, n=3):
    """The innermost Python frames of the call's site as 'file:line in function', when the
    trace has them (the caller held the GIL)."""
    out = []
    for f in (trace.pystacks.get(c.get("site")) or [])[:n]:
        if isinstance(f, dict):
            out.append("%s:%s in %s" % (str(f.get("file", "?")).rsplit("/", 1)[-1], f.get("line", "?"),
                                        f.get("function", "?")))
    return out


NATIVE = False  # --native: the native caller too where the Python line is known


def caller_text(trace, c):
    """The Python line first (with its callers) when the trace has it; the native caller
    (demangled) where it has none, or with --native."""
    cl = caller(trace, c)
    py = python_frames(trace, c)
    native = None if cl is None else "%s (%s)%s" % (cl[0], cl[1], "".join(" <- %s" % u for u in cl[2]))
    if py:
        return " <- ".join(py) + ("; native: %s" % native if NATIVE and native else "")
    if native is None:
        return "an unknown call site (%s)" % c.get("site")
    return native


def caller_short(trace, c):
    py = python_frames(trace, c, 1)
    if py:
        return py[0]
    cl = caller(trace, c)
    return cl[0] if cl else c.get("site")


def digests(c):
    """(in, out) or None when the call was not digested."""
    if c.get("skipped") or c.get("out") is None or c.get("in") is None:
        return None
    return c.get("in"), c.get("out")


def compare(ta, tb):
    ca, cb = ta.calls, tb.calls
    part = None
    for i in range(min(len(ca), len(cb))):
        if key(ca[i]) != key(cb[i]):
            part = i
            break
    if part is None and len(ca) != len(cb):
        part = min(len(ca), len(cb))
    upto = part if part is not None else len(ca)
    root, external, inherited, other_roots, unknown = None, None, [], [], 0
    for i in range(upto):
        da, db = digests(ca[i]), digests(cb[i])
        if da is None or db is None:
            unknown += 1
            continue
        if da == db:
            continue
        if da[0] == db[0]:
            if root is None and external is None:
                root = i
            else:
                other_roots.append(i)
        else:
            if root is None and external is None:
                external = i
            else:
                inherited.append(i)
    return {"part": part, "root": root, "external": external, "inherited": inherited,
            "other_roots": other_roots, "unknown": unknown, "compared": upto}


def _ranges_text(a, b):
    ra = {r.get("arg"): r for r in a.get("ranges") or []}
    rb = {r.get("arg"): r for r in b.get("ranges") or []}
    out = []
    for arg in sorted(set(ra) & set(rb), key=lambda x: (x is None, x)):
        if ra[arg].get("out") != rb[arg].get("out"):
            out.append("parameter %s (%s bytes): %s vs %s" % (arg, ra[arg].get("bytes"),
                                                              ra[arg].get("out"), rb[arg].get("out")))
    return out


def _call_doc(ta, tb, i, namer):
    a, b = ta.calls[i], tb.calls[i] if i < len(tb.calls) else None
    cl = caller(ta, a)
    doc = {"index": i + 1, "seq_a": a.get("seq"), "seq_b": b.get("seq") if b else None,
           "call": a.get("call"), "kernel": namer.kernel(a), "kernel_mangled": a.get("kernel_mangled"),
           "what": a.get("what"), "count_before": a.get("count"), "site": a.get("site"),
           "caller": None if cl is None else {"function": cl[0], "where": cl[1], "callers": cl[2],
                                              "python": ta.pystacks.get(a.get("site"))},
           "in": [a.get("in"), b.get("in") if b else None],
           "out": [a.get("out"), b.get("out") if b else None]}
    if b is not None and a.get("ranges"):
        doc["ranges_differing"] = _ranges_text(a, b)
    return doc


def _side(c, namer):
    if c is None:
        return "(nothing: the trace ends)"
    return "seq %s: %s, its %s" % (c.get("seq"), what(c, namer), _nth(c.get("count", 0)))


def compare_traces(path_a, path_b, args, out):
    global NATIVE
    NATIVE = bool(getattr(args, "native", False))
    ta, tb = read_trace(path_a), read_trace(path_b)
    namer = Namer((ta, tb))
    r = compare(ta, tb)
    diverged = r["root"] is not None or r["external"] is not None
    different = diverged or r["part"] is not None

    if getattr(args, "json", False):
        doc = {"a": path_a, "b": path_b, "trace_type": "hash", "calls": [len(ta.calls), len(tb.calls)],
               "compared": r["compared"], "not_digested": r["unknown"], "equal": not different,
               "divergence": None if r["root"] is None else _call_doc(ta, tb, r["root"], namer),
               "diverged_with_different_inputs_first": None if r["external"] is None
               else _call_doc(ta, tb, r["external"], namer),
               "inherited": [_call_doc(ta, tb, i, namer) for i in r["inherited"][:INHERITED_SHOWN]],
               "inherited_total": len(r["inherited"]),
               "other_divergences": [_call_doc(ta, tb, i, namer) for i in r["other_roots"][:INHERITED_SHOWN]],
               "sequences_part": None}
        if r["part"] is not None:
            p = r["part"]
            doc["sequences_part"] = {
                "index": p + 1,
                "a": None if p >= len(ta.calls) else {"seq": ta.calls[p].get("seq"), "call": ta.calls[p].get("call"),
                                                      "kernel": namer.kernel(ta.calls[p]), "what": ta.calls[p].get("what")},
                "b": None if p >= len(tb.calls) else {"seq": tb.calls[p].get("seq"), "call": tb.calls[p].get("call"),
                                                      "kernel": namer.kernel(tb.calls[p]), "what": tb.calls[p].get("what")}}
        json.dump(doc, out, indent=2)
        out.write("\n")
        return 1 if different else 0

    def proc(t):
        h = t.header
        return "%s (pid %s on %s, %d calls)" % (t.path, h.get("pid"), h.get("host"), len(t.calls))

    out.write("A: %s\nB: %s\n\n" % (proc(ta), proc(tb)))

    def show_call(label, i, detail=True):
        a, b = ta.calls[i], tb.calls[i]
        out.write("%s: call %d of %d (seq %s), %s, its %s (%d of this kind before it)\n"
                  % (label, i + 1, len(ta.calls), a.get("seq"), what(a, namer), _nth(a.get("count", 0)),
                     a.get("count", 0)))
        out.write("  called from %s\n" % caller_text(ta, a))
        if detail:
            if a.get("in") == b.get("in"):
                out.write("  inputs:  equal in both runs (%s)\n" % a.get("in"))
            else:
                out.write("  inputs:  differ (%s vs %s)\n" % (a.get("in"), b.get("in")))
            out.write("  outputs: differ (%s vs %s)\n" % (a.get("out"), b.get("out")))
            for line in _ranges_text(a, b):
                out.write("    %s\n" % line)

    if r["root"] is not None:
        show_call("divergence", r["root"])
        out.write("  this call read the same bits in both runs and wrote different ones: it is where the "
                  "runs part\n")
    elif r["external"] is not None:
        show_call("first difference", r["external"])
        out.write("  its inputs already differed: the difference entered from outside the traced calls "
                  "(host data, an untraced library call, a call hash mode could not digest)\n")
    if r["inherited"]:
        n = len(r["inherited"])
        out.write("\ninherited (inputs already differed), %s:\n"
                  % ("all %d" % n if n <= INHERITED_SHOWN else "the first %d of %d" % (INHERITED_SHOWN, n)))
        for i in r["inherited"][:INHERITED_SHOWN]:
            c = ta.calls[i]
            out.write("  seq %s: %s, its %s, from %s\n"
                      % (c.get("seq"), what(c, namer), _nth(c.get("count", 0)), caller_short(ta, c)))
    if r["other_roots"]:
        out.write("\nalso diverged with equal inputs (independent sources), %d:\n" % len(r["other_roots"]))
        for i in r["other_roots"][:INHERITED_SHOWN]:
            c = ta.calls[i]
            out.write("  seq %s: %s, from %s\n" % (c.get("seq"), what(c, namer), caller_text(ta, c)))
    if r["part"] is not None:
        p = r["part"]
        a = ta.calls[p] if p < len(ta.calls) else None
        b = tb.calls[p] if p < len(tb.calls) else None
        out.write("\n" if diverged or r["inherited"] else "")
        out.write("sequences: the call sequences part at call %d (the first %d agree):\n" % (p + 1, p))
        out.write("  A: %s%s\n" % (_side(a, namer), "" if a is None else ", from " + caller_text(ta, a)))
        out.write("  B: %s%s\n" % (_side(b, namer), "" if b is None else ", from " + caller_text(tb, b)))
        out.write("  (the runs did not launch the same calls in the same order: calls after this point are "
                  "not compared)\n")
    if not different:
        out.write("no divergence: all %d calls wrote the same bits in both runs\n" % len(ta.calls))
    if r["unknown"]:
        out.write("note: %d call%s had no digest in one run or both (see 'skipped') and %s not compared\n"
                  % (r["unknown"], "" if r["unknown"] == 1 else "s", "was" if r["unknown"] == 1 else "were"))
    if different:
        bits = []
        if r["root"] is not None:
            bits.append("divergence at seq %s (%s)" % (ta.calls[r["root"]].get("seq"),
                                                       namer.kernel(ta.calls[r["root"]]) or ta.calls[r["root"]].get("call")))
        elif r["external"] is not None:
            bits.append("first difference at seq %s, with inputs that already differed"
                        % ta.calls[r["external"]].get("seq"))
        if r["part"] is not None:
            bits.append("sequences part at call %d" % (r["part"] + 1))
        out.write("\nresult: %s\n" % "; ".join(bits))
    else:
        out.write("\nresult: equal\n")
    return 1 if different else 0
