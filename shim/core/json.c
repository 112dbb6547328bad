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

static void put_escaped(struct jbuf *jb, const char *s, size_t n)
{
    put(jb, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            run++;
            continue;
        }
        put(jb, s + i - run, run);
        run = 0;
        char esc[8];
        switch (c) {
        case '"': put(jb, "\\\"", 2); break;
        case '\\': put(jb, "\\\\", 2); break;
        case '\n': put(jb, "\\n", 2); break;
        case '\t': put(jb, "\\t", 2); break;
        case '\r': put(jb, "\\r", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(jb, esc, 6);
        }
    }
    put(jb, s + n - run, run);
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

/* Invalid UTF-8 would make the record unreadable for jq: replace such bytes. */
static void put_string_utf8(struct jbuf *jb, const char *s, size_t n)
{
    char tmp[1024];
    size_t i = 0;
    bool clean = true;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) { clean = false; break; }
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] >> 6) != 2) { clean = false; break; }
        if (!clean) break;
        i += len;
    }
    if (clean) {
        put_escaped(jb, s, n);
        return;
    }
    size_t m = n < sizeof tmp ? n : sizeof tmp;
    for (size_t k = 0; k < m; k++) tmp[k] = ((unsigned char)s[k] < 0x80) ? s[k] : '?';
    put_escaped(jb, tmp, m);
}

void jb_strn(struct jbuf *jb, const char *key, const char *val, size_t n)
{
    jb_key(jb, key);
    if (!val)
        put(jb, "null", 4);
    else
        put_string_utf8(jb, val, n);
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
