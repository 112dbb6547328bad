/* The Python frame walker without the GIL (shim/core/pyframes.c): checked reads, fake frame
 * chains in each version's layout (names, lines from each line-table format), and corrupt,
 * unmapped, cyclic and random chains, which must give -1 or a bounded count, never a fault. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pyframes.h"
#include "unit.h"

const char *const *unit_env;

static long page(void) { return sysconf(_SC_PAGESIZE); }

START_TEST(peek_checks)
{
    long v = 42, out = 0;
    ck_assert(ds_peek(&v, &out, sizeof v));
    ck_assert_int_eq(out, 42);
    ck_assert(!ds_peek(NULL, &out, sizeof out));
    ck_assert(!ds_peek((void *)16, &out, sizeof out));
    ck_assert(!ds_peek((void *)0xffff800000000000ull, &out, sizeof out)); /* kernel half */
    ck_assert(!ds_peek((void *)UINTPTR_MAX - 4, &out, sizeof out));       /* wraps */
    char *m = mmap(NULL, (size_t)page() * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    ck_assert(mprotect(m + page(), (size_t)page(), PROT_NONE) == 0);
    ck_assert(ds_peek(m + page() - 8, &out, 8));
    ck_assert(!ds_peek(m + page() - 4, &out, 8)); /* runs into the unreadable page */
    ck_assert(!ds_peek(m + page(), &out, 8));
    munmap(m, (size_t)page() * 2);
    ck_assert(!ds_peek(m, &out, 8)); /* unmapped */
}
END_TEST

/* ---- a fake interpreter ---------------------------------------------------------------- */
static char code_type[64], str_type[64], bytes_type[64];
static const struct ds_pytypes types = {code_type, str_type, bytes_type};
static _Alignas(16) unsigned char heap[1 << 16];
static size_t used;

static unsigned char *alloc(size_t n)
{
    used = (used + 15) & ~(size_t)15;
    unsigned char *p = heap + used;
    used += n;
    ck_assert(used <= sizeof heap);
    memset(p, 0, n);
    return p;
}
static void put_ptr(unsigned char *o, int off, const void *p) { memcpy(o + off, &p, sizeof p); }
static void put_int(unsigned char *o, int off, int v) { memcpy(o + off, &v, sizeof v); }

/* a compact str of kind 1 (ascii or latin-1) or 2 */
static void *mk_str(const struct ds_pyver *v, const char *s, int kind, bool ascii)
{
    long len = (long)strlen(s) / kind;
    unsigned char *o = alloc((size_t)v->str_compact + strlen(s) + 4);
    put_ptr(o, 8, str_type);
    memcpy(o + 16, &len, sizeof len);
    uint32_t state = (uint32_t)kind << 2 | 1u << 5 | (ascii ? 1u << 6 : 0);
    memcpy(o + v->str_state, &state, sizeof state);
    memcpy(o + (ascii ? v->str_ascii : v->str_compact), s, strlen(s));
    return o;
}

static void *mk_bytes(const struct ds_pyver *v, const unsigned char *b, long n)
{
    unsigned char *o = alloc((size_t)v->bytes_data + (size_t)n + 1);
    put_ptr(o, 8, bytes_type);
    memcpy(o + 16, &n, sizeof n);
    memcpy(o + v->bytes_data, b, (size_t)n);
    return o;
}

static unsigned char *mk_code(const struct ds_pyver *v, const char *file, const char *name,
                              int first, const unsigned char *table, long n)
{
    unsigned char *c = alloc(v->co_code > 0 ? (size_t)v->co_code + 64 : 256);
    put_ptr(c, 8, code_type);
    put_ptr(c, v->co_filename, mk_str(v, file, 1, true));
    put_ptr(c, v->co_name, mk_str(v, name, 1, true));
    put_int(c, v->co_firstlineno, first);
    put_ptr(c, v->co_lines, mk_bytes(v, table, n));
    if (v->co_firsttraceable >= 0) put_int(c, v->co_firsttraceable, 0);
    return c;
}

