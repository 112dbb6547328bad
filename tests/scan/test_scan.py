#!/usr/bin/python3
"""Tests of `detshim scan` (scripts/detshimtool/scan.py).

  test_scan.py errors  --scripts DIR
      No tools needed: the SASS classifier on canned cuobjdump output, pattern escaping,
      the missing-cuobjdump error (exit 2, names every place it looked), bad input files
      (not ELF, empty, missing, a directory: exit 2).
  test_scan.py kernels --scripts DIR --source kernels.cu --nvcc NVCC --workdir DIR
      Compiles tests/scan/kernels.cu for sm_80 and sm_90 into a shared library and checks
      that the scanner flags exactly the floating-point-atomic kernels (fp_*) and writes a
      database whose patterns match exactly their mangled names. Also: a -rdc build (a kernel
      that calls a float-atomic device function in another object), a host-only ELF (no device
      code: exit 0). Exits 77 (skipped) when nvcc or cuobjdump cannot be found.

Prints 'N passed, M failed' last; exit 0 when all passed, 1 otherwise, 77 when skipped.
"""
import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok: " + what)
        else:
            self.failed.append(what)
            print("FAIL: " + what + (("\n    " + detail.replace("\n", "\n    ")) if detail else ""))
        return cond

    def finish(self):
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0


