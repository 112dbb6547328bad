#!/usr/bin/env python3
"""Mutation fuzzing of the log and trace readers of the detshim command (report, diff),
in-process, bounded and deterministic (fixed seed).

usage: fuzz_readers.py SCRIPTS_DIR SEED_FILE... [--iterations N]

Every mutated input must give exit status 0, 1 or 2, never an internal error (70) or a
traceback, and a rejection (2) must be one line naming the command. Prints
"N passed, M failed" last.
"""
import io
import os
import random
import sys
import tempfile
import contextlib


def mutate(rng, data):
    lines = data.split(b"\n")
    kind = rng.randrange(10)
    if kind == 0 and data:                       # truncate anywhere
        return data[:rng.randrange(len(data))]
    if kind == 1 and data:                       # flip some bytes
        b = bytearray(data)
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == 2 and len(lines) > 1:             # drop a line
        del lines[rng.randrange(len(lines))]
    elif kind == 3 and lines:                    # duplicate a line
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif kind == 4 and len(lines) > 2:           # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 5 and lines:                    # a value of another type
        i = rng.randrange(len(lines))
        for a, b in ((b'":"', b'":{"x":'), (b'":1', b'":"1'), (b'":[', b'":'), (b'":"', b'":null,"z":"'),
                     (b'":0x', b'":-'), (b'true', b'"true"'), (b'null', b'[]')):
            if a in lines[i] and rng.random() < 0.5:
                lines[i] = lines[i].replace(a, b, 1)
    elif kind == 6:                              # garbage line
        lines.insert(rng.randrange(len(lines) + 1), bytes(rng.randrange(256) for _ in range(rng.randrange(40))))
    elif kind == 7 and lines:                    # huge numbers and deep nesting
        i = rng.randrange(len(lines))
        lines[i] = lines[i].replace(b':1', b':1' + b'9' * 400, 1).replace(b'[', b'[' * 200, 1)
    elif kind == 8 and lines:                    # delete a field
        i = rng.randrange(len(lines))
        parts = lines[i].split(b',')
        if len(parts) > 2:
            del parts[rng.randrange(1, len(parts))]
            lines[i] = b','.join(parts)
    else:                                        # non-UTF-8 and NUL bytes
        return data.replace(b"a", b"\xff\x00", rng.randrange(1, 4))
    return b"\n".join(lines)


def main(argv):
    iters = 400
    if "--iterations" in argv:
        i = argv.index("--iterations")
        iters = int(argv[i + 1])
        del argv[i:i + 2]
    scripts, seeds = argv[0], argv[1:]
    sys.path.insert(0, scripts)
    from detshimtool import cli
    rng = random.Random(1234)
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="detshim-fuzz-")
    for seed in seeds:
        data = open(seed, "rb").read()
        for n in range(iters):
            bad = os.path.join(tmp, "m%d.jsonl" % n if not seed.endswith(".trace.jsonl") else "m%d.trace.jsonl" % n)
            with open(bad, "wb") as f:
                f.write(mutate(rng, data))
            for argv2 in (["report", bad], ["diff", seed, bad], ["diff", bad, seed]):
                out, err = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    try:
                        rc = cli.main(list(argv2))
                    except SystemExit as e:
                        rc = e.code if isinstance(e.code, int) else 2
                    except Exception as e:  # the command must never let one out
                        rc = "exception %s: %s" % (type(e).__name__, e)
                e = err.getvalue()
                ok = rc in (0, 1, 2) and "Traceback" not in e and "internal error" not in e
                if rc == 2:
                    ok = ok and e.count("\n") == 1 and e.startswith("detshim ")
                if ok:
                    passed += 1
                else:
                    failed += 1
                    if failed <= 5:
                        keep = os.path.join(tmp, "FAIL-%d" % failed)
                        os.rename(bad, keep)
                        print("FAIL %s -> rc %r: %s (input kept: %s)" % (" ".join(argv2[:1]), rc, e.strip()[:300], keep))
                        break
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
