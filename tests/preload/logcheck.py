#!/usr/bin/env python3
"""Validate detshim logs against docs/log-format.md (schema 1), strictly.

usage: logcheck.py LOG...      exit 0 when every file is valid, 1 otherwise
Every line must be a JSON object; the first a header; every record's fields must
have the documented types. Prints one line per problem.
"""
import json
import sys

STR, INT, BOOL, LIST, DICT, NULL = str, int, bool, list, dict, type(None)
HEX = "hex"

COMMON = {"type": STR, "seq": INT, "t": (int, float), "pid": INT, "tid": INT}
SCHEMA = {
    "header": {"type": STR, "schema": INT, "log": STR, "version": STR, "time": STR, "host": STR,
               "pid": INT, "ppid": INT, "rank": (INT, NULL), "exe": (STR, NULL), "cmdline": LIST,
               "cwd": (STR, NULL), "mode": STR, "disabled": LIST, "libraries": LIST,
               "env": DICT, "pins": LIST},
    "device": dict(COMMON, device=INT, name=(STR, NULL), sm_count=(INT, NULL),
                   compute_capability=(STR, NULL), driver_version=(INT, NULL),
                   runtime_version=(INT, NULL)),
    "event": dict(COMMON, layer=STR, symbol=STR, action=STR, mode=STR, detail=(STR, NULL),
                  site=HEX, count=INT, stack=LIST),
    "notice": dict(COMMON, layer=STR, message=STR),
    "summary": dict(COMMON, calls=DICT, sites=LIST, events=INT, overflow=INT),
}
OPTIONAL = {"event": {"pystack": LIST, "pystack_note": STR, "truncated": BOOL},
            "header": {"truncated": BOOL}, "summary": {"truncated": BOOL}}
FRAME = {"frame": INT, "module": STR, "offset": HEX}
LAYERS = {"kernels", "cublas", "cublaslt", "cudnn", "torch", "env", "core"}
MODES = {"off", "log", "enforce", "strict"}
ACTIONS = {"observed", "forced", "blocked"}


def is_hex(v):
    return isinstance(v, str) and v.startswith("0x") and all(c in "0123456789abcdef" for c in v[2:]) and len(v) > 2


def check_fields(rec, spec, where, problems, strict_extra=False):
    for k, t in spec.items():
        if k not in rec:
            problems.append(f"{where}: missing field '{k}'")
            continue
        v = rec[k]
        if t == HEX:
            if not is_hex(v):
                problems.append(f"{where}: field '{k}' is not a hex string: {v!r}")
        elif t is INT and isinstance(v, bool) or not isinstance(v, t if isinstance(t, tuple) else (t,)):
            problems.append(f"{where}: field '{k}' has type {type(v).__name__}")


def check_file(path):
    problems = []
    try:
        lines = open(path, "rb").read().split(b"\n")
    except OSError as e:
        return [f"{path}: {e.strerror}"]
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        problems.append(f"{path}: last line is not newline-terminated")
    if not lines:
        return [f"{path}: empty"]
    seqs = []
    for i, raw in enumerate(lines, 1):
        where = f"{path}:{i}"
        try:
            rec = json.loads(raw)
        except ValueError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{where}: not an object")
            continue
        typ = rec.get("type")
        if i == 1 and typ != "header":
            problems.append(f"{where}: first record is '{typ}', not 'header'")
        if i > 1 and typ == "header":
            problems.append(f"{where}: a second header")
        if typ not in SCHEMA:
            problems.append(f"{where}: unknown type {typ!r}")
            continue
        if rec.get("truncated") is True:
            continue
        check_fields(rec, SCHEMA[typ], where, problems)
        for k, t in OPTIONAL.get(typ, {}).items():
            if k in rec and not isinstance(rec[k], t):
                problems.append(f"{where}: optional field '{k}' has type {type(rec[k]).__name__}")
        if typ == "header":
            if rec.get("schema") != 1:
                problems.append(f"{where}: schema {rec.get('schema')!r}")
            if rec.get("mode") not in MODES:
                problems.append(f"{where}: mode {rec.get('mode')!r}")
            for lib in rec.get("libraries", []):
                check_fields(lib, {"name": STR, "path": STR, "realpath": STR, "version": (STR, NULL)},
                             where + " library", problems)
            for pin in rec.get("pins", []):
                check_fields(pin, {"var": STR, "value": STR, "layer": STR, "action": STR,
                                   "previous": (STR, NULL), "reason": STR}, where + " pin", problems)
        else:
            seqs.append(rec.get("seq"))
        if typ == "event":
            if rec.get("layer") not in LAYERS:
                problems.append(f"{where}: layer {rec.get('layer')!r}")
            if rec.get("action") not in ACTIONS:
                problems.append(f"{where}: action {rec.get('action')!r}")
            for fr in rec.get("stack", []):
                check_fields(fr, FRAME, where + " frame", problems)
            for fr in rec.get("pystack", []) or []:
                check_fields(fr, {"file": STR, "line": INT, "function": STR}, where + " pyframe", problems)
        if typ == "summary":
            for s in rec.get("sites", []):
                check_fields(s, {"site": HEX, "layer": STR, "symbol": STR, "action": STR, "count": INT},
                             where + " site", problems)
    if sorted(seqs) != list(range(1, len(seqs) + 1)):
        problems.append(f"{path}: seq numbers are not 1..{len(seqs)} (lost or duplicated records)")
    return problems


def main(argv):
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = 0
    for p in argv:
        for msg in check_file(p):
            print(msg)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
