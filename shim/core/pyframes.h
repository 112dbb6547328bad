/* pyframes.h: reading a CPython thread's frame chain without its GIL (pyframes.c).
 *
 * Per CPython version, the offsets of the few fields a walk needs (thread state -> frame
 * chain -> code object -> names and line table), taken from each version's own headers
 * (scripts/pyoffsets.c prints a row). Every load goes through a checked read that fails
 * on an unmapped address instead of faulting; nothing is allocated, no reference count
 * touched, no lock taken. */
#ifndef DETSHIM_PYFRAMES_H
#define DETSHIM_PYFRAMES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds_pyver {
    int major, minor;
    int ts_frame;   /* PyThreadState: frame (3.8-3.10), cframe (3.11-3.12), current_frame (3.13) */
    int cf_current; /* _PyCFrame.current_frame (3.11-3.12), else -1 */
    int f_back, f_code, f_instr; /* frame: previous, code (f_executable), f_lasti / instr ptr */
    int f_owner;                 /* _PyInterpreterFrame.owner (3.11+), else -1 */
    int co_filename, co_name, co_firstlineno, co_lines; /* co_lines: co_lnotab / co_linetable */
    int co_code, co_firsttraceable; /* co_code_adaptive, _co_firsttraceable (3.11+), else -1 */
    int bytes_data;                  /* PyBytesObject.ob_sval */
    int str_state, str_ascii, str_compact; /* PyASCIIObject.state, its size, PyCompactUnicodeObject's */
};

/* The row for a running Python (major.minor), or NULL when this shim has none. */
const struct ds_pyver *ds_pyver_find(int major, int minor);

/* The type objects a walk checks its objects against (PyCode_Type, PyUnicode_Type,
 * PyBytes_Type of the running Python). */
struct ds_pytypes {
    const void *code, *unicode, *bytes;
};

/* One frame: its code object and the byte offset of its current instruction (-1: not
 * started). */
struct ds_pyframe {
    const void *code;
    long addr;
};

/* Reads up to max frames of the thread state tstate, innermost first. Returns how many,
 * or -1 when the chain failed a check (an unmapped address, an object of the wrong type,
 * a chain longer than any real one): then nothing read may be trusted. */
int ds_pyframes_read(const struct ds_pyver *v, const struct ds_pytypes *t, const void *tstate,
                     struct ds_pyframe *out, int max);

/* A hash (with mix) of the code object and instruction of up to max innermost frames: one
 * checked read per frame, nothing else checked; 0 when there are none. For call-site ids. */
uint64_t ds_pyframes_key(const struct ds_pyver *v, const void *tstate, int max,
                         uint64_t (*mix)(const void *, size_t, uint64_t));

/* The line of a frame (from the code object's line table), or -1. */
int ds_pyframe_line(const struct ds_pyver *v, const struct ds_pytypes *t,
                    const struct ds_pyframe *f);

/* A string field of a code object (co_filename or co_name offset), as UTF-8 into buf
 * (NUL-terminated, cut on a character boundary at cap - 1 bytes). false if unreadable. */
bool ds_pyframe_str(const struct ds_pyver *v, const struct ds_pytypes *t, const void *code,
                    int field, char *buf, size_t cap);

/* A checked read of n bytes at addr into dst: false instead of a fault. */
bool ds_peek(const void *addr, void *dst, size_t n);
#endif
