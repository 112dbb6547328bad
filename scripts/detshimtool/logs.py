"""Reading detshim logs (docs/log-format.md, schema 1), strictly.

A log is JSON Lines: a header first, then device / event / notice / summary records.
Anything else (an empty file, binary data, a line that is not JSON or not an object,
a record without a type, a missing header, another schema, a truncated last line) is
a LogError that names the file and the line.  Several processes may share one file
(a template without %p): every header starts a process and records go to the process
whose header has their pid."""

import glob
import json
import os

from .common import DetshimError, cuda_version

SCHEMA = 1

# Required fields per record type: name -> accepted Python types.
_STR = (str,)
_INT = (int,)
_REQUIRED = {
    "event": {"layer": _STR, "symbol": _STR, "action": _STR},
    "notice": {"message": _STR},
    "summary": {},
    "device": {},
}
_OPTIONAL = {
    "event": {"detail": _STR + (type(None),), "site": _STR, "count": _INT, "stack": (list,),
              "pystack": (list,), "mode": _STR, "kernel": _STR + (type(None),)},
    "notice": {"layer": _STR + (type(None),)},
    "summary": {"calls": (dict,), "sites": (list,), "events": _INT, "overflow": _INT},
    "device": {"name": _STR + (type(None),), "sm_count": _INT + (type(None),),
               "compute_capability": _STR + (type(None),),
               "driver_version": _INT + (type(None),), "runtime_version": _INT + (type(None),)},
    "header": {"host": _STR + (type(None),), "pid": _INT, "rank": _INT + (type(None),),
               "mode": _STR, "libraries": (list,), "env": (dict,), "pins": (list,),
               "disabled": (list,), "cmdline": (list,), "version": _STR},
}
_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               float: "a number", bool: "true/false", type(None): "null"}


class LogError(DetshimError):
    pass


def _kind(v):
    return _TYPE_NAMES.get(type(v), type(v).__name__)


class Process:
    """One process's records from one log file."""

    def __init__(self, path, header, lineno):
        self.path = path
        self.header = header
        self.header_line = lineno
        self.device = None
        self.events = []
        self.notices = []
        self.summary = None
        self.label = os.path.basename(path)

    # -- who it is -----------------------------------------------------------------
    @property
    def pid(self):
        return self.header.get("pid")

    @property
    def host(self):
        return self.header.get("host")

    @property
    def rank(self):
        return self.header.get("rank")

    @property
    def mode(self):
        return self.header.get("mode")

    def gpu_text(self):
        d = self.device
        if not d:
            return "no device record"
        parts = []
        if d.get("sm_count") is not None:
            parts.append("%s SMs" % d["sm_count"])
        if d.get("compute_capability"):
            parts.append("cc %s" % d["compute_capability"])
        if d.get("driver_version") is not None:
            parts.append("driver %s" % cuda_version(d["driver_version"]))
        if d.get("runtime_version") is not None:
            parts.append("runtime %s" % cuda_version(d["runtime_version"]))
        name = d.get("name") or "unknown GPU"
        return name + (" (%s)" % ", ".join(parts) if parts else "")

    def site_counts(self):
        """site id -> (count, summary site record or None): the summary's totals when
        this process has one, else the count of its event records."""
        counts = {}
        if self.summary is not None and isinstance(self.summary.get("sites"), list):
            for s in self.summary["sites"]:
                counts[s.get("site")] = (s.get("count", 0), s)
            for e in self.events:             # an event whose site the summary misses
                counts.setdefault(e.get("site"), (e.get("count", 1) or 1, None))
            return counts
        for e in self.events:
            sid = e.get("site") or ("seq%s" % e.get("seq"))
            c, _ = counts.get(sid, (0, None))
            counts[sid] = (c + 1, None)
        return counts


def _check_fields(rec, rtype, where):
    for key, types in _REQUIRED.get(rtype, {}).items():
        if key not in rec:
            raise LogError("%s: %s record without %r" % (where, rtype, key))
        v = rec[key]
        if not isinstance(v, types) or isinstance(v, bool):
            raise LogError("%s: %s record: %r is %s, not %s"
                           % (where, rtype, key, _kind(v), _TYPE_NAMES.get(types[0])))
    for key, types in _OPTIONAL.get(rtype, {}).items():
        if key in rec:
            v = rec[key]
            if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
                raise LogError("%s: %s record: %r is %s, not %s"
                               % (where, rtype, key, _kind(v), _TYPE_NAMES.get(types[0])))
    if rtype != "header" and "seq" in rec and (not isinstance(rec["seq"], int)
                                                or isinstance(rec["seq"], bool)):
        raise LogError("%s: %s record: 'seq' is %s, not an integer" % (where, rtype, _kind(rec["seq"])))
    if rtype == "summary" and isinstance(rec.get("sites"), list):
        for i, s in enumerate(rec["sites"]):
            if not isinstance(s, dict):
                raise LogError("%s: summary record: sites[%d] is %s, not an object" % (where, i, _kind(s)))
            c = s.get("count", 0)
            if not isinstance(c, int) or isinstance(c, bool):
                raise LogError("%s: summary record: sites[%d].count is %s, not an integer"
                               % (where, i, _kind(c)))


