/* json.c: a JSON writer into a caller-owned fixed buffer. No allocation: the log
 * path must work inside any hook. A record that does not fit is marked overflowed
 * and the log writes a short "truncated" record in its place. */
#include <stdio.h>
#include <string.h>

#include "detshim.h"

void jb_init(struct jbuf *jb, char *mem, size_t cap)
{
    jb->p = mem;
    jb->len = 0;
    jb->cap = cap;
    jb->overflow = false;
    jb->need_comma = false;
    if (cap) mem[0] = 0;
}

static void put(struct jbuf *jb, const char *s, size_t n)
{
    if (jb->overflow) return;
    if (jb->len + n + 2 > jb->cap) { /* keep room for '\n' and NUL */
        jb->overflow = true;
        return;
    }
    memcpy(jb->p + jb->len, s, n);
    jb->len += n;
    jb->p[jb->len] = 0;
}

void jb_raw(struct jbuf *jb, const char *s) { put(jb, s, strlen(s)); }

/* The length of the well-formed UTF-8 sequence at s[i] (Unicode's table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when the byte there starts none. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong below U+0800 */
        else if (c == 0xed) hi = 0x9f; /* U+D800..DFFF, the surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong below U+10000 */
        else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;                      /* a continuation byte, C0/C1, F5..FF */
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[i + k] & 0xc0) != 0x80) return 0;
    return len;
}

/* A JSON string: control characters, quotes and backslashes escaped, well-formed UTF-8
 * copied, and every byte that starts no well-formed sequence written as U+FFFD, so that
 * every record is valid JSON for any reader, whatever bytes a path or a name held. */
static void put_escaped(struct jbuf *jb, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    put(jb, "\"", 1);
    size_t run = 0, i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = utf8_seq(s, n, i);
        if (len > 1 || (len == 1 && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)) {
            run += len;
            i += len;
            continue;
        }
        put(jb, str + i - run, run);
        run = 0;
        char esc[8];
        switch (len ? c : 0x100) {
        case '"': put(jb, "\\\"", 2); break;
        case '\\': put(jb, "\\\\", 2); break;
        case '\n': put(jb, "\\n", 2); break;
        case '\t': put(jb, "\\t", 2); break;
        case '\r': put(jb, "\\r", 2); break;
        case 0x100: put(jb, "\\ufffd", 6); break; /* not UTF-8 */
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(jb, esc, 6);
        }
        i++;
    }
    put(jb, str + n - run, run);
    put(jb, "\"", 1);
}

void jb_key(struct jbuf *jb, const char *key)
{
    if (jb->need_comma) put(jb, ",", 1);
    if (key) {
        put_escaped(jb, key, strlen(key));
        put(jb, ":", 1);
    }
    jb->need_comma = false;
}

/* After a value: the next key or element needs a comma. */
static void value_done(struct jbuf *jb) { jb->need_comma = true; }

void jb_obj_begin(struct jbuf *jb)
{
    if (jb->need_comma) put(jb, ",", 1);
    put(jb, "{", 1);
    jb->need_comma = false;
}

void jb_obj_end(struct jbuf *jb)
{
    put(jb, "}", 1);
    jb->need_comma = true;
}

void jb_arr_begin(struct jbuf *jb, const char *key)
{
    jb_key(jb, key);
    put(jb, "[", 1);
    jb->need_comma = false;
}

void jb_arr_end(struct jbuf *jb)
{
    put(jb, "]", 1);
    jb->need_comma = true;
}

void jb_strn(struct jbuf *jb, const char *key, const char *val, size_t n)
{
    jb_key(jb, key);
    if (!val)
        put(jb, "null", 4);
    else
        put_escaped(jb, val, n);
    value_done(jb);
}

void jb_str(struct jbuf *jb, const char *key, const char *val)
{
    jb_strn(jb, key, val, val ? strlen(val) : 0);
}

void jb_int(struct jbuf *jb, const char *key, long long v)
{
    char b[32];
    jb_key(jb, key);
    put(jb, b, (size_t)snprintf(b, sizeof b, "%lld", v));
    value_done(jb);
}

void jb_uint(struct jbuf *jb, const char *key, unsigned long long v)
{
    char b[32];
    jb_key(jb, key);
    put(jb, b, (size_t)snprintf(b, sizeof b, "%llu", v));
    value_done(jb);
}

void jb_hex(struct jbuf *jb, const char *key, unsigned long long v)
{
    char b[32];
    jb_key(jb, key);
    put(jb, b, (size_t)snprintf(b, sizeof b, "\"0x%llx\"", v));
    value_done(jb);
}

void jb_bool(struct jbuf *jb, const char *key, bool v)
{
    jb_key(jb, key);
    put(jb, v ? "true" : "false", v ? 4 : 5);
    value_done(jb);
}

void jb_null(struct jbuf *jb, const char *key)
{
    jb_key(jb, key);
    put(jb, "null", 4);
    value_done(jb);
}

bool jb_finish(struct jbuf *jb)
{
    if (jb->overflow) return false;
    jb->p[jb->len++] = '\n';
    jb->p[jb->len] = 0;
    return true;
}
