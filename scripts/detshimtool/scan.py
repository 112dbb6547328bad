"""`detshim scan`: find CUDA kernels that accumulate floating-point values with atomics.

    detshim scan [-o DB] [--cuobjdump PATH] FILE...

Each FILE (a shared library, executable, object, static archive, cubin or fatbin) is
disassembled with `cuobjdump -sass`; every kernel whose machine code (SASS) contains a
floating-point atomic reduction is reported once, with the instruction that triggered it and
the architectures it was seen in. With -o the kernels are written as a detshim kernel
database (the shim/layers/kernels/kernels.db format), ready for DETSHIM_KERNELS.

Entry point: main(argv) -> exit code, where argv are the arguments after `scan`.
Standard library only (Python 3.8+). Exit codes: 0 done (whatever was found), 2 bad input,
no cuobjdump, or cuobjdump failed.

What counts as a floating-point atomic reduction (seen in `cuobjdump -sass` of kernels built
by nvcc 13.0 for sm_75, sm_80, sm_90, sm_100 and sm_120; see tests/scan/kernels.cu):

  * a native atomic or reduction with an ADD and a float type:
      float  atomicAdd, result unused   RED.E.ADD.F32.FTZ.RN.STRONG.GPU      (sm_75, sm_80)
                                        REDG.E.ADD.F32.FTZ.RN.STRONG.GPU     (sm_90 and later)
      float  atomicAdd, result used     ATOMG.E.ADD.F32.FTZ.RN.STRONG.GPU    (all)
      double atomicAdd                  RED.E.ADD.F64.RN.STRONG.GPU / REDG.E.ADD.F64.RN...
      half2  atomicAdd                  ATOM.E.ADD.F16x2.RN.STRONG.GPU       (all)
      bf16x2 atomicAdd                  ATOM.E.ADD.BF16x2.RN.STRONG.GPU      (sm_90 and later)
      float4 atomicAdd (sm_90+)         REDG.E.ADD.F32x4.FTZ.RN.STRONG.GPU
      atomicAdd_block / _system         ...STRONG.SM / ...STRONG.SYS
      cp.reduce.async.bulk .add.f32     UBLKRED.G.S.ADD.F32.RN               (sm_90 and later)
    i.e. an opcode of the RED / ATOM family (RED, REDG, ATOM, ATOMG, ATOMS, UBLKRED, ...,
    but not the warp-level REDUX/CREDUX) with an ADD modifier and a float type modifier
    (F16, F16x2, BF16, BF16x2, F32, F32x2, F32x4, F64, ...). MIN/MAX on floats are
    order-independent and not flagged.

  * a compare-and-swap loop around float arithmetic. nvcc has no native shared-memory float
    add on any of these architectures: atomicAdd(float*/double*) on __shared__ memory
    compiles to a load, FADD/DADD and `ATOMS.CAST.SPIN` (`ATOMS.CAST.SPIN.64` for double)
    followed by a backward branch that retries until the store-conditional succeeds. The
    same loop (ATOM.E.CAS / ATOMG.E.CAS / ATOM.E.CAST.SPIN with HADD2, HFMA2.BF16_V2, ...)
    implements scalar __half atomicAdd (all archs), bf16x2 atomicAdd on sm_80, the
    shared-memory branch of a generic-pointer atomicAdd, and hand-written atomicAdd(double)
    or atomicMul emulations. Such a loop is flagged when a CAS-type atomic (…CAS…, …CAST…)
    lies inside a backward branch whose body contains float arithmetic (FADD, FFMA, FMUL,
    DADD, DFMA, DMUL, HADD2, HFMA2, HMUL2; the `HFMA2.MMA Rd, -RZ, RZ, …` constant-load
    idiom excepted). A lone CAS (atomicCAS) and CAS loops over integer or min/max
    arithmetic are not flagged.

  Integer atomics are exact and never flagged: RED.E.ADD.STRONG.GPU (s32/u32, no type
  modifier), RED.E.ADD.64, ATOMG.E.ADD.STRONG.GPU, ATOMG.E.EXCH (also atomicExch on a float:
  a move, not a sum), ATOMG.E.CAS, RED.E.MAX.S32, ATOMS.ADD and ATOMS.POPC.INC.32 (integer
  shared-memory atomicAdd).

  Exact forms per architecture (nvcc 13.0, tests/scan/kernels.cu):
      float atomicAdd on __shared__ memory:
          sm_75..sm_90   LDS R4,[R0]; FADD R5,R3,R4; ATOMS.CAST.SPIN R5,[R0],R4,R5; ISETP; @!P1 BRA back
          sm_100, sm_120 the same with the predicate form  ATOMS.CAST.SPIN P1,[R0],R4,R5
          (double: DADD + ATOMS.CAST.SPIN.64). No ATOMS.ADD.F32 is emitted on any of them.
      __half atomicAdd:       HADD2 + ATOM.E.CAS.STRONG.GPU loop (all archs)
      __nv_bfloat162 atomicAdd: ATOMG.E.CAS loop over HFMA2.BF16_V2 (sm_80; FFMA on sm_75),
                              ATOM.E.ADD.BF16x2.RN.STRONG.GPU (sm_90, sm_100, sm_120)
      __half2 atomicAdd:      ATOM.E.ADD.F16x2.RN.STRONG.GPU, plus an ATOMS.CAST.SPIN loop over
                              HFMA2.MMA for the case that the generic pointer is shared memory
      integer shared atomicAdd: ATOMS.ADD (sm_75); ATOMS.POPC.INC.32 when adding 1 (sm_80+)

  Calls: nvcc inlines most device functions; a __noinline__ function in the same translation
  unit is disassembled as part of its kernel. With separate compilation (-rdc) a kernel calls
  device functions through `CALL.ABS.NOINC 0x0` plus a relocation; when a file has such calls
  the scanner also reads `cuobjdump -elf` (relocations) and flags a kernel that calls,
  directly or not, a function with float atomics. `cuobjdump -symbols` (the ENTRY flag) tells
  kernels from device functions, which are not reported.

  Speed: nvdisasm does the work; the scanner runs one cuobjdump per GPU architecture in
  parallel (-j). libcublas.so (54 MB, 990 images, 6 archs) took 6 min on 2 CPUs and found
  exactly its symv/hemv kernels, the routines NVIDIA documents as using atomics.
"""

