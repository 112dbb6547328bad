#!/usr/bin/env bash
# The installed tree and its modulefiles, loaded by a real Lmod.
#
# Configures, builds and installs the project into a temporary prefix (meson setup
# --prefix=$tmp/prefix -Dtests=false; a few seconds), then, in clean shells
# (env -i ... bash --noprofile --norc) with Lmod initialised non-interactively from
# its init/bash, loads detshim and detshim-preload in both formats (Lua from
# share/modulefiles, Tcl from share/modulefiles-tcl) and checks PATH, MANPATH,
# DETSHIM_LIB, LD_PRELOAD, and that a program started under detshim-preload is seen by
# the shim (its enforce-mode pin NCCL_ALGO=Ring).
#
# Environment (meson test passes them): DETSHIM_SRC (source tree), DETSHIM_TOOLKIT_INC
# (the CUDA include directory the outer build used), MESON (meson), PYTHON3.
# Exit 77 (skipped) when Lmod is not installed (Debian: apt-get install lmod).
set -u

src=${DETSHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
meson=${MESON:-meson}
python3=${PYTHON3:-/usr/bin/python3}

lmod_init=
for f in ${LMOD_PKG:+"$LMOD_PKG/init/bash"} /usr/share/lmod/lmod/init/bash \
         /opt/apps/lmod/lmod/init/bash /usr/local/lmod/lmod/init/bash; do
    if [ -r "$f" ]; then lmod_init=$f; break; fi
done
if [ -z "$lmod_init" ]; then
    echo "SKIP: Lmod is not installed (Debian: apt-get install lmod)"
    exit 77
fi

pass=0
fail=0
ok() {   # ok CONDITION-STATUS DESCRIPTION [DETAIL-FILE]
    if [ "$1" -eq 0 ]; then
        pass=$((pass + 1)); echo "ok   $2"
    else
        fail=$((fail + 1)); echo "FAIL $2"
        if [ -n "${3:-}" ] && [ -r "$3" ]; then sed 's/^/     | /' "$3" | head -40; fi
    fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/detshim-modtest-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# ---- build and install into the temporary prefix -------------------------------------------
inc_arg=()
if [ -n "${DETSHIM_TOOLKIT_INC:-}" ]; then inc_arg=("-Dtoolkit_include_dir=$DETSHIM_TOOLKIT_INC"); fi
if ! "$meson" setup "$tmp/build" "$src" --prefix="$prefix" -Dtests=false "${inc_arg[@]}" \
        >"$tmp/setup.log" 2>&1; then
    ok 1 "meson setup into a temporary prefix" "$tmp/setup.log"; finish
fi
if ! "$meson" install -C "$tmp/build" >"$tmp/install.log" 2>&1; then
    ok 1 "meson install (builds first)" "$tmp/install.log"; finish
fi
ok 0 "meson setup + install into $prefix"

libdir=$(cd "$tmp/build" && "$meson" introspect --buildoptions | "$python3" -c \
    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
lib=$prefix/$libdir/libdetshim.so
version=$(cd "$tmp/build" && "$meson" introspect --projectinfo | "$python3" -c \
    'import json,sys; print(json.load(sys.stdin)["version"])')

for f in "$lib" "$prefix/bin/detshim" "$prefix/share/man/man1/detshim.1" \
         "$prefix/share/detshim/python/detshimtool/cli.py" \
         "$prefix/share/modulefiles/detshim/$version.lua" \
         "$prefix/share/modulefiles/detshim-preload/$version.lua" \
         "$prefix/share/modulefiles-tcl/detshim/$version" \
         "$prefix/share/modulefiles-tcl/detshim-preload/$version"; do
    [ -f "$f" ]; ok $? "installed: ${f#"$prefix"/}"
done
[ -x "$prefix/bin/detshim" ]; ok $? "bin/detshim is executable"
grep -q "@" "$prefix/share/modulefiles/detshim/$version.lua" "$prefix/share/modulefiles-tcl/detshim/$version" \
    "$prefix/bin/detshim"
[ $? -ne 0 ]; ok $? "no @VARIABLE@ left unsubstituted"

# the installed command uses the installed library
env -i HOME="$tmp" PATH="$(dirname "$python3"):/usr/bin:/bin" "$prefix/bin/detshim" --version >"$tmp/v.out" 2>&1
grep -qx "library: $lib" "$tmp/v.out"; ok $? "installed detshim --version names the installed library" "$tmp/v.out"
env -i HOME="$tmp" PATH="$(dirname "$python3"):/usr/bin:/bin" "$prefix/bin/detshim" run -- "$python3" -c \
    'import os; print(os.environ.get("NCCL_ALGO"), os.environ.get("LD_PRELOAD"))' >"$tmp/r.out" 2>&1
grep -qx "Ring $lib" "$tmp/r.out"; ok $? "installed detshim run preloads the installed library" "$tmp/r.out"

# ---- Lmod --------------------------------------------------------------------------------------
# lmod_shell NAME: run stdin as a bash script in a clean environment with Lmod set up;
# output in $tmp/NAME.out and $tmp/NAME.err.
mkdir -p "$tmp/home"
# the clean shells' PATH: the system directories, and the one of the Python under test
# (the installed detshim starts with #!/usr/bin/env python3)
base_path=/usr/bin:/bin
case ":$base_path:" in *":$(dirname "$python3"):"*) ;; *) base_path=$(dirname "$python3"):$base_path;; esac
lmod_shell() {
    env -i HOME="$tmp/home" USER="${USER:-root}" PATH="$base_path" TERM=dumb \
        LMOD_INIT="$lmod_init" PREFIX="$prefix" LIB="$lib" PY="$python3" OTHER="$tmp/other/libother.so" \
        bash --noprofile --norc -s >"$tmp/$1.out" 2>"$tmp/$1.err"
}
has() {   # has NAME 'exact line' DESCRIPTION
    grep -qxF -- "$2" "$tmp/$1.out"; ok $? "$3" "$tmp/$1.out"
}
mkdir -p "$tmp/other" && cp "$lib" "$tmp/other/libother.so"

for fmt in lua tcl; do
    if [ $fmt = lua ]; then mp=$prefix/share/modulefiles; else mp=$prefix/share/modulefiles-tcl; fi
    name=plain-$fmt
    lmod_shell $name <<EOF
source "\$LMOD_INIT"
module use "$mp"
module load detshim || echo "LOAD FAILED"
echo "PATH1=\${PATH%%:*}"
echo "DETSHIM_LIB=\${DETSHIM_LIB-unset}"
echo "LD_PRELOAD=\${LD_PRELOAD-unset}"
case ":\${MANPATH-}:" in *":\$PREFIX/share/man:"*) echo "MANPATH has mandir";; esac
echo "which=\$(command -v detshim)"
detshim --version
"\$PY" -c 'import os; print("pin=%s" % os.environ.get("NCCL_ALGO"))'
module unload detshim
echo "after unload: PATH=\$PATH DETSHIM_LIB=\${DETSHIM_LIB-unset}"
EOF
    has $name "PATH1=$prefix/bin" "$fmt detshim: bindir first on PATH"
    has $name "DETSHIM_LIB=$lib" "$fmt detshim: DETSHIM_LIB is the installed library"
    has $name "LD_PRELOAD=unset" "$fmt detshim: LD_PRELOAD untouched"
    has $name "MANPATH has mandir" "$fmt detshim: mandir on MANPATH"
    has $name "which=$prefix/bin/detshim" "$fmt detshim: the detshim command is the installed one"
    has $name "library: $lib" "$fmt detshim: detshim --version under the module"
    has $name "pin=None" "$fmt detshim: nothing preloaded, no pin"
    has $name "after unload: PATH=$base_path DETSHIM_LIB=unset" "$fmt detshim: unload restores the environment"
    ! grep -q "LOAD FAILED" "$tmp/$name.out"; ok $? "$fmt detshim: module load succeeds" "$tmp/$name.err"

    name=preload-$fmt
    lmod_shell $name <<EOF
