# lib_roads.sh: what the roads tests share, on top of tests/preload/lib.sh. The shim's dlsym
# is x86-64 only (shim/hooks/dlsym.c): elsewhere these tests skip.
. "$(dirname "$0")/../preload/lib.sh"
if [ "$(uname -m)" != x86_64 ]; then echo "dlsym is interposed on x86-64 only"; rm -rf "$T"; exit 77; fi
unset CUBLAS_WORKSPACE_CONFIG DETSHIM_CUBLAS_WORKSPACE_SIZE DETSHIM_ALLOW DETSHIM_DENY DETSHIM_KERNELS
# where NAME: the object the program's dlsym answer lives in
where() { sed -n "s/^where $1 //p" out | head -n1; }
status() { sed -n "s/^$1 status=//p" out | head -n1; }
calls() { q "select(.type==\"summary\")|.calls.$1 // 0"; }
ev() { q "select(.type==\"event\" and .symbol==\"$1\")|.action" | tr '\n' ' ' | sed 's/ $//'; }
