#!/bin/bash
# prepare.sh: build what the GPU machine needs into one directory (carried there):
#   tests/gpu/prepare.sh [DIR]     (default build-gpu)
# The library, the probes (nvcc, no GPU needed), the libraries the GPU machine lacks
# (libunwind), the workload and the check scripts. Then, on the GPU machine:
#   tests/gpu/device_check.sh DIR "$OUT"     (everything), or
#   tests/gpu/measure.sh DIR "$OUT"          (mini_dp timings and detshim doctor, ~6 min)
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
ls "$DIR"/probes/atomic_sum >/dev/null 2>&1 || echo "prepare.sh: no probes built (nvcc not found): doctor will show n/a rows" >&2
du -sh "$DIR" | cut -f1
