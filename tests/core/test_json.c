/* The fixed-buffer JSON writer: commas, nesting, escaping, invalid UTF-8, overflow. */
#include <string.h>

#include "unit.h"

const char *const *unit_env;

START_TEST(shapes)
{
    char mem[512];
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "a", "x");
    jb_int(&jb, "b", -3);
    jb_arr_begin(&jb, "c");
    jb_uint(&jb, NULL, 1);
    jb_obj_begin(&jb);
    jb_bool(&jb, "d", true);
    jb_obj_end(&jb);
    jb_null(&jb, NULL);
    jb_arr_end(&jb);
    jb_key(&jb, "e");
    jb_obj_begin(&jb);
    jb_obj_end(&jb);
    jb_hex(&jb, "f", 255);
    jb_str(&jb, "g", NULL);
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
    ck_assert_str_eq(mem,
                     "{\"a\":\"x\",\"b\":-3,\"c\":[1,{\"d\":true},null],\"e\":{},\"f\":\"0xff\","
                     "\"g\":null}\n");
}
END_TEST

START_TEST(escapes)
{
    char mem[512];
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "k\"", "q\"b\\n\n\t\x01\x7f");
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
    ck_assert_str_eq(mem, "{\"k\\\"\":\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\"}\n");
}
END_TEST

START_TEST(utf8)
{
    char mem[512];
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "ok", "h\xc3\xa9llo");      /* valid: kept */
    jb_str(&jb, "bad", "a\xff\xfe" "b\xc3"); /* invalid: replaced, never emitted raw */
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
    ck_assert_str_eq(mem, "{\"ok\":\"h\xc3\xa9llo\",\"bad\":\"a\\ufffd\\ufffdb\\ufffd\"}\n");
}
END_TEST

/* Well-formed in shape but not UTF-8 (Unicode's table 3-7): overlong forms, surrogates,
 * code points above U+10FFFF. Python's json reader and jq refuse each of them raw. */
START_TEST(utf8_strict)
{
    char mem[512];
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "overlong", "\xc0\xaf|\xe0\x80\xaf|\xf0\x80\x80\xaf");
    jb_str(&jb, "surrogate", "\xed\xa0\x80");
    jb_str(&jb, "big", "\xf4\x90\x80\x80");
    jb_str(&jb, "edges", "\xed\x9f\xbf\xf4\x8f\xbf\xbf\xe0\xa0\x80"); /* U+D7FF U+10FFFF U+0800 */
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
    ck_assert_str_eq(mem, "{\"overlong\":\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                          "\\ufffd\\ufffd\\ufffd\\ufffd\","
                          "\"surrogate\":\"\\ufffd\\ufffd\\ufffd\","
                          "\"big\":\"\\ufffd\\ufffd\\ufffd\\ufffd\","
                          "\"edges\":\"\xed\x9f\xbf\xf4\x8f\xbf\xbf\xe0\xa0\x80\"}\n");
}
END_TEST

/* A long invalid string is kept whole (it used to be cut to 1024 bytes). */
START_TEST(utf8_long)
{
    static char mem[16384], val[5001];
    memset(val, 'x', 5000);
    val[10] = (char)0xff;
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "v", val);
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
    ck_assert_uint_eq(strlen(mem), 4999 + 6 + strlen("{\"v\":\"\"}\n"));
}
END_TEST

START_TEST(overflow)
{
    char mem[16];
    struct jbuf jb;
    jb_init(&jb, mem, sizeof mem);
    jb_obj_begin(&jb);
    jb_str(&jb, "key", "a value far too long for sixteen bytes");
    jb_obj_end(&jb);
    ck_assert(jb.overflow);
    ck_assert(!jb_finish(&jb));
    ck_assert_uint_lt(jb.len, sizeof mem);
}
END_TEST

START_TEST(hash)
{
    uint64_t a = ds_hash64("abc", 3, 0), b = ds_hash64("abd", 3, 0), c = ds_hash64("abc", 3, 1);
    ck_assert(a != b && a != c && a != 0);
    ck_assert(ds_hash64("", 0, 0) != 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, shapes);
    tcase_add_test(tc, escapes);
    tcase_add_test(tc, utf8);
    tcase_add_test(tc, utf8_strict);
    tcase_add_test(tc, utf8_long);
    tcase_add_test(tc, overflow);
    tcase_add_test(tc, hash);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
