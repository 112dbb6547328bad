/* pyframes.c: a CPython thread's frame chain, read without its GIL (pyframes.h).
 *
 * While a thread runs native code with the GIL released, its own frame chain cannot
 * change under it: only that thread pushes and pops its frames. The walk reads it as a
 * profiler reads another process (py-spy, austin): per version, the offsets of a few
 * fields; every load checked (ds_peek), so a corrupt, foreign or half-built chain ends the
 * walk with -1 instead of a fault. No allocation, no reference count, no lock: the same
 * rules as CPython's faulthandler, which dumps tracebacks from signal handlers.
 *
 * Versions (rows printed by scripts/pyoffsets.c from each version's headers, checked
 * against pyenv builds of 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0 and Debian's
 * 3.11; x86_64/aarch64 LP64 release builds; layouts are stable within a minor version):
 *   3.8-3.10  tstate->frame: PyFrameObject, f_back, f_code, f_lasti (3.10: in code units)
 *   3.11-3.12 tstate->cframe->current_frame: _PyInterpreterFrame, previous, f_code,
 *             prev_instr (the instruction being run: a call, for a frame that called out)
 *   3.13      tstate->current_frame: previous, f_executable (not always a code object),
 *             instr_ptr
 * Line tables: 3.8-3.9 co_lnotab, 3.10 co_linetable (address/line delta pairs), 3.11+
 * the location table (PEP 657). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pyframes.h"

static const struct ds_pyver versions[] = {
    {3, 8, .ts_frame = 24, .cf_current = -1, .f_back = 24, .f_code = 32, .f_instr = 104, .f_owner = -1, .co_filename = 104, .co_name = 112, .co_firstlineno = 40, .co_lines = 120, .co_code = -1, .co_firsttraceable = -1, .bytes_data = 32, .str_state = 32, .str_ascii = 48, .str_compact = 72},
    {3, 9, .ts_frame = 24, .cf_current = -1, .f_back = 24, .f_code = 32, .f_instr = 104, .f_owner = -1, .co_filename = 104, .co_name = 112, .co_firstlineno = 40, .co_lines = 120, .co_code = -1, .co_firsttraceable = -1, .bytes_data = 32, .str_state = 32, .str_ascii = 48, .str_compact = 72},
    {3, 10, .ts_frame = 24, .cf_current = -1, .f_back = 24, .f_code = 32, .f_instr = 96, .f_owner = -1, .co_filename = 104, .co_name = 112, .co_firstlineno = 40, .co_lines = 120, .co_code = -1, .co_firsttraceable = -1, .bytes_data = 32, .str_state = 32, .str_ascii = 48, .str_compact = 72},
    {3, 11, .ts_frame = 56, .cf_current = 8, .f_back = 48, .f_code = 32, .f_instr = 56, .f_owner = 69, .co_filename = 112, .co_name = 120, .co_firstlineno = 72, .co_lines = 136, .co_code = 184, .co_firsttraceable = 168, .bytes_data = 32, .str_state = 32, .str_ascii = 48, .str_compact = 72},
    {3, 12, .ts_frame = 56, .cf_current = 0, .f_back = 8, .f_code = 0, .f_instr = 56, .f_owner = 70, .co_filename = 112, .co_name = 120, .co_firstlineno = 68, .co_lines = 136, .co_code = 192, .co_firsttraceable = 176, .bytes_data = 32, .str_state = 32, .str_ascii = 40, .str_compact = 56},
    {3, 13, .ts_frame = 72, .cf_current = -1, .f_back = 8, .f_code = 0, .f_instr = 56, .f_owner = 70, .co_filename = 112, .co_name = 120, .co_firstlineno = 68, .co_lines = 136, .co_code = 200, .co_firsttraceable = 184, .bytes_data = 32, .str_state = 32, .str_ascii = 40, .str_compact = 56},
};

const struct ds_pyver *ds_pyver_find(int major, int minor)
{
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        if (versions[i].major == major && versions[i].minor == minor) return &versions[i];
    return NULL;
}

/* ---- checked reads ------------------------------------------------------------------------ */
#define USER_TOP 0x800000000000ull /* above the lowest canonical user half (x86_64, aarch64 48-bit) */
#define PEEK_MAX 4096