/* a frame at instruction byte offset addr of code */
static unsigned char *mk_frame(const struct ds_pyver *v, unsigned char *code, long addr,
                               void *back)
{
    unsigned char *f = alloc(256);
    put_ptr(f, v->f_back, back);
    put_ptr(f, v->f_code, code);
    if (v->co_code < 0) {
        put_int(f, v->f_instr, v->minor >= 10 ? (int)(addr / 2) : (int)addr);
    } else {
        put_ptr(f, v->f_instr, code + v->co_code + addr);
        f[v->f_owner] = 0;
    }
    return f;
}

static unsigned char *mk_tstate(const struct ds_pyver *v, void *frame)
{
    unsigned char *ts = alloc(256);
    if (v->cf_current >= 0) {
        unsigned char *cf = alloc(64);
        put_ptr(cf, v->cf_current, frame);
        put_ptr(ts, v->ts_frame, cf);
    } else {
        put_ptr(ts, v->ts_frame, frame);
    }
    return ts;
}

/* Line tables, all meaning: first line 10; bytes 0-3 line 10, 4-7 line 12, 8-11 line 11. */
static const unsigned char lnotab[] = {4, 2, 4, (unsigned char)-1};
static const unsigned char table310[] = {4, 0, 4, 2, 4, (unsigned char)-1};
static const unsigned char table311[] = {
    0x80 | 13 << 3 | 1, 0,          /* no columns, 2 units, delta 0 */
    0x80 | 12 << 3 | 1, 1, 2,       /* one line +2, 2 units */
    0x80 | 14 << 3 | 1, 3, 0, 1, 2, /* long form, delta -1 (svarint 3), 2 units */
};

static void table_for(const struct ds_pyver *v, const unsigned char **t, long *n)
{
    if (v->minor <= 9) *t = lnotab, *n = sizeof lnotab;
    else if (v->minor == 10) *t = table310, *n = sizeof table310;
    else *t = table311, *n = sizeof table311;
}