import argparse
import datetime
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXIT_OK = 0
EXIT_ERROR = 2

PROG = "detshim scan"
DB_HEADER = "# detshim kernel database v1"
DB_FORMAT_LINE = "# pattern<TAB>reason     (lines starting with # and blank lines are ignored)"

# Places searched for cuobjdump after --cuobjdump, $CUOBJDUMP and PATH (tests override them).
DEFAULT_CUDA_BIN_DIRS = ["/usr/local/cuda/bin"]
PYPI_HINT = ("python3 -m pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm "
             "(cuobjdump needs nvdisasm for -sass; add --break-system-packages for Debian's "
             "own python3, or use a virtual environment)")


class ScanError(Exception):
    """A problem the user can act on; printed as one message, exit code 2."""


# ---------------------------------------------------------------------------------------
# finding cuobjdump

def _is_exe(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def _nvidia_package_dirs():
    """Directories of the `nvidia` namespace package (where NVIDIA's PyPI wheels put their
    binaries), as seen by this Python and by python3/python on PATH.
    Returns (dirs, description of where it looked)."""
    dirs = []
    looked = []
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(spec.submodule_search_locations)
    looked.append(sys.executable or "this python")
    me = os.path.realpath(sys.executable) if sys.executable else None
    seen = {me}
    for name in ("python3", "python"):
        exe = shutil.which(name)
        if not exe:
            continue
        real = os.path.realpath(exe)
        if real in seen:
            continue
        seen.add(real)
        looked.append(exe)
        try:
            r = subprocess.run([exe, "-c", "import nvidia; print('\\n'.join(nvidia.__path__))"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=20, universal_newlines=True)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0:
            dirs.extend(line.strip() for line in r.stdout.splitlines() if line.strip())
    out = []
    for d in dirs:
        if d not in out and os.path.isdir(d):
            out.append(d)
    return out, looked


def _pypi_tool_candidates(tool):
    """cuobjdump / nvdisasm inside the nvidia-cuda-* wheels: nvidia/cu13/bin/TOOL (CUDA 13),
    nvidia/cuda_cuobjdump/bin/TOOL (CUDA 12)."""
    dirs, looked = _nvidia_package_dirs()
    found = []
    for d in dirs:
        for pat in (os.path.join(d, "bin", tool), os.path.join(d, "*", "bin", tool)):
            found.extend(sorted(glob.glob(pat)))
    return found, dirs, looked


def _search_dirs(env):
    """(label, directory or None, note) in search order, after --cuobjdump/$CUOBJDUMP/PATH."""
    out = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        v = env.get(var)
        out.append(("$%s/bin" % var, os.path.join(v, "bin") if v else None,
                    None if v else "not set"))
    nvcc = shutil.which("nvcc", path=env.get("PATH", os.defpath))
    out.append(("directory of nvcc on PATH", os.path.dirname(os.path.realpath(nvcc)) if nvcc else None,
                None if nvcc else "no nvcc on PATH"))
    for d in DEFAULT_CUDA_BIN_DIRS:
        out.append((d, d, None))
    return out


def find_tool(tool, explicit=None, env=None, env_var=None, option=None):
    """Find `tool` (cuobjdump or nvdisasm). Returns (path or None, [lines describing where
    it looked]). An explicit path (option or env_var) that is not executable is an error."""
    env = os.environ if env is None else env
    looked = []
    for label, value in ((option, explicit), ("$" + env_var if env_var else None,
                                              env.get(env_var) if env_var else None)):
        if label is None:
            continue
        if not value:
            looked.append("%s: not given" % label if label.startswith("--") else "%s: not set" % label)
            continue
        cand = os.path.join(value, tool) if os.path.isdir(value) else value
        if _is_exe(cand):
            return cand, looked
        raise ScanError("%s %s: no executable %s there" % (label, value, tool))
    path_value = env.get("PATH", "")
    p = shutil.which(tool, path=path_value or os.defpath)
    if p:
        return p, looked
    looked.append("PATH: %s" % (path_value or "(empty)"))
    for label, d, note in _search_dirs(env):
        if d is None:
            looked.append("%s: %s" % (label, note))
            continue
        cand = os.path.join(d, tool)
        if _is_exe(cand):
            return cand, looked
        looked.append("%s: %s" % (label, cand) if label != d else cand)
    found, dirs, pythons = _pypi_tool_candidates(tool)
    for cand in found:
        if _is_exe(cand):
            return cand, looked
    if dirs:
        looked.append("PyPI wheels (package nvidia): no bin/%s under %s" % (tool, ", ".join(dirs)))
    else:
        looked.append("PyPI wheels: no package 'nvidia' importable by %s" % ", ".join(pythons))
    return None, looked


def find_cuobjdump(explicit=None, env=None):
    path, looked = find_tool("cuobjdump", explicit, env, "CUOBJDUMP", "--cuobjdump")
    if path is None:
        raise ScanError("cannot find cuobjdump. Looked in:\n  " + "\n  ".join(looked)
                        + "\nInstall it with the CUDA toolkit, or: " + PYPI_HINT
                        + "; or name it with --cuobjdump PATH or $CUOBJDUMP.")
    return path


def _cuobjdump_env(cuobjdump):
    """cuobjdump -sass runs nvdisasm, looked up next to itself, on PATH and in $NVDISASM_PATH
    (a directory). Point NVDISASM_PATH at one we can find when cuobjdump would not."""
    env = dict(os.environ)
    if env.get("NVDISASM_PATH"):
        return env, None
    if _is_exe(os.path.join(os.path.dirname(cuobjdump), "nvdisasm")):
        return env, None
    if shutil.which("nvdisasm", path=env.get("PATH", os.defpath)):
        return env, None
    path, looked = find_tool("nvdisasm", None, env, None)
    if path:
        env["NVDISASM_PATH"] = os.path.dirname(path)
        return env, None
    return env, looked


# ---------------------------------------------------------------------------------------
# SASS classification

_PRED_RE = re.compile(r"^@!?U?P(?:T|\d+)\s+")
_FLOAT_TYPE_RE = re.compile(r"^(?:B?F16|F32|F64|TF32|E4M3|E5M2|E2M1|E3M2|E2M3|UE8M0)(?:X\d+|_V2)?$", re.I)
_HEX_RE = re.compile(r"0x([0-9a-fA-F]+)\s*$")
# float arithmetic that makes a CAS loop an emulated floating-point atomic
_FLOAT_ARITH = frozenset(("FADD", "FADD32I", "FFMA", "FFMA32I", "FMUL", "FMUL32I", "DADD", "DFMA",
                          "DMUL", "HADD2", "HADD2_32I", "HFMA2", "HFMA2_32I", "HMUL2", "HMUL2_32I",
                          "FADD2", "FFMA2", "FMUL2"))


def split_insn(text):
    """'@!P0 REDG.E.ADD.F32.FTZ.RN.STRONG.GPU desc[UR4][R4.64], R3' ->
    ('REDG.E.ADD.F32.FTZ.RN.STRONG.GPU', 'desc[UR4][R4.64], R3')"""
    text = _PRED_RE.sub("", text, count=1)
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def is_float_atomic_reduction(opcode):
    """True for RED/ATOM-family opcodes that add floating-point values."""
    mods = opcode.split(".")
    base = mods[0]
    if "RED" not in base and "ATOM" not in base:
        return False
    if base.endswith("REDUX"):          # REDUX / CREDUX: warp-level integer reductions
        return False
    mods = mods[1:]
    if "ADD" not in mods and "FADD" not in mods:
        return False
    return any(_FLOAT_TYPE_RE.match(m) for m in mods)


def is_cas(opcode):
    mods = opcode.split(".")
    if "ATOM" not in mods[0]:
        return False
    return any(m in ("CAS", "CAST") for m in mods[1:])


def is_float_arith(opcode, operands):
    base = opcode.split(".", 1)[0]
    if base not in _FLOAT_ARITH:
        return False
    if base == "HFMA2":
        # 'HFMA2.MMA R3, -RZ, RZ, 0, 2.38e-07' loads a constant: not arithmetic on data
        ops = [o.strip() for o in operands.split(",")]
        if len(ops) >= 3 and ops[1] == "-RZ" and ops[2] == "RZ":
            return False
    return True


class Function:
    """One `Function : NAME` section of one ELF image."""
    __slots__ = ("name", "arch", "elf", "hit", "cas", "arith", "loops", "calls", "kernel")

    def __init__(self, name, arch, elf):
        self.name = name
        self.arch = arch
        self.elf = elf
        self.hit = None        # first float-atomic instruction (string), or None
        self.cas = []          # (addr, opcode) of CAS-type atomics
        self.arith = []        # (addr, opcode) of float arithmetic
        self.loops = []        # (target, branch addr) of backward branches
        self.calls = []        # addresses of CALL.ABS (resolved through relocations)
        self.kernel = True     # False for a device function (known from -elf's ENTRY flag)

    def add(self, addr, opcode, operands):
        base = opcode.split(".", 1)[0]
        if "RED" in base or "ATOM" in base:
            if self.hit is None and is_float_atomic_reduction(opcode):
                self.hit = opcode
            elif is_cas(opcode):
                self.cas.append((addr, opcode))
        elif base in _FLOAT_ARITH:
            if self.hit is None and is_float_arith(opcode, operands):
                self.arith.append((addr, base))
        else:
            if base == "BRA":
                m = _HEX_RE.search(operands)
                if m:
                    target = int(m.group(1), 16)
                    if target <= addr:
                        self.loops.append((target, addr))
            elif base == "CALL" and ".ABS" in opcode:
                self.calls.append(addr)

    def finish(self):
        """Decide CAS loops; drop the per-instruction lists."""
        if self.hit is None and self.cas and self.arith and self.loops:
            for caddr, cop in self.cas:
                for lo, hi in self.loops:
                    if lo <= caddr <= hi:
                        ar = [op for a, op in self.arith if lo <= a <= hi]
                        if ar:
                            self.hit = "%s loop over %s" % (cop, ar[0])
                            break
                if self.hit:
                    break
        self.cas = self.arith = self.loops = None


def parse_sass(lines):
    """Parse `cuobjdump -sass` output. Returns (functions, elf_archs, ptx_archs)."""
    functions = []
    elf_archs = []           # arch of ELF image k (k = index into this list)
    ptx_archs = []
    section = None           # 'elf' or 'ptx'
    header_arch = None
    cur = None
    for line in lines:
        # instruction lines: '        /*01a0*/              @!P1 BRA 0x160 ;    /* 0x... */'
        # (the second line of each instruction holds only its encoding: '   /* 0x000f... */')
        i = line.find("/*")
        if i >= 0 and cur is not None:
            if line[i + 2:i + 3] == " ":
                continue
            j = line.find("*/", i + 2)
            k = line.find(";", j)
            if j > 0 and k > 0:
                text = line[j + 2:k].strip()
                if text.startswith("{"):
                    text = text[1:].lstrip()
                if text.startswith("@"):
                    parts = text.split(None, 2)
                    parts = parts[1:]
                else:
                    parts = text.split(None, 1)
                if parts:
                    try:
                        addr = int(line[i + 2:j], 16)
                    except ValueError:
                        continue
                    cur.add(addr, parts[0], parts[1] if len(parts) > 1 else "")
                continue
        s = line.strip()
        if not s:
            continue
        if s.startswith("Function :"):
            if cur is not None:
                cur.finish()
            if not elf_archs:                     # a cubin without a 'code for' line
                elf_archs.append(header_arch or "sm_unknown")
            cur = Function(s[len("Function :"):].strip(), elf_archs[-1], len(elf_archs) - 1)
            functions.append(cur)
        elif s.startswith("code for sm_"):
            if cur is not None:
                cur.finish()
                cur = None
            elf_archs.append(s[len("code for "):].split()[0])
        elif s.startswith("Fatbin elf code"):
            section = "elf"
        elif s.startswith("Fatbin ptx code"):
            section = "ptx"
            if cur is not None:
                cur.finish()
                cur = None
        elif s.startswith("arch = "):
            header_arch = s[len("arch = "):].strip()
            if section == "ptx" and header_arch not in ptx_archs:
                ptx_archs.append(header_arch)
    if cur is not None:
        cur.finish()
    return functions, elf_archs, ptx_archs


def parse_elf(lines):
    """Parse `cuobjdump -elf` output: per ELF image k, the ENTRY functions and the
    relocations of each function's code ({caller: {offset: symbol}}).
    Returns [(arch, entries set, relocs dict)]."""
    images = []
    reloc_fn = None
    arch_re = re.compile(r"\bsm=(\d+[a-z]?)")
    for line in lines:
        if line.startswith(("64-bit ELF:", "32-bit ELF:")):
            m = arch_re.search(line)
            images.append(("sm_" + m.group(1) if m else "sm_unknown", set(), {}))
            reloc_fn = None
            continue
        if not images:
            continue
        if line.startswith(".section .rela.text.") or line.startswith(".section .rel.text."):
            name = line.split(None, 2)[1]
            reloc_fn = name.split(".text.", 1)[1]
            images[-1][2].setdefault(reloc_fn, {})
            continue
        if reloc_fn is not None:
            parts = line.split()
            if len(parts) >= 3 and parts[0].startswith("0x"):
                try:
                    images[-1][2][reloc_fn][int(parts[0], 16)] = parts[1]
                except ValueError:
                    pass
                continue
            reloc_fn = None
        parts = line.split()
        # symbol table: index value size FUNC bind visibility ENTRY|- section name
        if len(parts) >= 8 and parts[0].startswith("0x") and parts[3] in ("FUNC", "STT_FUNC"):
            if _ENTRY_FLAGS.intersection(parts[4:-1]):
                images[-1][1].add(parts[-1])
    return images


_ENTRY_FLAGS = frozenset(("ENTRY", "STO_ENTRY", "STO_CUDA_ENTRY"))


def parse_symbols(lines):
    """Parse `cuobjdump -symbols` output: the ENTRY (kernel) functions of each ELF image, in
    image order. Returns [set of names]."""
    images = []
    for line in lines:
        s = line.strip()
        if s == "symbols:":
            images.append(set())
        elif images and (s.startswith("FUNC") or s.startswith("STT_FUNC")):
            # 'FUNC  GLOBAL  DEFAULT  ENTRY  name' (cuobjdump 13.5) or
            # 'STT_FUNC  STB_GLOBAL  STO_ENTRY  name' (cuobjdump 13.0)
            parts = s.split()
            if len(parts) >= 3 and _ENTRY_FLAGS.intersection(parts[1:-1]):
                images[-1].add(parts[-1])
    return images


def mark_kernels(functions, elf_archs, entry_images):
    """Set f.kernel from the ENTRY flags; image k of -sass is image k of -symbols."""
    if not any(entry_images):
        return      # no kernel flagged anywhere: an unknown format, or only device functions
    if len(entry_images) == len(elf_archs):
        for f in functions:
            f.kernel = f.name in entry_images[f.elf]
    else:   # cannot pair the images: any image's ENTRY counts
        allentries = set().union(*entry_images)
        for f in functions:
            f.kernel = f.name in allentries


def resolve_calls(functions, elf_archs, images):
    """Propagate float atomics from called device functions to their callers (per ELF
    image), using the relocations of CALL.ABS instructions."""
    by_elf = {}
    for f in functions:
        by_elf.setdefault(f.elf, {})[f.name] = f
    aligned = len(images) == len(elf_archs) and all(a == b[0] for a, b in zip(elf_archs, images))
    for k, funcs in by_elf.items():
        if aligned:
            relocs = images[k][2]
        else:   # fall back: merge every image of the same architecture
            relocs = {}
            for arch, e, r in images:
                if arch == elf_archs[k]:
                    for fn, rr in r.items():
                        relocs.setdefault(fn, {}).update(rr)
        callees = {}
        for name, f in funcs.items():
            targets = []
            rel = relocs.get(name, {})
            for addr in f.calls:
                for off in range(addr, addr + 16):
                    sym = rel.get(off)
                    if sym is not None and sym in funcs and sym != name:
                        targets.append(sym)
                        break
            callees[name] = targets
        changed = True
        while changed:
            changed = False
            for name, f in funcs.items():
                if f.hit is not None:
                    continue
                for t in callees[name]:
                    if funcs[t].hit is not None:
                        inner = funcs[t].hit
                        if inner.startswith("via "):
                            inner = inner.split(": ", 1)[1]
                        f.hit = "via %s: %s" % (t, inner)
                        changed = True
                        break


# ---------------------------------------------------------------------------------------
# running cuobjdump

def check_input(path):
    """Raise ScanError unless path is a readable ELF file, fatbinary or ar archive."""
    if not os.path.lexists(path):
        raise ScanError("%s: no such file" % path)
    if os.path.isdir(path):
        raise ScanError("%s: is a directory, not a binary" % path)
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as e:
        raise ScanError("%s: cannot read: %s" % (path, e.strerror or e))
    if magic.startswith(b"\x7fELF"):
        return "ELF"
    if magic.startswith(b"\x50\xed\x55\xba"):
        return "fatbin"
    if magic.startswith(b"!<arch>\n"):
        return "archive"
    shown = "empty file" if not magic else "starts with %r" % magic
    raise ScanError("%s: not an ELF file, CUDA fatbinary or ar archive (%s); detshim scan reads "
                    "compiled binaries (.so, executables, .o, .a, .cubin, .fatbin)" % (path, shown))


def run_cuobjdump(cuobjdump, env, flags, path, parse):
    """Run `cuobjdump FLAGS... PATH`, feeding its stdout line by line to parse().
    Returns (parse result, returncode, stderr text)."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen([cuobjdump] + list(flags) + [path], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=err, env=env,
                                    universal_newlines=True, errors="replace", bufsize=1 << 16)
        except OSError as e:
            raise ScanError("cannot run %s: %s" % (cuobjdump, e.strerror or e))
        try:
            result = parse(proc.stdout)
        finally:
            proc.stdout.close()
            rc = proc.wait()
        err.seek(0)
        text = err.read().decode("utf-8", "replace").strip()
    return result, rc, text


NO_DEVICE_CODE = "does not contain device code"
_LIST_RE = re.compile(r"^(ELF|PTX) file\s+\d+:\s*(\S+)\.(sm_[0-9]+[a-z]?|compute_[0-9]+[a-z]?)\.(?:cubin|ptx)\s*$")


def list_images(path, cuobjdump, env):
    """Architectures of the ELF images and of the PTX in path (cuobjdump -lelf / -lptx;
    cheap). Returns (elf_archs, ptx_archs, no_device_code)."""
    out = {}
    for flag in ("-lelf", "-lptx"):
        lines, rc, err = run_cuobjdump(cuobjdump, env, [flag], path, list)
        if NO_DEVICE_CODE in err:
            return [], [], True
        if rc != 0 and "No ELF file" not in err and "No PTX file" not in err:
            raise ScanError("%s: cuobjdump %s failed (exit %d): %s" % (path, flag, rc, err or "no message"))
        archs = []
        for line in lines:
            m = _LIST_RE.match(line.strip())
            if m and m.group(3) not in archs:
                archs.append(m.group(3))
        out[flag] = archs
    return out["-lelf"], [a.replace("sm_", "compute_") for a in out["-lptx"]], False


def _scan_arch(path, cuobjdump, env, nvdisasm_looked, arch):
    """One `cuobjdump -sass [-arch ARCH]` pass (and -elf when there are calls to resolve).
    Returns (functions, notes)."""
    extra = ["-arch", arch] if arch else []
    (functions, elf_archs, _), rc, err = run_cuobjdump(cuobjdump, env, ["-sass"] + extra, path, parse_sass)
    if rc != 0 or "fatal" in err:
        if NO_DEVICE_CODE in err and not functions:
            return [], []
        if "nvdisasm" in err:
            msg = "%s: cuobjdump cannot disassemble: it needs nvdisasm (%s)" % (path, err)
            if nvdisasm_looked:
                msg += ". Looked for nvdisasm in:\n  " + "\n  ".join(nvdisasm_looked)
            raise ScanError(msg + "\nInstall it with the CUDA toolkit, or: " + PYPI_HINT
                            + "; or set NVDISASM_PATH to the directory holding it.")
        raise ScanError("%s: cuobjdump -sass %sfailed (exit %d): %s"
                        % (path, " ".join(extra) + " " if extra else "", rc, err or "no message"))
    notes = []
    if any(f.calls for f in functions):
        images, rc, err = run_cuobjdump(cuobjdump, env, ["-elf"] + extra, path, parse_elf)
        if rc != 0:
            notes.append("%s: cuobjdump -elf failed (exit %d): %s; calls between device "
                         "functions were not followed" % (path, rc, err or "no message"))
        else:
            resolve_calls(functions, elf_archs, images)
    # which functions are kernels (ENTRY) rather than device functions (-rdc builds)
    entry_images, rc, err = run_cuobjdump(cuobjdump, env, ["-symbols"] + extra, path, parse_symbols)
    if rc == 0:
        mark_kernels(functions, elf_archs, entry_images)
    return functions, notes


def scan_file(path, cuobjdump, env, nvdisasm_looked, jobs=None):
    """Scan one file. Returns (kernels, notes): kernels = [(mangled, arch, instruction)]."""
    check_input(path)
    elf_archs, ptx_archs, no_code = list_images(path, cuobjdump, env)
    if no_code:
        return [], ["%s: no CUDA device code (0 kernels)" % path]
    if not elf_archs:
        if ptx_archs:
            return [], ["%s: only PTX (%s), compiled at load time: no SASS to scan (0 kernels)"
                        % (path, ", ".join(ptx_archs))]
        return [], ["%s: no CUDA device code (0 kernels)" % path]
    notes = []
    missing_sass = [a for a in ptx_archs if a.replace("compute_", "sm_") not in elf_archs]
    if missing_sass:
        notes.append("%s: also holds PTX for %s (JIT-compiled on GPUs without matching SASS; "
                     "not scanned)" % (path, ", ".join(missing_sass)))
    # One cuobjdump per architecture, several at a time: nvdisasm is the slow part.
    if jobs is None:
        jobs = os.cpu_count() or 1
    jobs = max(1, min(jobs, len(elf_archs)))
    passes = [None] if len(elf_archs) == 1 or jobs == 1 else elf_archs
    if jobs > 1 and len(passes) > 1:
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda a: _scan_arch(path, cuobjdump, env, nvdisasm_looked, a), passes))
    else:
        results = [_scan_arch(path, cuobjdump, env, nvdisasm_looked, a) for a in passes]
    functions = []
    for funcs, n in results:
        functions.extend(funcs)
        notes.extend(n)
    if not functions:
        return [], notes + ["%s: its device code has no functions (0 kernels)" % path]
    kernels = [(f.name, f.arch, f.hit) for f in functions if f.hit is not None and f.kernel]
    nimg = len(set((f.arch, f.elf) for f in functions))    # images with code (-shared adds empty ones)
    notes.append("%s: %d function%s in %d ELF image%s (%s), %d with floating-point atomics"
                 % (path, len(functions), "" if len(functions) == 1 else "s", nimg,
                    "" if nimg == 1 else "s", ", ".join(sorted(set(f.arch for f in functions), key=_arch_key)),
                    len(set(k[0] for k in kernels))))
    return kernels, notes


# ---------------------------------------------------------------------------------------
# output

def _arch_key(arch):
    m = re.match(r"sm_(\d+)", arch)
    return (int(m.group(1)) if m else 1 << 30, arch)


def demangle(names):
    """Demangle with one c++filt process; fall back to the names as given."""
    names = list(names)
    if not names:
        return {}
    tool = shutil.which("c++filt") or shutil.which("llvm-cxxfilt")
    if not tool:
        return {n: n for n in names}
    try:
        r = subprocess.run([tool], input="\n".join(names) + "\n", stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True, timeout=300)
        out = r.stdout.split("\n")
        if r.returncode == 0 and len(out) >= len(names):
            return {n: (out[i] or n) for i, n in enumerate(names)}
    except (OSError, subprocess.SubprocessError):
        pass
    return {n: n for n in names}


def escape_pattern(name):
    """A kernel name as an fnmatch(3) pattern that matches exactly that name."""
    out = []
    for ch in name:
        out.append("[%s]" % ch if ch in "*?[" else ch)
    return "".join(out)


def merge(kernels):
    """[(mangled, arch, insn)] -> ordered {mangled: [(insn, [archs])]} (first insn per arch)."""
    merged = {}
    for name, arch, insn in kernels:
        per = merged.setdefault(name, {})
        per.setdefault(arch, insn)
    out = {}
    for name, per in merged.items():
        groups = {}
        for arch in sorted(per, key=_arch_key):
            groups.setdefault(per[arch], []).append(arch)
        out[name] = sorted(groups.items(), key=lambda kv: _arch_key(kv[1][0]))
    return out


def reason_of(groups):
    return "SASS: " + "; ".join("%s (%s)" % (insn, ", ".join(archs)) for insn, archs in groups)


def _clean(s):
    return s.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def write_db(path, merged, files):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [DB_HEADER, DB_FORMAT_LINE,
             "# Written by `detshim scan` on %s from:" % stamp]
    lines += ["#   %s" % _clean(os.path.abspath(f)) for f in files]
    lines.append("# %d kernel%s with floating-point atomic reductions in their SASS; patterns are the "
                 "exact mangled names." % (len(merged), "" if len(merged) == 1 else "s"))
    lines.append("")
    for name, groups in merged.items():
        lines.append("%s\t%s" % (escape_pattern(_clean(name)), _clean(reason_of(groups))))
    data = "\n".join(lines) + "\n"
    d = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".detshim-scan-", dir=d)
    except OSError as e:
        raise ScanError("cannot write %s: %s" % (path, e.strerror or e))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ScanError("cannot write %s: %s" % (path, e.strerror or e))


def print_table(merged, out):
    if not merged:
        out.write("No kernels with floating-point atomic reductions.\n")
        return
    names = demangle(merged.keys())
    rows = []
    for name, groups in merged.items():
        archs = sorted({a for _, aa in groups for a in aa}, key=_arch_key)
        insns = " | ".join(insn for insn, _ in groups)
        rows.append((",".join(archs), insns, names.get(name, name)))
    w0 = max(len("ARCH"), max(len(r[0]) for r in rows))
    w1 = max(len("INSTRUCTION"), max(len(r[1]) for r in rows))
    out.write("%-*s  %-*s  %s\n" % (w0, "ARCH", w1, "INSTRUCTION", "KERNEL"))
    for r in rows:
        out.write("%-*s  %-*s  %s\n" % (w0, r[0], w1, r[1], r[2]))


# ---------------------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(
        prog=PROG,
        description="List the CUDA kernels in compiled binaries whose machine code (SASS) "
                    "accumulates floating-point values with atomics (run-to-run "
                    "nondeterministic), using cuobjdump.",
        epilog="cuobjdump is looked for in --cuobjdump, $CUOBJDUMP, PATH, $CUDA_HOME/bin, "
               "$CUDA_PATH/bin, the directory of nvcc on PATH, /usr/local/cuda/bin and the "
               "nvidia-cuda-cuobjdump PyPI wheel (%s). Exit status: 0 done, 2 error." % PYPI_HINT)
    p.add_argument("-o", "--output", metavar="DB",
                   help="also write the kernels found as a detshim kernel database "
                        "(the shim/layers/kernels/kernels.db format; load it with DETSHIM_KERNELS=DB)")
    p.add_argument("--cuobjdump", metavar="PATH", help="the cuobjdump to use (file or directory)")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="cuobjdump processes at a time, one per GPU architecture "
                        "(default: the number of CPUs)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="shared library, executable, object, archive, cubin or fatbin")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    if args.jobs is not None and args.jobs < 1:
        sys.stderr.write("%s: error: -j/--jobs needs a number of at least 1\n" % PROG)
        return EXIT_ERROR
    try:
        for f in args.files:
            check_input(f)
        cuobjdump = find_cuobjdump(args.cuobjdump)
        env, nvdisasm_looked = _cuobjdump_env(cuobjdump)
        kernels, notes = [], []
        for f in args.files:
            k, n = scan_file(f, cuobjdump, env, nvdisasm_looked, args.jobs)
            kernels.extend(k)
            notes.extend(n)
        merged = merge(kernels)
        for n in notes:
            sys.stdout.write(n + "\n")
        print_table(merged, sys.stdout)
        if args.output:
            write_db(args.output, merged, args.files)
            sys.stdout.write("Wrote %d pattern%s to %s\n"
                             % (len(merged), "" if len(merged) == 1 else "s", args.output))
        sys.stdout.flush()
        return EXIT_OK
    except ScanError as e:
        sys.stdout.flush()
        sys.stderr.write("%s: error: %s\n" % (PROG, e))
        return EXIT_ERROR
    except BrokenPipeError:          # e.g. `detshim scan lib.so | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