source "\$LMOD_INIT"
module use "$mp"
module load detshim-preload || echo "LOAD FAILED"
echo "LD_PRELOAD=\${LD_PRELOAD-unset}"
echo "DETSHIM_LIB=\${DETSHIM_LIB-unset}"
echo "PATH1=\${PATH%%:*}"
"\$PY" -c 'import os; print("pin=%s" % os.environ.get("NCCL_ALGO"))'
detshim run --print-env -- true | grep '^LD_PRELOAD='
module list 2>&1 | grep -o 'detshim-preload/[0-9.]*' | sed 's/^/listed=/'
module help detshim-preload 2>&1 | grep -q LD_PRELOAD && echo "help mentions LD_PRELOAD"
module unload detshim-preload
echo "after unload: LD_PRELOAD=\${LD_PRELOAD-unset}"
"\$PY" -c 'import os; print("pin after unload=%s" % os.environ.get("NCCL_ALGO"))'
export LD_PRELOAD="\$OTHER"
module load detshim-preload
echo "stacked: LD_PRELOAD=\$LD_PRELOAD"
"\$PY" -c 'import os; print("stacked pin=%s" % os.environ.get("NCCL_ALGO"))'
module unload detshim-preload
echo "stacked after unload: LD_PRELOAD=\${LD_PRELOAD-unset}"
EOF
    has $name "LD_PRELOAD=$lib" "$fmt detshim-preload: LD_PRELOAD is the installed library (absolute)"
    has $name "DETSHIM_LIB=$lib" "$fmt detshim-preload: DETSHIM_LIB set"
    has $name "PATH1=$prefix/bin" "$fmt detshim-preload: bindir on PATH"
    has $name "pin=Ring" "$fmt detshim-preload: a program started under the module is seen by the shim"
    has $name "LD_PRELOAD=$lib" "$fmt detshim-preload: detshim run does not preload the library twice"
    has $name "listed=detshim-preload/$(echo "$version")" "$fmt detshim-preload: module list shows it"
    has $name "help mentions LD_PRELOAD" "$fmt detshim-preload: module help explains the preload"
    has $name "after unload: LD_PRELOAD=unset" "$fmt detshim-preload: unload removes the preload"
    has $name "pin after unload=None" "$fmt detshim-preload: after unload programs run without the shim"
    has $name "stacked: LD_PRELOAD=$lib:$tmp/other/libother.so" "$fmt detshim-preload: prepended to an existing LD_PRELOAD"
    has $name "stacked pin=Ring" "$fmt detshim-preload: stacked preload works"
    has $name "stacked after unload: LD_PRELOAD=$tmp/other/libother.so" "$fmt detshim-preload: unload keeps the other entry"
    ! grep -qiE "syntax error|unbound variable|lmod has detected the following error" "$tmp/$name.err"
    ok $? "$fmt detshim-preload: no shell or Lmod errors while the library is preloaded" "$tmp/$name.err"
done

# Lua: detshim and detshim-preload are one family: loading one replaces the other
lmod_shell family <<EOF
source "\$LMOD_INIT"
module use "$prefix/share/modulefiles"
module load detshim
module load detshim-preload
module -t list 2>&1 | sed 's/^/loaded=/'
echo "LD_PRELOAD=\${LD_PRELOAD-unset}"
EOF
has family "loaded=detshim-preload/$version" "lua: detshim-preload replaces detshim (family)"
! grep -qx "loaded=detshim/$version" "$tmp/family.out"; ok $? "lua: detshim is no longer loaded" "$tmp/family.out"
has family "LD_PRELOAD=$lib" "lua: after the swap the library is preloaded"

finish
