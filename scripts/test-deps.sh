#!/bin/bash
# Installs what building and testing libdetshim needs on a fresh Debian/Ubuntu machine
# (run as root). Only CUDA headers are used, no GPU and no CUDA library: those of a toolkit
# in /usr/local/cuda (or CUDA_PATH), else the build fetches CUDA 13's from NVIDIA's wheels
# on PyPI (scripts/fetch-cuda-headers.sh; run-tests.sh fetches CUDA 12.4's for its CUDA 12
# build the same way). The suite `real` runs against real CUDA 13 libraries when present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    meson ninja-build pkg-config gcc libc6-dev libunwind-dev check jq ca-certificates \
    python3 python3-torch valgrind lmod binutils clang libclang-rt-14-dev >/dev/null
# cuobjdump + nvdisasm for the SASS scanner tests (the toolkit here ships without them;
# `cuobjdump -sass` needs nvdisasm). Both land in site-packages/nvidia/cu13/bin.
PY=$(command -v python3)
if ! "$PY" -c 'import nvidia, os, sys; d = os.path.join(list(nvidia.__path__)[0], "cu13", "bin"); sys.exit(not all(os.path.exists(os.path.join(d, t)) for t in ("cuobjdump", "nvdisasm")))' 2>/dev/null; then
    "$PY" -m pip install -q nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm 2>/dev/null ||
        "$PY" -m pip install -q --break-system-packages nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm ||
        echo "test-deps: could not install cuobjdump/nvdisasm from PyPI; the scanner test will be skipped" >&2
fi
# TensorFlow (CPU) for the tf layer's real-TF test, in its own venv so Debian's python3 and
# its torch stay untouched (about 1.6 GB, under a minute here). Idempotent; a failure only
# skips that test.
TF_VENV=${DETSHIM_TF_VENV:-/opt/detshim-tf}
if ! "$TF_VENV/bin/python" -c 'import tensorflow' >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1 || true
    { /usr/bin/python3 -m venv "$TF_VENV" && "$TF_VENV/bin/pip" install -q tensorflow-cpu >/dev/null 2>&1; } ||
        echo "test-deps: could not install tensorflow-cpu into $TF_VENV; the tf_real test will be skipped" >&2
fi
# DeePMD-kit in the same venv, for the CPU `dp --tf train` comparison (tf_dp_train)
if [ -x "$TF_VENV/bin/python" ] && ! "$TF_VENV/bin/python" -c 'import deepmd' >/dev/null 2>&1; then
    "$TF_VENV/bin/pip" install -q deepmd-kit >/dev/null 2>&1 ||
        echo "test-deps: could not install deepmd-kit into $TF_VENV; the tf_dp_train test will be skipped" >&2
fi
