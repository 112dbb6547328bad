#!/bin/bash
# The Python stack read without the GIL (shim/core/pyframes.c), per CPython version: each
# of 3.8 to 3.13 found under pyenv ($PYENV_ROOT, ~/.pyenv, /root/.pyenv; versions not
# installed are skipped) and Debian's /usr/bin/python3 run py/nogil.py (hooked calls
# through ctypes.CDLL, which releases the GIL: from a function called in a loop, from a
# generator, from a thread), py/hash_nogil.py (hash mode's trace records, GIL released) and
# py/ctypes_call.py pydll (the GIL held); and embed_prog, which dlopens that version's
# libpython RTLD_LOCAL and calls the hooked function between PyEval_SaveThread and
# PyEval_RestoreThread. No torch needed.
. "$(dirname "$0")/../../preload/lib.sh"
skip_if_sanitized "the CPython builds it embeds are not built with the sanitizer runtime"
N=$TORCH_PY/nogil.py
C=$TORCH_PY/ctypes_call.py
ev() { q "select(.type==\"event\")|$1"; }
line_of() { grep -n "# <- $1\$" "$2" | cut -d: -f1; }
# paths FILE: each event's Python frames in FILE as "line function|..." (sorted)
paths() { ev "[.pystack[]?|select(.file|endswith(\"/$(basename "$1")\"))|\"\\(.line) \\(.function)\"]|join(\"|\")" | sort; }
CREATE=$(line_of CREATE "$N") LOOP=$(line_of LOOP "$N") MAIN=$(line_of MAIN "$N")
GEN=$(line_of GEN "$N") MAINGEN=$(line_of MAINGEN "$N")
H=$TORCH_PY/hash_nogil.py
UPLOAD=$(line_of UPLOAD "$H") FIRST=$(line_of FIRST "$H") SECOND=$(line_of SECOND "$H")

pythons=()
[ -x /usr/bin/python3 ] && pythons+=(/usr/bin/python3)
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv; do
    [ -n "$root" ] && [ -d "$root/versions" ] || continue
    for m in 8 9 10 11 12 13; do
        for p in "$root"/versions/3."$m".*/bin/python3; do
            [ -x "$p" ] && pythons+=("$p")
        done
    done
    break
done
if [ ${#pythons[@]} -eq 0 ]; then echo "no CPython found: skipped"; exit 77; fi

# a thread Python never ran on (Debian's python3 or the first found): a note, naming torch's
# autograd workers as such
NT=$TORCH_PY/native_thread.py
fresh
run_shim "${pythons[0]}" "$NT" "$PROGS/libmiddle.so" > out 2> err
check "native thread: the call went through" grep -qx "status 0" out
check "native thread: no Python stack, a note naming the thread" \
    [ "$(ev '[has("pystack"),.pystack_note]|@tsv')" = "false	no Python on this thread (thread \"$(basename "${pythons[0]}" | cut -c1-15)\"; native stack only)" ]
fresh
run_shim "${pythons[0]}" "$NT" "$PROGS/libmiddle.so" pt_autograd_0 > out 2> err
check "native thread named as torch names its autograd workers: the note says so" \
    [ "$(ev '.pystack_note')" = "no Python on this thread: a torch autograd worker thread (pt_autograd_0) running a backward op (the op is in this event; its forward ran on a Python thread)" ]

for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) || continue
    if ! "$py" -c 'import ctypes' 2>/dev/null; then echo "# $py: no ctypes: skipped"; continue; fi
    fresh
    run_shim "$py" "$N" "$PROGS/libmiddle.so" > out 2> err
    check "$v: the calls went through" grep -qx done out
    check "$v, GIL released: no note, every event has a Python stack" \
        [ "$(ev '[has("pystack_note"),(.pystack|length>0)]|@tsv' | sort -u)" = "false	true" ]
    check "$v, GIL released: the op's line, then the caller's in the loop, then the module's" \
        grep -qx "$CREATE create|$LOOP caller|$MAIN <module>" <(paths "$N")
    check "$v, GIL released: a generator's frame between" \
        grep -qx "$CREATE create|$GEN gen|$MAINGEN <module>" <(paths "$N")
    check "$v, GIL released, another thread: its own frames, down to threading's" \
        [ "$(ev 'select(any(.pystack[]; .function=="_bootstrap"))|[.pystack[0:2][]|"\(.line) \(.function)"]|join("|")')" = "$CREATE create|$LOOP caller" ]
    check "$v: every call counted (7), under one site per Python path" \
        [ "$(q 'select(.type=="summary")|[.sites[]|select(.symbol=="cublasCreate_v2").count]|add')" = 7 ]
    check "$v: nothing on stderr" [ ! -s err ]

    fresh
    DETSHIM_HASH=1 DETSHIM_MODE=log run_shim "$py" "$H" > out 2> err
    check "$v, hash mode, GIL released: the uploads' trace records name their Python lines" \
        [ "$(jq -r 'select(.call=="cudaMemcpy" and .pystack)|[.pystack[0:2][]|"\(.line) \(.function)"]|join("|")' "$T"/log-*.trace.jsonl | sort | tr '\n' ' ')" = "$UPLOAD upload|$FIRST main $UPLOAD upload|$SECOND main " ]

    # embedded: libpython dlopen()ed RTLD_LOCAL by a C program that releases the GIL itself
    read -r libpy home < <("$py" -c 'import os, sys, sysconfig as s; print(os.path.join(s.get_config_var("LIBDIR") or "", s.get_config_var("INSTSONAME") or "-"), sys.base_prefix)')
    if [ -f "$libpy" ]; then
        fresh
        PYTHONHOME=$home run_shim "$EMBED_PROG" "$libpy" "$PROGS/libmiddle.so" > out 2> err
        check "$v, embedded, libpython RTLD_LOCAL, GIL released by PyEval_SaveThread: the frames" \
            [ "$(grep -x 'status 0' out)|$(ev '[.pystack[]|"\(.file):\(.line) \(.function)"]|join("|")')" = "status 0|<string>:2 inner|<string>:4 outer|<string>:5 <module>" ]
        fresh
        PYTHONHOME=$home run_shim "$EMBED_PROG" "$libpy" "$PROGS/libmiddle.so" early > out 2> err
        check "$v, embedded, a hooked call before libpython was loaded: Python found later all the same" \
            [ "$(ev '[.pystack[]?|"\(.line) \(.function)"]|join("|")' | sort | tr '\n' ' ')" = " 2 inner|4 outer|5 <module> " ]
    else
        echo "# $v: no shared libpython ($libpy): the embedded case skipped"
    fi

    fresh
    run_shim "$py" "$C" "$PROGS/libmiddle.so" pydll > out 2> err
    check "$v, GIL held (ctypes.PyDLL): the same frames" \
        [ "$(ev '[.pystack[]|"\(.line) \(.function)"]|join("|")')" = "$(line_of CREATE "$C") create|$(line_of MAIN "$C") <module>" ]
done
finish
