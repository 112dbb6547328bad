#!/bin/bash
# Installs what building and testing libdetshim needs on a fresh Debian/Ubuntu machine
# (run as root). The CUDA toolkit headers are expected in /usr/local/cuda (or CUDA_PATH):
# only headers are used; no GPU and no CUDA library is needed to build or test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    meson ninja-build pkg-config gcc libc6-dev libunwind-dev check jq \
    python3 python3-torch valgrind lmod binutils clang libclang-rt-14-dev >/dev/null
# cuobjdump for the SASS scanner tests (the toolkit here ships without it).
PY=$(command -v python3)
if ! "$PY" -c 'import nvidia' 2>/dev/null || [ -z "$(find "$("$PY" -c 'import nvidia,os;print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)" -name cuobjdump -type f 2>/dev/null | head -n1)" ]; then
    "$PY" -m pip install -q nvidia-cuda-cuobjdump 2>/dev/null ||
        "$PY" -m pip install -q --break-system-packages nvidia-cuda-cuobjdump ||
        echo "test-deps: could not install nvidia-cuda-cuobjdump; the scanner tests will be skipped" >&2
fi