def run_scan(scripts, args, env=None, prelude=""):
    """Run scan.main(args) in a fresh /usr/bin/python3 (or this one); prelude may patch the
    module's search lists first. Returns (rc, stdout, stderr)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from detshimtool import scan; "
            + prelude + "sys.exit(scan.main(sys.argv[2:]))")
    r = subprocess.run([sys.executable, "-c", code, scripts] + list(args), env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=900)
    return r.returncode, r.stdout, r.stderr


# ---------------------------------------------------------------------------------------
# canned cuobjdump output (from kernels.cu and friends, nvcc 13.0; encodings trimmed)

SASS_SM90 = """
Fatbin elf code:
================
arch = sm_90
code version = [1,8]
host = linux
compile_size = 64bit

	code for sm_90
	.target	sm_90

		Function : fp_add_f32_shared
	.headerflags	@"EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0160*/                   LDS R4, [R0] ;                                /* 0x0000000000047984 */
                                                                                 /* 0x000e240000000800 */
        /*0170*/                   FADD R5, R3, R4 ;                             /* 0x0000000403057221 */
                                                                                 /* 0x001fd00000000000 */
        /*0180*/                   ATOMS.CAST.SPIN R5, [R0], R4, R5 ;            /* 0x000000040005738d */
                                                                                 /* 0x000e240001800005 */
        /*0190*/                   ISETP.EQ.U32.AND P1, PT, R5, 0x1, PT ;        /* 0x000000010500780c */
        /*01a0*/              @!P1 BRA 0x160 ;                                   /* 0x0000000000e89947 */
        /*01b0*/                   EXIT ;                                        /* 0x000000000000794d */
		..........

		Function : fp_add_f32_global
        /*00d0*/                   REDG.E.ADD.F32.FTZ.RN.STRONG.GPU desc[UR4][R4.64], R3 ;  /* 0x00000003040079a6 */
        /*00e0*/                   EXIT ;                                        /* 0x000000000000794d */
		Function : fp_add_f16_global
        /*0140*/                   HADD2 R3, R7, R2.H0_H0 ;                      /* 0x2000000207037230 */
        /*0150*/                   PRMT R3, R7, R0, R3 ;                         /* 0x0000000007037216 */
        /*0160*/                   ATOM.E.CAS.STRONG.GPU PT, R6, [R4], R7, R3 ;  /* 0x000000070406738b */
        /*0170*/                   ISETP.NE.U32.AND P0, PT, R6, R7, PT ;         /* 0x000000070600720c */
        /*0180*/                   IMAD.MOV.U32 R7, RZ, RZ, R6 ;                 /* 0x000000ffff077224 */
        /*0190*/               @P0 BRA 0x140 ;                                   /* 0x0000000000e80947 */
		Function : fp_bulk_reduce
        /*0140*/                   UBLKRED.G.S.ADD.F32.RN [UR6], [UR4], UR5 ;    /* 0x00000006040073bb */
		Function : fp_add_f16x2_global
        /*00d0*/                   ATOM.E.ADD.F16x2.RN.STRONG.GPU P0, RZ, desc[UR4][R4.64], R3 ;  /* 0x0000000304ff79a2 */
		Function : fp_add_bf16x2_global
        /*00d0*/                   ATOM.E.ADD.BF16x2.RN.STRONG.GPU P0, RZ, desc[UR4][R4.64], R3 ;  /* 0x0000000304ff79a2 */
		Function : fp_add_f64_shared
        /*0160*/                   LDS.64 R4, [R11] ;                            /* 0x000000000b047984 */
        /*0170*/                   DADD R6, R2, R4 ;                             /* 0x0000000002067229 */
        /*0180*/                   ATOMS.CAST.SPIN.64 R6, [R11], R4, R6 ;        /* 0x000000040b06738d */
        /*0190*/                   ISETP.EQ.U32.AND P0, PT, R6, 0x1, PT ;        /* 0x000000010600780c */
        /*01a0*/                   ISETP.EQ.U32.AND.EX P0, PT, R7, RZ, PT, P0 ;  /* 0x000000ff0700720c */
        /*01b0*/              @!P0 BRA 0x160 ;                                   /* 0x0000000000e88947 */
		Function : ok_add_s32_global
        /*0110*/                   REDUX.SUM UR5, R2 ;                           /* 0x00000000020573c4 */
        /*0130*/               @P0 REDG.E.ADD.STRONG.GPU desc[UR6][R4.64], R7 ;  /* 0x000000070400098e */
		Function : ok_add_u64_global
        /*00d0*/                   REDG.E.ADD.64.STRONG.GPU desc[UR4][R4.64], R2 ;  /* 0x000000020400798e */
		Function : ok_add_s32_global_ret
        /*0110*/              @!P0 ATOMG.E.ADD.STRONG.GPU PT, R11, desc[UR4][R2.64], R7 ;  /* 0x00000007020b89a8 */
		Function : ok_exch_f32_global
        /*00e0*/                   ATOMG.E.EXCH.STRONG.GPU PT, R5, desc[UR4][R4.64], R3 ;  /* 0x00000003040579a8 */
		Function : ok_cas_u32_global
        /*0120*/                   ATOMG.E.CAS.STRONG.GPU PT, R7, [R6], R10, R11 ;  /* 0x0000000a060773a9 */
        /*0130*/                   FADD R1, R2, R3 ;                             /* 0x0000000302017221 */
		Function : ok_max_s32_global
        /*0130*/               @P0 REDG.E.MAX.S32.STRONG.GPU desc[UR6][R4.64], R7 ;  /* 0x000000070400098e */
		Function : ok_add_u32_shared
        /*0200*/                   ATOMS.POPC.INC.32 RZ, [R0+URZ] ;              /* 0x0000000000ff7f8c */
        /*0210*/                   ATOMS.ADD RZ, [R2.X4], R5 ;                   /* 0x0000000502ff738c */
		Function : ok_cas_loop_fmax
        /*0100*/                   LDS R4, [R0] ;                                /* 0x0000000000047984 */
        /*0110*/                   FMNMX R5, R3, R4, !PT ;                       /* 0x0000000403057209 */
        /*0120*/                   ATOMS.CAST.SPIN R5, [R0], R4, R5 ;            /* 0x000000040005738d */
        /*0130*/                   ISETP.EQ.U32.AND P1, PT, R5, 0x1, PT ;        /* 0x000000010500780c */
        /*0140*/              @!P1 BRA 0x100 ;                                   /* 0x0000000000e89947 */
		Function : ok_cas_loop_int_with_constant_idiom
        /*0100*/                   HFMA2.MMA R3, -RZ, RZ, 0, 2.384185791015625e-07 ;  /* 0x00000002ff037435 */
        /*0110*/                   IADD3 R5, R3, R4, RZ ;                        /* 0x0000000403057210 */
        /*0120*/                   ATOMG.E.CAS.STRONG.GPU PT, R7, [R4], R6, R5 ;  /* 0x00000006040773a9 */
        /*0130*/                   ISETP.NE.AND P0, PT, R6, R7, PT ;             /* 0x000000070600720c */
        /*0140*/               @P0 BRA 0x100 ;                                   /* 0x0000000000e80947 */
		Function : ok_forward_branch_cas
        /*0100*/                   FADD R5, R3, R4 ;                             /* 0x0000000403057221 */
        /*0110*/               @P0 BRA 0x140 ;                                   /* 0x0000000000e80947 */
        /*0120*/                   ATOMG.E.CAS.STRONG.GPU PT, R7, [R4], R6, R5 ;  /* 0x00000006040773a9 */
        /*0140*/                   EXIT ;                                        /* 0x000000000000794d */
		Function : ok_plain_saxpy
        /*0080*/                   FFMA R7, R2, c[0x0][0x170], R5 ;              /* 0x00005c0002077a23 */
		Function : ok_block_reduce_f32
        /*0090*/                   SHFL.DOWN PT, R3, R0, 0x10, 0x1f ;            /* 0x0a001f0000037f89 */
        /*00a0*/                   FADD R3, R3, R0 ;                             /* 0x0000000003037221 */
        /*00b0*/                   STS [R4], R3 ;                                /* 0x0000000304007388 */
        /*00c0*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;                 /* 0x0000000000007b1d */

