"""Shared pieces: the error type every subcommand raises, the names the shim knows,
and small text helpers.  Nothing here imports a module outside the standard library."""

import os
import re
import sys

# Exit codes of the detshim command.
EXIT_OK = 0
EXIT_DIFFERENT = 1     # check / diff: something differs
EXIT_USAGE = 2         # bad argument, unreadable or corrupt input, a run that failed
EXIT_INTERNAL = 70     # a bug in detshim itself (EX_SOFTWARE)

# DETSHIM_MODE values (shim/core/config.c).
MODES = ("off", "log", "enforce", "strict")

# Layer names DETSHIM_DISABLE accepts (shim/table/layers.def; tests/cli checks they agree).
LAYERS = ("kernels", "cublas", "cublaslt", "cudnn", "torch", "env", "hash", "tf")

# Environment variables the shim pins in enforce/strict mode (shim/core/pins.def, PIN and
# PIN_OPTIN; tests/cli checks they agree).
PIN_VARS = ("CUBLAS_WORKSPACE_CONFIG", "NCCL_ALGO", "NCCL_PROTO", "NCCL_NVLS_ENABLE", "MKL_CBWR",
            "MKL_DYNAMIC", "OMP_DYNAMIC")

# Environment variables the shim records as determinism-relevant (shim/core/fingerprint.c).
DETERMINISM_ENV = (
    "CUBLAS_WORKSPACE_CONFIG", "CUBLASLT_WORKSPACE_SIZE", "CUDA_VISIBLE_DEVICES",
    "CUDA_LAUNCH_BLOCKING", "CUDA_DEVICE_ORDER", "CUDA_MODULE_LOADING", "NVIDIA_TF32_OVERRIDE",
    "CUDNN_LIB_CONFIG", "NCCL_ALGO", "NCCL_PROTO", "NCCL_NVLS_ENABLE", "NCCL_MIN_NCHANNELS",
    "NCCL_MAX_NCHANNELS", "MKL_CBWR", "MKL_DYNAMIC", "MKL_NUM_THREADS", "OMP_DYNAMIC",
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED",
    "TORCH_CUDNN_V8_API_DISABLED", "TORCH_BLAS_PREFER_CUBLASLT", "TORCH_CUBLAS_WORKSPACE_CACHE",
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "DP_INTERFACE_PREC", "NUM_WORKERS", "LD_PRELOAD",
    "DETSHIM_MODE", "DETSHIM_DISABLE", "DETSHIM_LOG", "DETSHIM_KERNELS", "DETSHIM_ALLOW",
    "DETSHIM_DENY", "DETSHIM_HASH", "DETSHIM_PEDANTIC_MATH", "DETSHIM_CUBLAS_WORKSPACE_SIZE",
    "DETSHIM_CUBLASLT_ALIGNMENT", "DETSHIM_CUBLASLT_REDUCTION",
    # DeePMD-kit and TensorFlow: which backend, precision, threads and op paths run
    "DP_BACKEND", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS",
    "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS",
    "TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS", "XLA_FLAGS")


class DetshimError(Exception):
    """An error the user can act on: printed as one line, exit code `code`."""

    def __init__(self, message, code=EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def warn(prog, message):
    sys.stderr.write("%s: warning: %s\n" % (prog, message))


def note(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def shorten(text, width=100):
    """One line, at most `width` characters, with an ellipsis when cut."""
    text = str(text).replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= width else text[: width - 3] + "..."


def quote(text, width=80):
    """A value shown inside a sentence: repr-like, cut to width."""
    return repr(shorten(text, width)) if isinstance(text, str) else shorten(repr(text), width)


def table(rows, header, out, indent=""):
    """Print rows (lists of strings) as columns; the last column is never padded."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in header]
    for r in rows:
        for i, c in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(c))

    def line(cells):
        parts = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])] + [cells[-1]]
        out.write((indent + "  ".join(parts)).rstrip() + "\n")

    line(list(header))
    for r in rows:
        line(r)


def cuda_version(v):
    """CUDA's integer version (12080) as text ('12.8'); other values unchanged."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 1000:
        return "%d.%d" % (v // 1000, (v % 1000) // 10)
    return "unknown" if v is None else str(v)


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{8,}\b")


def without_addresses(text):
    """A detail with its addresses (hex numbers of 8 or more digits: handles, pointers)
    replaced by 0x..., so that the same call in two runs (other ASLR, other heap) compares
    equal."""
    return _ADDRESS.sub("0x...", text) if isinstance(text, str) else text


def clip_pair(a, b, width):
    """Two long values, cut so that where they differ stays visible."""
    a, b = str(a), str(b)
    if len(a) <= width and len(b) <= width:
        return a, b
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    start = max(0, p - width // 3)

    def cut(s):
        s2 = ("..." if start else "") + s[start:]
        return s2 if len(s2) <= width else s2[: width - 3] + "..."
    return cut(a), cut(b)


def is_readable_file(path):
    return os.path.isfile(path) and os.access(path, os.R_OK)