static bool plausible(const void *addr, size_t n)
{
    uintptr_t a = (uintptr_t)addr;
    return a >= 4096 && n <= PEEK_MAX && a + n > a && a + n <= USER_TOP;
}

/* 0: process_vm_readv works; 1: it does not (a seccomp filter, an old kernel): a pipe */
static _Atomic int peek_way;

static bool peek_pipe(const void *addr, void *dst, size_t n)
{
    /* write() from a bad address fails with EFAULT: the kernel checks, not us */
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    bool ok = write(p[1], addr, n) == (ssize_t)n && read(p[0], dst, n) == (ssize_t)n;
    close(p[0]);
    close(p[1]);
    return ok;
}

bool ds_peek(const void *addr, void *dst, size_t n)
{
    if (!plausible(addr, n)) return false;
    if (n == 0) return true;
    if (!peek_way) {
        struct iovec local = {dst, n}, remote = {(void *)addr, n};
        int saved = errno;
        ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        if (r == (ssize_t)n) return true;
        bool refused = r < 0 && (errno == ENOSYS || errno == EPERM);
        errno = saved;
        if (!refused) return false; /* EFAULT, a short read: not readable */
        peek_way = 1;
    }
    int saved = errno;
    bool ok = peek_pipe(addr, dst, n);
    errno = saved;
    return ok;
}

/* p + off on addresses that may be garbage: integer arithmetic, which wraps without
 * undefined behaviour (the checked read refuses the result) */
static const void *at(const void *p, long off)
{
    return (const void *)((uintptr_t)p + (uintptr_t)off);
}

static bool peek_ptr(const void *base, int off, const void **out)
{
    return ds_peek(at(base, off), out, sizeof *out);
}

static bool is_type(const void *obj, const void *type)
{
    const void *t;
    return ((uintptr_t)obj & 7) == 0 && peek_ptr(obj, 8, &t) && t == type; /* ob_type */
}

/* ---- the frame chain ---------------------------------------------------------------------- */
#define WALK_MAX 1024 /* frames passed over in all, skipped ones included: ends cycles */
#define FRAME_OWNED_BY_GENERATOR 1
#define FRAME_OWNED_BY_CSTACK 3 /* 3.12+: the interpreter's entry frames, no code */

static int frame_blob_size(const struct ds_pyver *v)
{
    int m = v->f_back;
    if (v->f_code > m) m = v->f_code;
    if (v->f_instr > m) m = v->f_instr;
    if (v->f_owner > m) m = v->f_owner;
    return m + 8;
}

int ds_pyframes_read(const struct ds_pyver *v, const struct ds_pytypes *t, const void *tstate,
                     struct ds_pyframe *out, int max)
{
    const void *f;
    if (!v || !tstate || !peek_ptr(tstate, v->ts_frame, &f)) return -1;
    if (v->cf_current >= 0 && f && !peek_ptr(f, v->cf_current, &f)) return -1;
    int n = 0, blob = frame_blob_size(v);
    unsigned char b[256];
    for (int walked = 0; f && n < max; walked++) {
        if (walked >= WALK_MAX || ((uintptr_t)f & 7) || !ds_peek(f, b, (size_t)blob)) return -1;
        const void *back, *code;
        memcpy(&back, b + v->f_back, sizeof back);
        memcpy(&code, b + v->f_code, sizeof code);
        int owner = v->f_owner >= 0 ? b[v->f_owner] : -1;
        long addr;
        if (v->co_code < 0) { /* 3.8-3.10: f_lasti, an int; 3.10 counts code units */
            int lasti;
            memcpy(&lasti, b + v->f_instr, sizeof lasti);
            addr = lasti < 0 ? -1 : v->minor >= 10 ? 2L * lasti : lasti;
        } else {
            const char *ip;
            memcpy(&ip, b + v->f_instr, sizeof ip);
            addr = (long)((uintptr_t)ip - (uintptr_t)at(code, v->co_code));
            if (addr < 0) addr = -1;
        }
        f = back;
        if (owner == FRAME_OWNED_BY_CSTACK) continue;
        if (!is_type(code, t->code)) {
            if (v->minor >= 13) continue; /* f_executable that is no code object */
            return -1;
        }
        if (v->co_firsttraceable >= 0 && owner != FRAME_OWNED_BY_GENERATOR) {
            int first; /* an incomplete frame (3.11+): pushed, not started; not shown */
            if (!ds_peek(at(code, v->co_firsttraceable), &first, sizeof first))
                return -1;
            if (addr < 2L * first) continue;
        }
        out[n].code = code;
        out[n].addr = addr;
        n++;
    }
    return n;
}