Fatbin elf code:
================
arch = sm_80
code version = [1,8]
host = linux
compile_size = 64bit

	code for sm_80
	.target	sm_80

		Function : fp_add_f32_global
        /*00c0*/                   RED.E.ADD.F32.FTZ.RN.STRONG.GPU [R4.64], R3 ;  /* 0x000000030400798e */
		Function : fp_add_bf16x2_global
        /*00d0*/                   HFMA2.BF16_V2 R7, R2, 1, 1, R6 ;              /* 0x3f803f8002077831 */
        /*00e0*/                   YIELD ;                                       /* 0x0000000000007946 */
        /*00f0*/                   ATOMG.E.CAS.STRONG.GPU PT, R7, [R4], R6, R7 ;  /* 0x00000006040773a9 */
        /*0100*/                   ISETP.NE.AND P0, PT, R6, R7, PT ;             /* 0x000000070600720c */
        /*0110*/                   IMAD.MOV.U32 R6, RZ, RZ, R7 ;                 /* 0x000000ffff067224 */
        /*0120*/               @P0 BRA 0xd0 ;                                    /* 0x0000000000e80947 */

Fatbin ptx code:
================
arch = sm_90
code version = [9,0]
"""

ELF_RDC = """
64-bit ELF: type=ET_EXEC, ABI=8, sm=90, toolkit=13.0, flags=0x6005a04
Symbols:
   0xa                0            0x180  FUNC          GLOBAL  DEFAULT    ENTRY                               0x11  rdc_calls_fp
   0xb                0            0x300  FUNC          GLOBAL  DEFAULT    -                                   0x12  _Z5additPff

.text.rdc_calls_fp
lmem=0	smem=0
0xff017b82 0x00000a00 0x00000800 0x000e2200


.section .rela.text.rdc_calls_fp	RELA
0x90    rdc_calls_fp    R_CUDA_ABS32_LO_32    0xc0
0xb0    _Z5additPff    R_CUDA_ABS55_16_34    0x0

"""

SASS_RDC = """
	code for sm_90
		Function : rdc_calls_fp
        /*00b0*/                   CALL.ABS.NOINC 0x0 ;                          /* 0x0000000000007943 */
		Function : _Z5additPff
        /*0050*/                   ATOM.E.ADD.F32.FTZ.RN.STRONG.GPU P0, RZ, desc[UR4][R4.64], R6 ;  /* 0x0000000604ff79a2 */
