"""A PyPI simple index on 127.0.0.1 for scripts/fetch-cuda-headers.sh, offline: PEP 691 JSON
pages for the packages the script pins, and wheels (built here) that answer HTTP range
requests. Each wheel holds headers under include/ and a large (1 MiB) library member that must
never be downloaded. Prints the port, then serves until killed; every byte sent is appended to
the file named by argv[2] (one line per response: path, status, bytes)."""
import http.server, io, json, os, random, re, sys, zipfile

SCRIPT = sys.argv[1]          # scripts/fetch-cuda-headers.sh: the pins are read from it
SENT = sys.argv[2]
MISSING = set(os.environ.get("FAKE_INDEX_MISSING", "").split())   # packages answered 404
FAIL = set(os.environ.get("FAKE_INDEX_FAIL", "").split())         # wheels answered 500

text = open(SCRIPT).read()
pins = re.findall(r"(nvidia-[a-z0-9-]+)==([0-9.a-z]+)", text)
rng = random.Random(7)
# FAKE_INDEX_HEADERS="DIR FILE...": the runtime wheel also carries these real headers
# (relative to DIR), so that a build can configure against what was fetched
real = os.environ.get("FAKE_INDEX_HEADERS", "").split()
wheels, pages = {}, {}
for name, version in pins:
    mod = name.replace("-", "_")
    fn = "%s-%s-py3-none-manylinux_2_27_x86_64.whl" % (mod, version)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        base = "nvidia/%s/" % mod
        z.writestr(base + "__init__.py", "")
        # the headers lie together in a real wheel, after the metadata and before the library
        z.writestr(base + "include/%s.h" % mod, "/* %s %s */\n#define %s_FAKE 1\n" % (name, version, mod.upper()))
        z.writestr(base + "include/sub/%s_more.h" % mod, "/* more */\n")
        if real and name.startswith("nvidia-cuda-runtime"):
            for r in real[1:]:
                z.write(os.path.join(real[0], r), base + "include/" + r)
        if "cccl" in name:  # cccl: only nv/ is kept, and its cccl/ prefix goes
            z.writestr(base + "include/cccl/nv/target", "/* nv/target */\n")
            z.writestr(base + "include/cccl/cuda/std/tuple", "/* not wanted */\n")
        z.writestr(zipfile.ZipInfo(base + "lib/lib%s.so" % mod), rng.randbytes(1 << 20),
                   compress_type=zipfile.ZIP_STORED)
    wheels["/files/" + fn] = b.getvalue()
    pages["/simple/%s/" % name] = {"meta": {"api-version": "1.0"}, "name": name, "files": [
        {"filename": fn, "url": "http://127.0.0.1:%%d/files/%s" % fn, "hashes": {}, "size": len(b.getvalue())},
        {"filename": fn.replace("x86_64", "aarch64"), "url": "http://127.0.0.1:%%d/nowhere", "hashes": {}}]}

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(SENT, "a") as f: f.write("%s %d %d\n" % (self.path, status, len(body)))
    def do_GET(self):
        if self.path in pages:
            name = self.path.split("/")[2]
            if name in MISSING: return self.send(404, b"not found")
            if "application/vnd.pypi.simple.v1+json" not in self.headers.get("Accept", ""):
                return self.send(406, b"json only")
            port = self.server.server_address[1]
            page = json.loads(json.dumps(pages[self.path]).replace("%d", str(port)))
            return self.send(200, json.dumps(page).encode(), [("Content-Type", "application/vnd.pypi.simple.v1+json")])
        if self.path in wheels:
            if any(self.path.startswith("/files/" + p.replace("-", "_") + "-") for p in FAIL):
                return self.send(500, b"server error")
            data = wheels[self.path]
            m = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if not m: return self.send(200, data)
            a, b = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
            return self.send(206, data[a:b + 1], [("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))])
        self.send(404, b"not found")

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