uint64_t ds_pyframes_key(const struct ds_pyver *v, const void *tstate, int max,
                         uint64_t (*mix)(const void *, size_t, uint64_t))
{
    /* one read per frame: the frame's code pointer and instruction, no check of the code
     * object (a wrong key only makes another call site) */
    const void *f;
    uint64_t h = 0;
    if (!v || !tstate || !peek_ptr(tstate, v->ts_frame, &f)) return 0;
    if (v->cf_current >= 0 && f && !peek_ptr(f, v->cf_current, &f)) return 0;
    int blob = frame_blob_size(v);
    unsigned char b[256];
    for (int n = 0, walked = 0; f && n < max && walked < WALK_MAX; walked++) {
        if (((uintptr_t)f & 7) || !ds_peek(f, b, (size_t)blob)) break;
        if (v->f_owner >= 0 && b[v->f_owner] == FRAME_OWNED_BY_CSTACK) {
            memcpy(&f, b + v->f_back, sizeof f);
            continue;
        }
        uint64_t rec[2];
        memcpy(&rec[0], b + v->f_code, sizeof rec[0]);
        memcpy(&rec[1], b + v->f_instr, sizeof rec[1]);
        if (v->co_code < 0) rec[1] &= 0xffffffffu; /* f_lasti: an int */
        h = mix(rec, sizeof rec, h);
        memcpy(&f, b + v->f_back, sizeof f);
        n++;
    }
    return h;
}

/* ---- line numbers ------------------------------------------------------------------------- */
#define TABLE_MAX (1 << 20) /* bytes of a line table read at most */

struct reader {
    const unsigned char *at, *end; /* the table in the process */
    unsigned char buf[256];
    size_t have, pos;
    bool bad;
};