"""


def test_classifier(scan, res):
    funcs, elf_archs, ptx_archs = scan.parse_sass(SASS_SM90.splitlines(True))
    res.check(elf_archs == ["sm_90", "sm_80"], "parse_sass: ELF images and their archs", repr(elf_archs))
    res.check(ptx_archs == ["sm_90"], "parse_sass: PTX sections noted", repr(ptx_archs))
    hits = {(f.name, f.arch): f.hit for f in funcs}
    expect = {
        ("fp_add_f32_shared", "sm_90"): "ATOMS.CAST.SPIN loop over FADD",
        ("fp_add_f32_global", "sm_90"): "REDG.E.ADD.F32.FTZ.RN.STRONG.GPU",
        ("fp_add_f16_global", "sm_90"): "ATOM.E.CAS.STRONG.GPU loop over HADD2",
        ("fp_bulk_reduce", "sm_90"): "UBLKRED.G.S.ADD.F32.RN",
        ("fp_add_f16x2_global", "sm_90"): "ATOM.E.ADD.F16x2.RN.STRONG.GPU",
        ("fp_add_bf16x2_global", "sm_90"): "ATOM.E.ADD.BF16x2.RN.STRONG.GPU",
        ("fp_add_f64_shared", "sm_90"): "ATOMS.CAST.SPIN.64 loop over DADD",
        ("fp_add_f32_global", "sm_80"): "RED.E.ADD.F32.FTZ.RN.STRONG.GPU",
        ("fp_add_bf16x2_global", "sm_80"): "ATOMG.E.CAS.STRONG.GPU loop over HFMA2",
    }
    for key, want in sorted(expect.items()):
        res.check(hits.get(key) == want, "classifier flags %s (%s) as %s" % (key[0], key[1], want),
                  "got %r" % hits.get(key))
    for (name, arch), hit in sorted(hits.items()):
        if name.startswith("ok_"):
            res.check(hit is None, "classifier leaves %s (%s) alone" % (name, arch), "got %r" % hit)
    res.check(len(hits) == 21, "parse_sass: every Function section seen", "got %d" % len(hits))

    for op in ("RED.E.ADD.F32.FTZ.RN.STRONG.GPU", "REDG.E.ADD.F64.RN.STRONG.GPU",
               "ATOMG.E.ADD.F32.FTZ.RN.STRONG.GPU", "ATOM.E.ADD.F16x2.RN.STRONG.GPU",
               "ATOM.E.ADD.BF16x2.RN.STRONG.GPU", "REDG.E.ADD.F32x4.FTZ.RN.STRONG.GPU",
               "REDG.E.ADD.F32.FTZ.RN.STRONG.SYS", "UBLKRED.G.S.ADD.F32.RN"):
        res.check(scan.is_float_atomic_reduction(op), "float atomic: " + op)
    for op in ("RED.E.ADD.STRONG.GPU", "REDG.E.ADD.64.STRONG.GPU", "ATOMG.E.ADD.STRONG.GPU",
               "ATOMG.E.EXCH.STRONG.GPU", "ATOMG.E.CAS.STRONG.GPU", "REDG.E.MAX.S32.STRONG.GPU",
               "ATOMS.ADD", "ATOMS.POPC.INC.32", "REDUX.SUM", "CREDUX.MAX.S32",
               "REDG.E.MAX.F32.FTZ.RN.STRONG.GPU", "FADD", "HADD2.F32"):
        res.check(not scan.is_float_atomic_reduction(op), "not a float atomic add: " + op)

    # -rdc: a kernel calling a float-atomic device function through CALL.ABS + relocation
    funcs, elf_archs, _ = scan.parse_sass(SASS_RDC.splitlines(True))
    images = scan.parse_elf(ELF_RDC.splitlines(True))
    res.check(len(images) == 1 and images[0][0] == "sm_90" and "rdc_calls_fp" in images[0][1]
              and images[0][2].get("rdc_calls_fp", {}).get(0xb0) == "_Z5additPff",
              "parse_elf: ENTRY flag and CALL relocation", repr(images))
    scan.resolve_calls(funcs, elf_archs, images)
    scan.mark_kernels(funcs, elf_archs, [images[0][1]])
    byname = {f.name: f for f in funcs}
    res.check(byname["rdc_calls_fp"].hit == "via _Z5additPff: ATOM.E.ADD.F32.FTZ.RN.STRONG.GPU",
              "resolve_calls: caller of a float-atomic device function is flagged",
              repr(byname["rdc_calls_fp"].hit))
    res.check(byname["rdc_calls_fp"].kernel and not byname["_Z5additPff"].kernel,
              "mark_kernels: device functions are not kernels")

    # -symbols as cuobjdump 13.5 and 13.0 print it
    sym = ("symbols:\nFUNC          GLOBAL  DEFAULT    ENTRY                                k1\n"
           "FUNC          GLOBAL  DEFAULT    -                                    _Z3devv\n"
           "symbols:\nSTT_FUNC         STB_GLOBAL STO_ENTRY      _Z2k2v\n"
           "STT_OBJECT       STB_LOCAL  STV_DEFAULT    _ZN3cpo5beginE\n"
           "STT_FUNC         STB_GLOBAL STV_DEFAULT    _Z4dev2v\n")
    res.check(scan.parse_symbols(sym.splitlines(True)) == [{"k1"}, {"_Z2k2v"}],
              "parse_symbols: ENTRY in both cuobjdump formats", repr(scan.parse_symbols(sym.splitlines(True))))

    # database patterns: fnmatch metacharacters escaped, exact match only
    for name in ("_Z3fooIJEEvv", "weird*name?with[brackets]", "a[b", "x]y"):
        pat = scan.escape_pattern(name)
        ok = fnmatch.fnmatchcase(name, pat) and not fnmatch.fnmatchcase(name + "x", pat) \
            and not fnmatch.fnmatchcase("x" + name, pat)
        if "*" in name:
            ok = ok and not fnmatch.fnmatchcase(name.replace("*", "ZZ"), pat)
        if "?" in name:
            ok = ok and not fnmatch.fnmatchcase(name.replace("?", "Q"), pat)
        res.check(ok, "escape_pattern(%r) = %r matches exactly that name" % (name, pat))
    res.check(scan.escape_pattern("a*b?c[d") == "a[*]b[?]c[[]d", "escape_pattern uses [*] [?] [[]")


def test_errors(scripts, res, tmp):
    import importlib
    sys.path.insert(0, scripts)
    scan = importlib.import_module("detshimtool.scan")
    test_classifier(scan, res)

    elf = os.path.realpath(sys.executable)          # some ELF file without device code
    # no cuobjdump anywhere: built-in places pointed at nowhere, PyPI search emptied
    env = {"PATH": os.path.join(tmp, "empty-bin"), "HOME": tmp, "LANG": "C"}
    os.makedirs(env["PATH"], exist_ok=True)
    prelude = ("scan.DEFAULT_CUDA_BIN_DIRS = ['/nonexistent/cuda-for-test/bin']; "
               "scan._nvidia_package_dirs = lambda: ([], ['/nonexistent/python-for-test']); ")
    rc, out, err = run_scan(scripts, [elf], env=env, prelude=prelude)
    res.check(rc == 2, "missing cuobjdump: exit 2", "rc=%d\n%s%s" % (rc, out, err))
    for needle in ("cannot find cuobjdump", "--cuobjdump", "$CUOBJDUMP", "PATH: " + env["PATH"],
                   "$CUDA_HOME/bin", "$CUDA_PATH/bin", "nvcc", "/nonexistent/cuda-for-test/bin",
                   "/nonexistent/python-for-test", "nvidia-cuda-cuobjdump"):
        res.check(needle in err, "missing cuobjdump: the message names %s" % needle, err)
    env2 = dict(env, CUDA_HOME=os.path.join(tmp, "cudahome"), CUDA_PATH=os.path.join(tmp, "cudapath"))
    rc, out, err = run_scan(scripts, [elf], env=env2, prelude=prelude)
    res.check(rc == 2 and os.path.join(tmp, "cudahome", "bin", "cuobjdump") in err
              and os.path.join(tmp, "cudapath", "bin", "cuobjdump") in err,
              "missing cuobjdump: $CUDA_HOME and $CUDA_PATH candidates are named", err)
    rc, out, err = run_scan(scripts, ["--cuobjdump", "/nonexistent/cuobjdump", elf], env=env)
    res.check(rc == 2 and "/nonexistent/cuobjdump" in err, "--cuobjdump to a missing file: exit 2", err)

    # bad input files: checked before cuobjdump is even looked for
    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("this is not a binary\n")
    empty = os.path.join(tmp, "empty.so")
    open(empty, "w").close()
    cases = [(text, "not an ELF file"), (empty, "empty file"),
             (os.path.join(tmp, "missing.so"), "no such file"), (tmp, "is a directory")]
    for path, needle in cases:
        rc, out, err = run_scan(scripts, [path], env=env, prelude=prelude)
        res.check(rc == 2 and needle in err and path in err,
                  "bad input %s: exit 2, says %r" % (os.path.basename(path), needle),
                  "rc=%d\n%s%s" % (rc, out, err))
    rc, out, err = run_scan(scripts, [])
    res.check(rc == 2, "no FILE: usage error, exit 2", err)
    rc, out, err = run_scan(scripts, ["--help"])
    res.check(rc == 0 and "cuobjdump" in out, "--help: exit 0")


# ---------------------------------------------------------------------------------------

RDC_A = r"""
extern __device__ void scan_rdc_add_f32(float *p, float v);
extern __device__ void scan_rdc_add_s32(int *p, int v);
extern "C" __global__ void fp_rdc_calls_add_f32(float *out, const float *in) { scan_rdc_add_f32(out, in[threadIdx.x]); }
extern "C" __global__ void ok_rdc_calls_add_s32(int *out, const int *in) { scan_rdc_add_s32(out, in[threadIdx.x]); }
"""
RDC_B = r"""
__device__ void scan_rdc_add_f32(float *p, float v) { atomicAdd(p, v); }
__device__ void scan_rdc_add_s32(int *p, int v) { atomicAdd(p, v); }
"""


def compile_cmd(nvcc, args):
    r = subprocess.run([nvcc] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    return r.returncode, r.stdout


def read_db(path):
    entries = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            pat, reason = line.split("\t")
            entries.append((pat, reason))
    return entries


def test_kernels(args, res, tmp):
    import importlib
    sys.path.insert(0, args.scripts)
    scan = importlib.import_module("detshimtool.scan")
    if not args.nvcc or not os.access(args.nvcc, os.X_OK):
        print("SKIP: no nvcc (looked for it on PATH and in /usr/local/cuda/bin at configure time)")
        return SKIP
    try:
        cuobjdump = scan.find_cuobjdump()
    except scan.ScanError as e:
        print("SKIP: %s" % e)
        return SKIP
    print("using %s and %s" % (args.nvcc, cuobjdump))

    lib = os.path.join(tmp, "libscankernels.so")
    rc, out = compile_cmd(args.nvcc, ["-shared", "-Xcompiler", "-fPIC",
                                      "-gencode", "arch=compute_80,code=sm_80",
                                      "-gencode", "arch=compute_90,code=sm_90",
                                      "-o", lib, args.source])
    if not res.check(rc == 0, "nvcc builds kernels.cu for sm_80 and sm_90", out):
        return res.finish()

    # every kernel in the library, independently of the scanner's SASS parser
    r = subprocess.run([cuobjdump, "-symbols", lib], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    all_kernels = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("FUNC", "STT_FUNC") and \
                {"ENTRY", "STO_ENTRY"}.intersection(parts[1:-1]):
            all_kernels.add(parts[-1])
    expected = {k for k in all_kernels if k.startswith("fp_") or "fp_scatter_add" in k}
    res.check(len(all_kernels) == 21 and len(expected) == 10,
              "kernels.cu has 21 kernels, 10 with float atomics",
              "all=%s" % sorted(all_kernels))

    db = os.path.join(tmp, "scanned.db")
    rc, out, err = run_scan(args.scripts, ["-o", db, lib])
    print(out + err)
    if not res.check(rc == 0, "scan of the library: exit 0", err):
        return res.finish()
    entries = read_db(db)
    flagged = {k for k in all_kernels if any(fnmatch.fnmatchcase(k, p) for p, _ in entries)}
    res.check(flagged == expected, "the database flags exactly the float-atomic kernels",
              "missing: %s\nextra: %s" % (sorted(expected - flagged), sorted(flagged - expected)))
    for pat, reason in entries:
        m = [k for k in all_kernels if fnmatch.fnmatchcase(k, pat)]
        res.check(len(m) == 1 and pat == scan.escape_pattern(m[0]),
                  "pattern %s matches exactly one kernel, by its mangled name" % pat, repr(m))
        res.check(reason.startswith("SASS: ") and "sm_80" in reason and "sm_90" in reason,
                  "reason for %s names the instruction and both archs" % pat, reason)
    with open(db) as f:
        head = f.read().split("\n", 3)
    res.check(head[0] == scan.DB_HEADER and lib in "\n".join(head[:4]),
              "database header: format line and the scanned file", "\n".join(head[:3]))
    sys.path.insert(0, HERE)
    import check_kernels_db
    problems = []
    check_kernels_db.parse(db, problems)
    res.check(not problems, "the written database passes the kernels.db format check", "\n".join(problems))
    table = out.split("\n")
    res.check(any("fp_add_f32_shared" in l and "ATOMS.CAST.SPIN loop over FADD" in l for l in table),
              "table: shared-memory float atomicAdd shown as a CAS loop", out)
    res.check(any(l.startswith("sm_80,sm_90") and "fp_add_f32_global" in l for l in table),
              "table: each kernel once, with its archs", out)
    if shutil.which("c++filt"):
        res.check("void scantest::fp_scatter_add<float>(float*, int const*, float const*, int)" in out,
                  "table: C++ kernels are demangled", out)
    for k in sorted(all_kernels - expected):
        res.check(k not in out, "table does not list %s" % k)

    # -j 1 gives the same database as the parallel default
    db1 = os.path.join(tmp, "scanned-j1.db")
    rc, out1, err1 = run_scan(args.scripts, ["-j", "1", "-o", db1, lib])
    res.check(rc == 0 and read_db(db1) == entries, "-j 1 (one cuobjdump) finds the same", err1)

    # a separately compiled device function (-rdc): found through the call
    a = os.path.join(tmp, "rdc_a.cu")
    b = os.path.join(tmp, "rdc_b.cu")
    with open(a, "w") as f:
        f.write(RDC_A)
    with open(b, "w") as f:
        f.write(RDC_B)
    rdc = os.path.join(tmp, "librdc.so")
    rc, outc = compile_cmd(args.nvcc, ["-rdc=true", "-shared", "-Xcompiler", "-fPIC",
                                       "-gencode", "arch=compute_90,code=sm_90", "-o", rdc, a, b])
    if res.check(rc == 0, "nvcc -rdc builds the call test", outc):
        dbr = os.path.join(tmp, "rdc.db")
        rc, out, err = run_scan(args.scripts, ["-o", dbr, rdc])
        print(out + err)
        pats = [p for p, _ in read_db(dbr)] if rc == 0 else []
        res.check(rc == 0 and pats == ["fp_rdc_calls_add_f32"],
                  "-rdc: only the kernel calling a float-atomic device function is listed", repr(pats))
        res.check("via " in out, "-rdc: the table says which function it goes through", out)

    # an ELF file without device code
    rc, out, err = run_scan(args.scripts, [os.path.realpath(sys.executable)])
    res.check(rc == 0 and "no CUDA device code" in out, "host-only ELF: exit 0, 'no CUDA device code'",
              out + err)
    # PTX only: nothing to scan, said so
    ptx = os.path.join(tmp, "ptxonly.fatbin")
    rc, outc = compile_cmd(args.nvcc, ["-fatbin", "-gencode", "arch=compute_90,code=compute_90",
                                       "-o", ptx, b, "-rdc=true"])
    if res.check(rc == 0, "nvcc builds a PTX-only fatbin", outc):
        rc, out, err = run_scan(args.scripts, [ptx])
        res.check(rc == 0 and "only PTX" in out, "PTX-only fatbin: exit 0, 'only PTX'", out + err)
    return res.finish()


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("errors", "kernels"))
    p.add_argument("--scripts", required=True, help="the scripts/ directory (holds detshimtool)")
    p.add_argument("--source", help="tests/scan/kernels.cu")
    p.add_argument("--nvcc", default="")
    p.add_argument("--workdir", help="where to build (default: a temporary directory)")
    args = p.parse_args(argv)
    res = Results()
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="scan-test-", dir=args.workdir)
    try:
        if args.mode == "errors":
            test_errors(args.scripts, res, tmp)
            return res.finish()
        return test_kernels(args, res, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
