#!/bin/bash
# A machine with no CUDA toolkit: scripts/fetch-cuda-headers.sh takes the headers from
# NVIDIA's wheels on a PyPI index (here fake_index.py on 127.0.0.1, offline), reading only
# the headers by range requests; every failure (index unreachable, a package missing, a
# server error, a bad argument) ends with one clear line and no traceback; and `meson setup`
# with no toolkit fetches the headers and configures, or, when fetching fails, stops with a
# message that says what to do.
. "$PRELOAD_LIB"
F=$SRC/scripts/fetch-cuda-headers.sh
PORTS=()
# serve NAME [ENV...]: a fake index in the background; its port in $PORT, bytes sent in NAME.sent
serve() {
    local n=$1; shift
    rm -f "$n.port" "$n.sent"
    env "$@" "$PYTHON" "$(dirname "$0")/fake_index.py" "$F" "$T/$n.sent" > "$n.port" 2> "$n.err" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$n.port" ] && break; sleep 0.1; done
    PORT=$(cat "$n.port")
}
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null' EXIT
cd "$T"
serve ok
IDX=http://127.0.0.1:$PORT/simple
for major in 13 12; do
    PIP_INDEX_URL=$IDX sh "$F" $major "$T/h$major" > out$major 2> err$major; rc=$?
    check "CUDA $major: fetched (exit 0), prints the include folder" [ $rc -eq 0 -a "$(cat out$major)" = "$T/h$major/include" ]
    pins=$(grep -o "nvidia-[a-z0-9-]*==[0-9.a-z]*" "$F" | sed -n "$([ $major = 13 ] && echo 1,6p || echo 7,12p)")
    bad=
    for pin in $pins; do
        case $pin in *cccl*) continue ;; esac # only its nv/ (below)
        mod=$(echo "${pin%%==*}" | tr - _)
        grep -qxF "/* ${pin%%==*} ${pin##*==} */" "$T/h$major/include/$mod.h" || bad="$bad $mod.h"
        [ -f "$T/h$major/include/sub/${mod}_more.h" ] || bad="$bad sub/${mod}_more.h"
    done
    check "CUDA $major: every pinned package's headers, subfolders kept ($(echo $pins | wc -w) packages)" [ -z "$bad" -a "$(echo $pins | wc -w)" = 6 ]
    check "CUDA $major: cccl gives only nv/, without its cccl/ prefix" \
        [ -f "$T/h$major/include/nv/target" -a ! -e "$T/h$major/include/cuda/std/tuple" -a ! -e "$T/h$major/include/cccl" ]
    check "CUDA $major: one line per package on stderr" [ "$(grep -c 'headers$' err$major)" = 6 ]
done
# the wheels are 1 MiB of library each: reading the headers must not download it
check "only the headers are downloaded: under 200 KiB per wheel, 12 wheels" \
    [ "$(awk '$1 ~ /^\/files\// {b[$1] += $3} END {n = 0; for (k in b) if (b[k] < 204800) n++; print n}' ok.sent)" = 12 ]
# failures: a last line naming the package, the index and the reason; no traceback
fails() { ! grep -q Traceback "$1" && [ "$(grep -vc 'headers$' "$1")" = 1 ]; }
serve missing FAKE_INDEX_MISSING=nvidia-cublas
PIP_INDEX_URL=http://127.0.0.1:$PORT/simple sh "$F" 13 "$T/m" > out 2> err; rc=$?
check "a package missing from the index: exit 1, one line naming it" \
    [ $rc -eq 1 -a "$(grep -v 'headers$' err)" = "fetch-cuda-headers: cannot fetch nvidia-cublas==13.1.0.3 from http://127.0.0.1:$PORT/simple: HTTP 404 Not Found (http://127.0.0.1:$PORT/simple/nvidia-cublas/)" ]
serve fail FAKE_INDEX_FAIL=nvidia-cudnn-cu13
PIP_INDEX_URL=http://127.0.0.1:$PORT/simple sh "$F" 13 "$T/f" > out 2> err; rc=$?
check "a server error on a wheel: exit 1, one line" \
    eval '[ $rc -eq 1 ] && tail -1 err | grep -F "cannot fetch nvidia-cudnn-cu13==9.19.0.56" err | grep -qF "HTTP 500" && fails err'
