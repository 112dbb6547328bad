#!/bin/bash
# prepare.sh: build what the GPU machine needs into one directory (carried there):
#   tests/gpu/prepare.sh [DIR]     (default build-gpu)
# The library, the probes (nvcc, no GPU needed), the libraries the GPU machine lacks
# (libunwind), the workload and the check scripts. Then, on the GPU machine:
#   tests/gpu/device_check.sh DIR "$OUT"
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-build-gpu}
[ -d "$DIR" ] || meson setup "$DIR" -Dtests=false >/dev/null
ninja -C "$DIR" >/dev/null
mkdir -p "$DIR/deps"
for lib in $(ldd "$DIR/shim/libdetshim.so" | awk '/libunwind|liblzma/ {print $3}'); do cp -L "$lib" "$DIR/deps/"; done
cp tests/gpu/conv_check.py "$DIR/"
W=${MINI_DP:-../shared/workloads/mini_dp.py}
[ -f "$W" ] && cp "$W" "$DIR/mini_dp.py"
du -sh "$DIR" | cut -f1
