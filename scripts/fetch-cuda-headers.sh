#!/bin/sh
# fetch-cuda-headers.sh MAJOR DEST: the CUDA headers libdetshim builds against (cuda.h,
# cuda_runtime_api.h, cublas_api.h, cublasLt.h, cudnn.h and what they include), taken from
# NVIDIA's wheels on PyPI into DEST/include, for a machine with no CUDA toolkit (no GPU and
# no CUDA library is needed to build). MAJOR: 13 (the default build) or 12 (CUDA 12.4, the
# oldest supported: CI builds against it). Prints DEST/include.
#
# The wheels hold the whole libraries (cuBLAS and cuDNN: 400-700 MB each): only the include/
# members are read, with HTTP range requests on the wheel (its zip directory, then the span
# of the headers), a few MB in all. Needs python3 and network access to pypi.org.
# The index is PIP_INDEX_URL's (default https://pypi.org/simple), asked through its JSON
# simple API (PEP 691). Versions are pinned so every machine builds against the same headers.
set -eu
major=${1:?usage: fetch-cuda-headers.sh 12|13 DEST}
dest=${2:?usage: fetch-cuda-headers.sh 12|13 DEST}
case $major in
# name==version[:only] : "only" keeps the headers under that folder (cccl: just nv/, which
# cuda_fp16.h includes, of its thousands)
13) pkgs="nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85:nv/
          nvidia-cublas==13.1.0.3 nvidia-cudnn-cu13==9.19.0.56 nvidia-nccl-cu13==2.28.9" ;;
12) pkgs="nvidia-cuda-runtime-cu12==12.4.127 nvidia-cuda-nvcc-cu12==12.4.131
          nvidia-cuda-cccl-cu12==12.4.127.post1:nv/ nvidia-cublas-cu12==12.4.5.8
          nvidia-cudnn-cu12==9.1.0.70 nvidia-nccl-cu12==2.21.5" ;;
*) echo "fetch-cuda-headers.sh: MAJOR must be 12 or 13" >&2; exit 2 ;;
esac
mkdir -p "$dest/include"
exec python3 - "$dest/include" $pkgs <<'PY'
import io, json, os, sys, urllib.error, urllib.request, zipfile

dest, pkgs = sys.argv[1], sys.argv[2:]
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")

def get(url, rng=None, accept=None):
    h = {"Range": "bytes=%d-%d" % rng} if rng else {}
    if accept: h["Accept"] = accept
    req = urllib.request.Request(url, headers=h)
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read(), r.headers

class Remote(io.RawIOBase):
    """A wheel on the index, read by ranges, keeping what it fetched."""
    def __init__(self, url, size):
        self.url, self.size, self.pos, self.chunks = url, size, 0, []
        self.error = None  # the last failed request (zipfile reports it as "not a zip file")
    def fetch(self, a, b):
        try:
            data, _ = get(self.url, (a, b - 1))
        except OSError as e:
            self.error = e
            raise
        self.chunks.append((a, data))
    def readable(self): return True
    def seekable(self): return True
    def tell(self): return self.pos
    def seek(self, off, whence=0):
        self.pos = {0: off, 1: self.pos + off, 2: self.size + off}[whence]
        return self.pos
    def readinto(self, buf):
        a, b = self.pos, min(self.pos + len(buf), self.size)
        if a >= b: return 0
        for start, data in self.chunks:
            if start <= a and b <= start + len(data):
                break
        else:
            self.fetch(a, min(self.size, max(b, a + (1 << 16))))
            start, data = self.chunks[-1]
        buf[:b - a] = data[a - start:b - start]
        self.pos = b
        return b - a

def fetch_one(spec):
    spec, _, only = spec.partition(":")
    name, version = spec.split("==")
    meta = json.loads(get("%s/%s/" % (index, name), accept="application/vnd.pypi.simple.v1+json")[0])
    tag = "%s-%s-" % (name.replace("-", "_"), version)
    files = [u for u in meta["files"] if u["filename"].startswith(tag) and u["filename"].endswith(".whl")]
    wheels = [u for u in files if "linux" in u["filename"] and "x86_64" in u["filename"]] or \
             [u for u in files if "linux" in u["filename"]]
    if not wheels:
        raise LookupError("no Linux wheel of that version on the index")
    w = wheels[0]
    size = w.get("size") or int(get(w["url"], (0, 0))[1]["Content-Range"].rsplit("/", 1)[1])
    f = Remote(w["url"], size)
    try:
        z = zipfile.ZipFile(io.BufferedReader(f, 1 << 16))
    except zipfile.BadZipFile:
        if f.error:
            raise f.error from None
        raise
    def rel(i):  # the path under include/ (the toolkit's include/cccl/ is merged into it)
        r = i.filename.split("/include/", 1)[1]
        return r[len("cccl/"):] if r.startswith("cccl/") else r
    members = [i for i in z.infolist() if "/include/" in i.filename and not i.is_dir()
               and rel(i).startswith(only)]
    if members:  # the headers lie together in the wheel: one request for the span
        lo = min(i.header_offset for i in members)
        hi = max(i.header_offset + 30 + len(i.orig_filename.encode()) + len(i.extra) + i.compress_size
                 for i in members) + 1024
        f.fetch(lo, min(f.size, hi))
    n = 0
    for i in members:
        out = os.path.join(dest, rel(i))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as o:
            o.write(z.read(i))
        n += 1
    print("fetch-cuda-headers: %s: %d headers" % (spec, n), file=sys.stderr)

for spec in pkgs:
    try:
        fetch_one(spec)
    except (OSError, ValueError, LookupError, zipfile.BadZipFile) as e:  # URLError, HTTPError, JSON
        why = "HTTP %d %s (%s)" % (e.code, e.reason, e.url) if isinstance(e, urllib.error.HTTPError) else \
            "%s" % (e.reason if isinstance(e, urllib.error.URLError) else e)
        sys.exit("fetch-cuda-headers: cannot fetch %s from %s: %s" % (spec.split(":")[0], index, why))
print(dest)
PY