kill "${PIDS[@]}" 2>/dev/null
PIP_INDEX_URL=http://127.0.0.1:$PORT/simple sh "$F" 13 "$T/u" > out 2> err; rc=$?
check "an unreachable index: exit 1, one line with the reason" \
    eval '[ $rc -eq 1 ] && grep -qF "cannot fetch nvidia-cuda-runtime==13.0.96 from http://127.0.0.1:$PORT/simple: [Errno 111] Connection refused" err && fails err'
sh "$F" 11 "$T/x" > out 2> err; rc=$?
check "a MAJOR other than 12 or 13: exit 2, says so" [ $rc -eq 2 -a "$(cat err)" = "fetch-cuda-headers.sh: MAJOR must be 12 or 13" ]
sh "$F" > out 2> err; rc=$?
check "no arguments: the usage" eval '[ $rc -ne 0 ] && grep -qF "usage: fetch-cuda-headers.sh 12|13 DEST" err'

# meson setup on a machine with no toolkit (CUDA_PATH an empty folder). Where the compiler
# finds CUDA headers on its own (/usr/local/include), "none found" cannot be staged: the
# fetch is then asked for (-Dfetch_cuda_headers=enabled), which takes the same road.
mkdir -p empty
# setup DIR OPTIONS...
setup() { local d=$1; shift; CUDA_PATH=$T/empty CUDA_HOME= meson setup "$@" "$d" "$SRC" > setup.out 2>&1; }
if echo '#include <cuda.h>' | gcc -E -x c - > /dev/null 2>&1; then
    FETCH=-Dfetch_cuda_headers=enabled
    echo "skip - no toolkit and fetching disabled: the compiler finds cuda.h by itself here"
else
    FETCH=-Dfetch_cuda_headers=auto
    setup b2 -Dtests=false -Dfetch_cuda_headers=disabled; rc=$?
    check "no toolkit and fetching disabled: configure stops naming the missing headers" \
        eval '[ $rc -ne 0 ] && grep -qF "CUDA header(s) cuda.h cuda_runtime_api.h cublas_api.h cublasLt.h cudnn.h not found in $T/empty/include" setup.out'''
fi
PIP_INDEX_URL=http://127.0.0.1:$PORT/simple setup b1 -Dtests=false $FETCH; rc=$?
check "meson setup, no toolkit, fetching fails: configure stops" [ $rc -ne 0 ]
check "... saying the fetch failed, why, and what to do instead" \
    eval 'grep -q "fetching the CUDA headers failed (no network?)" setup.out && grep -qF "Connection refused" setup.out &&
          grep -qF "set CUDA_PATH or CUDA_HOME, or configure with -Dtoolkit_include_dir=" setup.out'''
if [ -f "$TOOLKIT_INC/cudnn.h" ]; then
    # the fake runtime wheel carries the real headers these five include (gcc -M says which)
    hdrs=$(printf '#include <%s>\n' cuda.h cuda_runtime_api.h cublas_api.h cublasLt.h cudnn.h |
           gcc -M -DCUBLASAPI= -I"$TOOLKIT_INC" -x c - | tr ' \\' '\n\n' | grep "^$TOOLKIT_INC/" | sed "s|^$TOOLKIT_INC/||" | sort -u)
    serve real "FAKE_INDEX_HEADERS=$TOOLKIT_INC $(echo $hdrs)"
    PIP_INDEX_URL=http://127.0.0.1:$PORT/simple setup b3 -Dtests=false $FETCH; rc=$?
    check "meson setup, no toolkit, index reachable: the headers are fetched and configure succeeds" \
        eval '[ $rc -eq 0 -a -f b3/cuda-headers/include/cudnn.h ] && grep -qF "fetching the CUDA 13 headers from PyPI into $T/b3/cuda-headers" setup.out'''
    kill "${PIDS[@]}" 2>/dev/null
    CUDA_PATH=$T/empty CUDA_HOME= PIP_INDEX_URL=http://127.0.0.1:$PORT/simple meson setup --reconfigure b3 "$SRC" > setup.out 2>&1; rc=$?
    check "... once: a reconfigure (index gone) uses what was fetched" eval '[ $rc -eq 0 ] && ! grep -q "fetching the CUDA" setup.out'''
else
    echo "skip - meson setup from fetched headers: no toolkit headers here to serve"
fi
finish
