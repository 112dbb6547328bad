"""Bitwise comparison of two output files, with the first difference in words.

Text files: the first differing line (its number and both lines).  Binary files: the
first differing byte offset.  Torch checkpoints (.pt, .pth) when `import torch` works in
this Python: tensor by tensor (the first differing tensor's name and how many differ);
without torch, bytes."""

import os

CHUNK = 1 << 20
TEXT_LIMIT = 64 << 20          # larger files are compared as bytes, streaming
TORCH_SUFFIXES = (".pt", ".pth")


class Outcome:
    def __init__(self, identical, where="", how="bytes"):
        self.identical = identical
        self.where = where         # first difference, or a note when identical
        self.how = how             # bytes | text | binary | torch


def same_bytes(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(CHUNK), fb.read(CHUNK)
            if ca != cb:
                return False
            if not ca:
                return True


def _is_text(path):
    if os.path.getsize(path) > TEXT_LIMIT:
        return None
    with open(path, "rb") as f:
        data = f.read()
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _show_line(s, width=60):
    body = s.rstrip("\r\n")
    if len(body) > width:
        body = body[: width - 3] + "..."
    return repr(body)


def compare_text(ta, tb, la="A", lb="B"):
    """First differing line of two texts, or None."""
    a, b = ta.splitlines(True), tb.splitlines(True)
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            if a[i].rstrip("\r\n") == b[i].rstrip("\r\n"):
                return "line %d: same text, different line ending (%s: %r, %s: %r)" % (
                    i + 1, la, a[i][len(a[i].rstrip("\r\n")):], lb, b[i][len(b[i].rstrip("\r\n")):])
            return "line %d: %s %s | %s %s" % (i + 1, la, _show_line(a[i]), lb, _show_line(b[i]))
    if len(a) != len(b):
        short, long_, sl, ll = (la, lb, a, b) if len(a) < len(b) else (lb, la, b, a)
        i = len(sl)
        return "line %d: %s ends after %d line%s, %s goes on with %s" % (
            i + 1, short, i, "" if i == 1 else "s", long_, _show_line(ll[i]))
    return None


def compare_binary(pa, pb, la="A", lb="B"):
    sa, sb = os.path.getsize(pa), os.path.getsize(pb)
    off = 0
    with open(pa, "rb") as fa, open(pb, "rb") as fb:
        while True:
            ca, cb = fa.read(CHUNK), fb.read(CHUNK)
            if ca != cb:
                n = min(len(ca), len(cb))
                for j in range(n):
                    if ca[j] != cb[j]:
                        o = off + j
                        return "byte %d (0x%x): %s 0x%02x | %s 0x%02x%s" % (
                            o, o, la, ca[j], lb, cb[j],
                            "; sizes %d and %d bytes" % (sa, sb) if sa != sb else "")
                break
            if not ca:
                return None
            off += len(ca)
    n = min(sa, sb)
    return "sizes differ: %s %d bytes, %s %d bytes; the first %d bytes are identical" % (la, sa, lb, sb, n)


# ---- torch checkpoints ---------------------------------------------------------------------
def _import_torch():
    try:
        import torch  # noqa: F401  (only when a checkpoint is compared)
        return torch
    except Exception:     # ImportError, or a torch whose own libraries fail to load
        return None


def _load(torch, path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:      # a torch older than 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


def flatten(obj, prefix="", depth=0, out=None):
    """name -> leaf of nested dicts / lists / tuples (a state_dict, an optimizer state)."""
    if out is None:
        out = {}
    if depth > 64:
        out[prefix or "<root>"] = obj
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, "%s.%s" % (prefix, k) if prefix else str(k), depth + 1, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, "%s.%d" % (prefix, i) if prefix else str(i), depth + 1, out)
    else:
        out[prefix or "<root>"] = obj
    return out


def _int_dtype(torch, t):
    return {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}.get(t.element_size())


def tensor_difference(torch, a, b):
    """None when bitwise equal, else a short reason."""
    if a.dtype != b.dtype:
        return "dtype %s vs %s" % (a.dtype, b.dtype)
    if tuple(a.shape) != tuple(b.shape):
        return "shape %s vs %s" % (tuple(a.shape), tuple(b.shape))
    try:
        ua = a.detach().cpu().contiguous().reshape(-1)
        ub = b.detach().cpu().contiguous().reshape(-1)
        it = _int_dtype(torch, ua)
        if it is not None:
            va, vb = ua.view(it), ub.view(it)
        else:               # complex128 and other wide types: compare their bytes
            va, vb = ua.view(torch.uint8), ub.view(torch.uint8)
        if torch.equal(va, vb):
            return None
        n = int((va != vb).sum().item())
        reason = "%d of %d element%s differ" % (n, va.numel(), "" if va.numel() == 1 else "s")
        try:
            if ua.is_floating_point():
                m = (ua.double() - ub.double()).abs().max().item()
                reason += ", max abs difference %.3g" % m
        except Exception:
            pass
        return reason
    except Exception:
        # sparse, quantized or otherwise unviewable tensors: value equality
        return None if torch.equal(a, b) else "values differ"


def compare_torch(torch, pa, pb, la="A", lb="B"):
    """An Outcome, or None when the files cannot be read as checkpoints."""
    try:
        oa, ob = _load(torch, pa), _load(torch, pb)
    except Exception:
        return None
    fa, fb = flatten(oa), flatten(ob)
    names = list(fa) + [k for k in fb if k not in fa]
    ntensors, differing, first = 0, 0, None
    for name in names:
        va, vb = fa.get(name, _MISSING), fb.get(name, _MISSING)
        is_t = isinstance(va, torch.Tensor) or isinstance(vb, torch.Tensor)
        ntensors += is_t
        if va is _MISSING or vb is _MISSING:
            why = "only in %s" % (la if vb is _MISSING else lb)
        elif is_t and isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor):
            why = tensor_difference(torch, va, vb)
        elif is_t:
            why = "a tensor in one, %s in the other" % type(va if not isinstance(va, torch.Tensor) else vb).__name__
        else:
            try:
                why = None if (va == vb) is True or va is vb else "value %r vs %r" % (va, vb)
            except Exception:
                why = None if repr(va) == repr(vb) else "value differs"
        if why is not None:
            differing += is_t
            if first is None:
                first = (name, why, is_t)
    if first is None:
        return Outcome(True, "all %d tensors identical (the file bytes differ: serialisation only)"
                       % ntensors, "torch")
    name, why, is_t = first
    return Outcome(False, "%s %r: %s (%d of %d tensors differ)"
                   % ("tensor" if is_t else "entry", name, why, differing, ntensors), "torch")


_MISSING = object()


def compare_files(pa, pb, la="A", lb="B"):
    """An Outcome for two existing files."""
    if same_bytes(pa, pb):
        return Outcome(True, "", "bytes")
    note = ""
    if pa.lower().endswith(TORCH_SUFFIXES):
        torch = _import_torch()
        if torch is not None:
            res = compare_torch(torch, pa, pb, la, lb)
            if res is not None:
                return res
            note = " (torch could not load them as checkpoints: compared bytes)"
        else:
            note = " (torch is not importable here: compared bytes)"
    ta = _is_text(pa)
    tb = _is_text(pb) if ta is not None else None
    if ta is not None and tb is not None:
        where = compare_text(ta, tb, la, lb) or compare_binary(pa, pb, la, lb)
        return Outcome(False, where + note, "text")
    return Outcome(False, compare_binary(pa, pb, la, lb) + note, "binary")