START_TEST(fake_chains)
{
    for (int minor = 8; minor <= 13; minor++) {
        used = 0;
        const struct ds_pyver *v = ds_pyver_find(3, minor);
        ck_assert_ptr_nonnull(v);
        const unsigned char *t;
        long n;
        table_for(v, &t, &n);
        unsigned char *outer = mk_code(v, "/x/train.py", "<module>", 10, t, n);
        unsigned char *inner = mk_code(v, "/x/lib.py", "step", 10, t, n);
        /* a latin-1 function name: "caf\xe9" */
        put_ptr(inner, v->co_name, mk_str(v, "caf\xe9", 1, false));
        unsigned char *f1 = mk_frame(v, outer, 8, NULL);
        unsigned char *f0 = mk_frame(v, inner, 4, f1);
        unsigned char *ts = mk_tstate(v, f0);
        struct ds_pyframe fr[8];
        ck_assert_int_eq(ds_pyframes_read(v, &types, ts, fr, 8), 2);
        ck_assert_ptr_eq(fr[0].code, inner);
        ck_assert_int_eq(ds_pyframe_line(v, &types, &fr[0]), 12);
        ck_assert_int_eq(ds_pyframe_line(v, &types, &fr[1]), 11);
        char buf[64];
        ck_assert(ds_pyframe_str(v, &types, fr[1].code, v->co_filename, buf, sizeof buf));
        ck_assert_str_eq(buf, "/x/train.py");
        ck_assert(ds_pyframe_str(v, &types, fr[0].code, v->co_name, buf, sizeof buf));
        ck_assert_str_eq(buf, "caf\xc3\xa9");
        ck_assert(ds_pyframe_str(v, &types, fr[0].code, v->co_name, buf, 5)); /* cut whole */
        ck_assert_str_eq(buf, "caf");
        ck_assert_int_eq(ds_pyframes_read(v, &types, ts, fr, 1), 1); /* bounded by max */
        /* the call-site key: the same chain, the same key; another instruction, another */
        uint64_t k1 = ds_pyframes_key(v, ts, 8, ds_hash64);
        ck_assert(k1 != 0 && k1 == ds_pyframes_key(v, ts, 8, ds_hash64));
        unsigned char *f0b = mk_frame(v, inner, 8, f1);
        ck_assert(ds_pyframes_key(v, mk_tstate(v, f0b), 8, ds_hash64) != k1);
        /* the first instruction: the first line */
        fr[0].addr = 0;
        ck_assert_int_eq(ds_pyframe_line(v, &types, &fr[0]), 10);

        /* corrupt: code of the wrong type ends the walk (3.13: skipped, it may be None) */
        put_ptr(f1, v->f_code, f0);
        int r = ds_pyframes_read(v, &types, ts, fr, 8);
        ck_assert_int_eq(r, minor >= 13 ? 1 : -1);
        /* a back pointer into an unreadable page */
        char *m = mmap(NULL, (size_t)page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        put_ptr(f0, v->f_back, m);
        ck_assert_int_eq(ds_pyframes_read(v, &types, ts, fr, 8), -1);
        ds_pyframes_key(v, ts, 8, ds_hash64);
        /* the thread state itself unreadable */
        ck_assert_int_eq(ds_pyframes_read(v, &types, m, fr, 8), -1);
        munmap(m, (size_t)page());
        /* a cycle: bounded by max */
        put_ptr(f0, v->f_back, f0);
        ck_assert_int_eq(ds_pyframes_read(v, &types, ts, fr, 8), 8);
        /* a cycle of frames with no code (3.13 skips those): ends, with -1 */
        put_ptr(f0, v->f_code, f0);
        r = ds_pyframes_read(v, &types, ts, fr, 8);
        ck_assert_int_eq(r, -1);
        /* a line table pointer to garbage */
        put_ptr(inner, v->co_lines, f0);
        struct ds_pyframe g = {inner, 4};
        ck_assert_int_eq(ds_pyframe_line(v, &types, &g), -1);
        /* a misaligned frame pointer */
        put_ptr(ts + (v->cf_current >= 0 ? 0 : v->ts_frame), 0, NULL);
        ck_assert_int_le(ds_pyframes_read(v, &types, ts, fr, 8), 8);
    }
}
END_TEST

/* Random words, some of them pointers back into the same memory: every walk must end,
 * without a fault, with -1 or a count within max. */
START_TEST(random_chains)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 2000; round++) {
        const struct ds_pyver *v = ds_pyver_find(3, 8 + round % 6);
        uint64_t *w = (uint64_t *)heap;
        size_t nw = 4096;
        for (size_t i = 0; i < nw; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            switch (x % 5) {
            case 0: w[i] = (uintptr_t)(heap + (x >> 8) % (nw * 8 - 512)); break;
            case 1: w[i] = (uintptr_t)(heap + ((x >> 8) % (nw - 64)) * 8); break;
            case 2: w[i] = (uintptr_t)(round & 1 ? code_type : str_type); break;
            case 3: w[i] = x >> (x & 63); break;
            default: w[i] = x;
            }
        }
        struct ds_pyframe fr[DS_MAX_FRAMES];
        int r = ds_pyframes_read(v, &types, heap + (x % 512) * 8, fr, DS_MAX_FRAMES);
        ck_assert(r >= -1 && r <= DS_MAX_FRAMES);
        ds_pyframes_key(v, heap + (x % 512) * 8, 8, ds_hash64); /* must end, not fault */
        for (int i = 0; i < r; i++) {
            char buf[128];
            ds_pyframe_line(v, &types, &fr[i]);
            ds_pyframe_str(v, &types, fr[i].code, v->co_name, buf, sizeof buf);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pyframes");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, peek_checks);
    tcase_add_test(tc, fake_chains);
    tcase_add_test(tc, random_chains);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
