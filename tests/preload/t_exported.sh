#!/bin/bash
# What a preloaded process exports (README: "What a preloaded process changes"): in enforce
# the NCCL/MKL/OpenMP/cuBLAS pins, never a thread count (an exported OMP_NUM_THREADS sized
# every torchrun rank to the whole node); the CPUs the process may use are in the header.
# Notices made while the constructor runs (DETSHIM_VERBOSE=1: the pins) go to stderr only:
# a program that never touches a GPU library gets no log file, nor does `detshim env`.
. "$(dirname "$0")/lib.sh"
mkdir work && cd work
env -u OMP_NUM_THREADS LD_PRELOAD="$SHIM" env > ../env.out
check "no OMP_NUM_THREADS exported" bash -c "! grep -q '^OMP_NUM_THREADS=' ../env.out"
check "the documented pins are exported" grep -qx "NCCL_ALGO=Ring" ../env.out
DETSHIM_VERBOSE=1 LD_PRELOAD="$SHIM" /bin/true 2> ../err
check "verbose, no GPU: the pins are said on stderr" grep -q "detshim: pinned NCCL_ALGO=Ring" ../err
check "verbose, no GPU: no file in the working directory" [ -z "$(ls -A)" ]
if [ -n "${DETSHIM_CMD:-}" ]; then
    "$DETSHIM_CMD" env > ../envcmd.out 2>&1
    check "detshim env: ran" grep -q "pins" ../envcmd.out
    check "detshim env: no file in the working directory" [ -z "$(ls -A)" ]
fi
cd "$T"
DETSHIM_LOG="$T/log-%p.jsonl" env -u OMP_NUM_THREADS LD_PRELOAD="$SHIM" "$PROGS/core_prog" create 1 > out
check "the header records the CPUs allowed" [ "$(q 'select(.type=="header")|.cpus_allowed')" = "$(nproc)" ]
finish
