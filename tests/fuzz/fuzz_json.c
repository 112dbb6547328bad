/* Fuzz target: the JSON writer (shim/core/json.c). Any bytes, as a key's value and as a
 * length-limited value, in a buffer that may be too small: the record is either refused
 * (overflow) or valid JSON whose strings are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF: what Python's json reader and jq accept), checked
 * here by a decoder of its own, not the writer's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detshim.h"

/* Decode one code point of s (strict UTF-8); its length, or 0 when ill-formed. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!len || len > n) return 0;
    uint32_t v = s[0] & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* A JSON string starting at s[0] == '"': its length with both quotes, or 0 when invalid. */
static size_t string_len(const unsigned char *s, size_t n)
{
    size_t i = 1;
    while (i < n) {
        uint32_t cp;
        if (s[i] == '"') return i + 1;
        if (s[i] == '\\') {
            if (i + 1 >= n) return 0;
            unsigned char e = s[i + 1];
            if (e == 'u') {
                if (i + 6 > n) return 0;
                for (int k = 2; k < 6; k++)
                    if (!strchr("0123456789abcdefABCDEF", s[i + k]) || !s[i + k]) return 0;
                i += 6;
            } else if (strchr("\"\\/bfnrt", e) && e) {
                i += 2;
            } else
                return 0;
            continue;
        }
        if (s[i] < 0x20) return 0;
        size_t len = decode(s + i, n - i, &cp);
        if (!len) return 0;
        i += len;
    }
    return 0;
}

static void check_record(const struct jbuf *jb)
{
    const unsigned char *s = (const unsigned char *)jb->p;
    size_t n = jb->len;
    /* {"a":"...","b":"...","c":null}\n */
    static const char *const keys[] = {"{\"a\":", ",\"b\":", ",\"c\":null}\n"};
    size_t i = 0;
    for (int k = 0; k < 3; k++) {
        size_t kl = strlen(keys[k]);
        if (i + kl > n || memcmp(s + i, keys[k], kl) != 0) abort();
        i += kl;
        if (k == 2) break;
        if (i >= n || s[i] != '"') abort();
        size_t sl = string_len(s + i, n - i);
        if (!sl) abort();
        i += sl;
    }
    if (i != n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *val = malloc(size + 1);
    if (!val) return 0;
    memcpy(val, data, size);
    val[size] = 0;
    size_t caps[] = {size * 12 + 64, size + 16, 24}; /* a and b: up to 6 bytes per input byte each */
    for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
        char *mem = malloc(caps[c]);
        if (!mem) break;
        struct jbuf jb;
        jb_init(&jb, mem, caps[c]);
        jb_obj_begin(&jb);
        jb_str(&jb, "a", val);               /* up to the first NUL */
        jb_strn(&jb, "b", val, size);        /* every byte, NULs included */
        jb_null(&jb, "c");
        jb_obj_end(&jb);
        bool ok = jb_finish(&jb);
        if (c == 0 && !ok) abort(); /* twelve bytes per input byte always fit */
        if (ok) check_record(&jb);
        free(mem);
    }
    free(val);
    return 0;
}