static int next_byte(struct reader *r)
{
    if (r->pos == r->have) {
        size_t n = (size_t)(r->end - r->at);
        if (n == 0) return -1;
        if (n > sizeof r->buf) n = sizeof r->buf;
        if (!ds_peek(r->at, r->buf, n)) {
            r->bad = true;
            return -1;
        }
        r->at += n;
        r->have = n;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

/* 3.8-3.9 co_lnotab: (address increment, signed line increment) byte pairs */
static int line_lnotab(struct reader *r, int line, long addrq)
{
    long addr = 0;
    for (;;) {
        int da = next_byte(r), dl = next_byte(r);
        if (da < 0 || dl < 0) break;
        addr += da;
        if (addr > addrq) break;
        line += (signed char)dl;
    }
    return line;
}

/* 3.10 co_linetable: (address delta, signed line delta; -128: no line) byte pairs, each
 * entry one address range */
static int line_310(struct reader *r, int line, long addrq)
{
    long end = 0;
    int cur = -1;
    while (end <= addrq) {
        int da = next_byte(r), dl = next_byte(r);
        if (da < 0 || dl < 0) return -1;
        end += da;
        if ((signed char)dl == -128) {
            cur = -1;
        } else {
            line += (signed char)dl;
            cur = line;
        }
    }
    return cur;
}

/* 3.11+ location table: entries start with a byte with its top bit set: code (bits 3-6)
 * and length - 1 in code units (bits 0-2); the line delta is in the entry for codes 13
 * (no columns) and 14 (long form) as a signed varint, 10-12 one-line forms of delta
 * code - 10, 15 no location, 0-9 the same line. */
static int varint(struct reader *r, unsigned *out)
{
    unsigned v = 0, shift = 0;
    int b;
    do {
        b = next_byte(r);
        if (b < 0 || shift > 30) return -1;
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
    } while (b & 64);
    *out = v;
    return 0;
}

static int line_311(struct reader *r, int line, long addrq)
{
    long end = 0;
    int b = next_byte(r);
    while (b >= 0) {
        if (!(b & 128)) return -1;
        int code = (b >> 3) & 15, cur = line;
        long len = 2L * ((b & 7) + 1);
        if (code == 13 || code == 14) {
            unsigned u;
            if (varint(r, &u)) return -1;
            line += (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
        } else if (code >= 10 && code <= 12) {
            line += code - 10;
        }
        cur = code == 15 ? -1 : line;
        end += len;
        /* skip the rest of the entry (columns) up to the next start byte */
        while ((b = next_byte(r)) >= 0 && !(b & 128)) {
        }
        if (end > addrq) return cur;
    }
    return -1;
}

int ds_pyframe_line(const struct ds_pyver *v, const struct ds_pytypes *t,
                    const struct ds_pyframe *f)
{
    int first;
    const void *table;
    if (!ds_peek(at(f->code, v->co_firstlineno), &first, sizeof first) ||
        !peek_ptr(f->code, v->co_lines, &table) || !is_type(table, t->bytes))
        return -1;
    if (f->addr < 0) return first;
    long size;
    if (!ds_peek(at(table, 16), &size, sizeof size) || size < 0 || size > TABLE_MAX)
        return -1; /* ob_size */
    struct reader r = {.at = at(table, v->bytes_data)};
    r.end = r.at + size;
    int line = v->minor <= 9 ? line_lnotab(&r, first, f->addr)
               : v->minor == 10 ? line_310(&r, first, f->addr)
                                : line_311(&r, first, f->addr);
    return r.bad ? -1 : line;
}

/* ---- strings ------------------------------------------------------------------------------ */
static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 63));
        o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 63));
    o[2] = (char)(0x80 | (c >> 6 & 63));
    o[3] = (char)(0x80 | (c & 63));
    return 4;
}

bool ds_pyframe_str(const struct ds_pyver *v, const struct ds_pytypes *t, const void *code,
                    int field, char *buf, size_t cap)
{
    const void *s;
    long len;
    uint32_t state;
    if (cap == 0) return false;
    buf[0] = 0;
    if (!peek_ptr(code, field, &s) || !is_type(s, t->unicode) ||
        !ds_peek(at(s, 16), &len, sizeof len) ||
        !ds_peek(at(s, v->str_state), &state, sizeof state) || len < 0)
        return false;
    unsigned kind = state >> 2 & 7, compact = state >> 5 & 1, ascii = state >> 6 & 1;
    if (!compact || (kind != 1 && kind != 2 && kind != 4)) return false;
    const unsigned char *data =
        at(s, ascii ? v->str_ascii : v->str_compact);
    size_t o = 0;
    unsigned char chunk[256];
    long i = 0;
    while (i < len) {
        long take = (long)(sizeof chunk / kind);
        if (take > len - i) take = len - i;
        if (!ds_peek(at(data, i * (long)kind), chunk, (size_t)take * kind)) return false;
        for (long k = 0; k < take; k++) {
            uint32_t c = kind == 1   ? chunk[k]
                         : kind == 2 ? (uint32_t)chunk[2 * k] | (uint32_t)chunk[2 * k + 1] << 8
                                     : (uint32_t)chunk[4 * k] | (uint32_t)chunk[4 * k + 1] << 8 |
                                           (uint32_t)chunk[4 * k + 2] << 16 |
                                           (uint32_t)chunk[4 * k + 3] << 24;
            if (c > 0x10ffff) return false;
            char enc[4];
            size_t m = put_utf8(enc, c);
            if (o + m >= cap) {
                buf[o] = 0;
                return true; /* cut on a character boundary */
            }
            memcpy(buf + o, enc, m);
            o += m;
        }
        i += take;
    }
    buf[o] = 0;
    return true;
}