def _parse_line(raw, path, lineno, last):
    where = "%s:%d" % (path, lineno)
    if b"\x00" in raw:
        raise LogError("%s: binary data (NUL bytes), not a detshim log" % where)
    text = raw.decode("utf-8", errors="replace")
    bad_utf8 = "\ufffd" in text and b"\xef\xbf\xbd" not in raw
    try:
        rec = json.loads(text)
    except ValueError as e:
        if last and not raw.endswith(b"\n"):
            raise LogError("%s: truncated line: the file ends inside a record "
                           "(was the process killed while writing, or the copy cut short?)" % where)
        if bad_utf8:
            raise LogError("%s: binary data (not UTF-8 text), not a detshim log" % where)
        msg = getattr(e, "msg", str(e))
        col = getattr(e, "colno", None)
        raise LogError("%s: not valid JSON: %s%s" % (where, msg, " (column %d)" % col if col else ""))
    if not isinstance(rec, dict):
        raise LogError("%s: %s, not a JSON object: not a detshim record" % (where, _kind(rec)))
    rtype = rec.get("type")
    if not isinstance(rtype, str) or not rtype:
        raise LogError("%s: record without a 'type'" % where)
    return rec, rtype, where


def read_log(path):
    """The processes in one log file, in header order."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise LogError("%s: no such file" % path)
    except IsADirectoryError:
        raise LogError("%s: is a directory" % path)
    except PermissionError:
        raise LogError("%s: cannot read it: permission denied" % path)
    except OSError as e:
        raise LogError("%s: cannot read it: %s" % (path, e.strerror or e))
    processes = []
    by_pid = {}
    with f:
        try:
            lines = f.readlines()
        except OSError as e:
            raise LogError("%s: cannot read it: %s" % (path, e.strerror or e))
    if not lines or all(not l.strip() for l in lines):
        raise LogError("%s: empty file, not a detshim log (it needs at least the header line)" % path)
    n = len(lines)
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        rec, rtype, where = _parse_line(raw, path, lineno, lineno == n)
        if rtype == "header":
            schema = rec.get("schema")
            if schema is None:
                raise LogError("%s: header without 'schema'" % where)
            if schema != SCHEMA:
                raise LogError("%s: log schema %r is not supported (this detshim reads schema %d)"
                               % (where, schema, SCHEMA))
            _check_fields(rec, "header", where)
            proc = Process(path, rec, lineno)
            processes.append(proc)
            if rec.get("pid") is not None:
                by_pid[rec["pid"]] = proc
            continue
        if not processes:
            raise LogError("%s: the first record is %r, not the header: not a detshim log, "
                           "or its beginning is missing" % (where, rtype))
        _check_fields(rec, rtype, where)
        proc = by_pid.get(rec.get("pid"), processes[-1])
        rec["_line"] = lineno
        if rtype == "event":
            proc.events.append(rec)
        elif rtype == "device":
            if proc.device is None:
                proc.device = rec
        elif rtype == "notice":
            proc.notices.append(rec)
        elif rtype == "summary":
            proc.summary = rec
        # other record types: newer layers may add some; they are skipped
    if len(processes) > 1:
        for p in processes:
            p.label = "%s#%s" % (os.path.basename(path), p.pid)
    for p in processes:
        p.events.sort(key=lambda e: (e.get("seq") is None, e.get("seq") or 0, e["_line"]))
    return processes


def expand_paths(paths):
    """Files as given; a directory stands for the *.jsonl files in it.  Each file once."""
    out, seen = [], set()
    for p in paths:
        if os.path.isdir(p):
            found = sorted(glob.glob(os.path.join(p, "*.jsonl")))
            if not found:
                raise LogError("%s: a directory with no *.jsonl log in it" % p)
        else:
            found = [p]
        for f in found:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def read_logs(paths):
    procs = []
    for f in expand_paths(paths):
        procs.extend(read_log(f))
    return procs
