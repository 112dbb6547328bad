#!/bin/bash
# The kernels layer on a real GPU (not part of meson test: needs a GPU and nvcc).
#   tests/layers/kernels/gpu/run.sh BUILD_DIR [OUT_DIR]
# Checks: nvcc's <<<>>> launches are seen through __cudaLaunchKernel and named by
# cudaFuncGetName (log mode); a built-in-database kernel and a DETSHIM_DENY kernel are
# recorded once per call site; a cuLaunchKernel pointer from cudaGetDriverEntryPointByVersion
# is wrapped; strict mode refuses them (800 from cudaGetLastError and from the pointer) while
# clean kernels run; the launch cost with and without the shim; and, when torch and
# ../shared/workloads/mini_dp.py are there, that mini_dp in log mode records
# indexFuncLargeIndex<..., ReduceAdd> and in enforce mode launches no listed kernel.
# If the machine lacks libunwind, put a libunwind.so.8 in BUILD_DIR/gpu/lib.
set -u
B=$(cd "${1:?usage: run.sh BUILD_DIR [OUT_DIR]}" && pwd); OUT=${2:-${OUT:-$PWD/kernels-gpu-out}}
SRC=$(cd "$(dirname "$0")" && pwd); DP=$SRC/../../../../shared/workloads/mini_dp.py
export LD_LIBRARY_PATH=$B/gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
SHIM=$B/shim/libdetshim.so
mkdir -p "$OUT" && cd "$OUT" || exit 1
nvidia-smi -L; ldd "$SHIM" | grep -i "not found"
/usr/local/cuda/bin/nvcc -O2 --cudart shared -arch=sm_90 -o kprobe "$SRC/kprobe.cu" -lcuda || exit 1
echo "== log"
DETSHIM_MODE=log DETSHIM_DENY='*atomic_sum_kernel*' DETSHIM_LOG=$OUT/log-%p.jsonl LD_PRELOAD=$SHIM ./kprobe check
jq -c 'select(.type=="event")|[.symbol,.kernel,.via,.reason_source,.stack[1].function,.count]' log-*.jsonl
echo "== strict"
DETSHIM_MODE=strict DETSHIM_LOG=$OUT/strict-%p.jsonl LD_PRELOAD=$SHIM ./kprobe check 2> strict_err.txt
head -c 1500 strict_err.txt
echo "== launch cost (batches of 256, enqueue time only; compare plain / enforce / off)"
for i in 1 2 3; do
    ./kprobe bench 102400
    DETSHIM_MODE=enforce DETSHIM_LOG=$OUT/b-%p.jsonl LD_PRELOAD=$SHIM ./kprobe bench 102400
    DETSHIM_MODE=off LD_PRELOAD=$SHIM ./kprobe bench 102400
done
[ -f "$DP" ] || exit 0
echo "== mini_dp, log mode, 3 steps"
DETSHIM_MODE=log DETSHIM_LOG=$OUT/dp-%p.jsonl LD_PRELOAD=$SHIM python3 "$DP" --steps 3 --print-every 1 > dp.txt 2>&1
jq -c 'select(.type=="event" and .layer=="kernels")|[.symbol,(.kernel|.[0:110]),.count,.stack[1].function]' dp-*.jsonl
echo "== mini_dp, enforce mode, 3 steps"
DETSHIM_LOG=$OUT/dpe-%p.jsonl LD_PRELOAD=$SHIM python3 "$DP" --steps 3 --print-every 1 > dpe.txt 2>&1
echo "kernels events in enforce mode: $(jq -s '[.[]|select(.type=="event" and .layer=="kernels")]|length' dpe-*.jsonl)"
