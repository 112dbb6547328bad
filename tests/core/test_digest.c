/* Hash mode's digest (shim/hash/digest.h), the one the device kernel computes too: known answers
 * (also computed by an independent Python implementation of its definition), sensitivity to
 * every bit and to the order of words, and the same value whatever the alignment of the
 * start, the length, the load width (the device reads unaligned ranges byte by byte) or the
 * split into chunks (the host fallback digests 4 MiB pieces). */
#include <stdint.h>
#include <string.h>

#include "digest.h"
#include "unit.h"

const char *const *unit_env;

#define NW 64
static void fill(unsigned char *b, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (unsigned char)(seed >> 56);
    }
}

START_TEST(known_answers)
{
    unsigned char pat[1027];
    for (size_t i = 0; i < sizeof pat; i++) pat[i] = (unsigned char)i;
    memcpy(pat + 1024, "xyz", 3);
    ck_assert_uint_eq(ds_digest("", 0), 0xf143ea4839a450c1ull);
    ck_assert_uint_eq(ds_digest("a", 1), 0xb5c1625aca00eb6aull);
    ck_assert_uint_eq(ds_digest("abcdefg", 7), 0xb305594900e8bedaull);
    ck_assert_uint_eq(ds_digest("abcdefgh", 8), 0xd29f2e7a2a9ed2f7ull);
    ck_assert_uint_eq(ds_digest("hash me, odd", 13), 0xc98e2f7cd799806dull);
    ck_assert_uint_eq(ds_digest(pat, sizeof pat), 0xec02683209d8d5fdull);
    ck_assert_str_eq(DS_DIGEST_NAME, "detshim-wordsum64");
}
END_TEST

START_TEST(every_bit_counts)
{
    uint64_t w[NW];
    fill((unsigned char *)w, sizeof w, 1);
    uint64_t base = ds_digest(w, sizeof w);
    for (int i = 0; i < NW; i++)
        for (int b = 0; b < 64; b++) {
            w[i] ^= 1ull << b;
            ck_assert_msg(ds_digest(w, sizeof w) != base, "word %d bit %d", i, b);
            w[i] ^= 1ull << b;
        }
    ck_assert_uint_eq(ds_digest(w, sizeof w), base);
}
END_TEST

START_TEST(order_counts)
{
    uint64_t w[NW];
    fill((unsigned char *)w, sizeof w, 2);
    uint64_t base = ds_digest(w, sizeof w);
    for (int i = 0; i < NW; i++)
        for (int j = i + 1; j < NW; j++) {
            uint64_t t = w[i];
            w[i] = w[j], w[j] = t;
            ck_assert_msg(ds_digest(w, sizeof w) != base, "words %d and %d swapped", i, j);
            w[j] = w[i], w[i] = t;
        }
    /* equal words in other places: zeros at the front or at the back differ, and so do
     * ranges that differ only by trailing zero bytes (the length counts) */
    uint64_t z[4] = {0, 0, 0, 7}, y[4] = {7, 0, 0, 0};
    ck_assert(ds_digest(z, sizeof z) != ds_digest(y, sizeof y));
    ck_assert(ds_digest("abc", 3) != ds_digest("abc\0", 4));
    ck_assert(ds_digest(z, 8) != ds_digest(z, 16));
}
END_TEST

/* Any start alignment and length: the same digest as an aligned copy, and the same sum
 * whether words are loaded whole or byte by byte (the device's unaligned path). */
START_TEST(alignment_and_length)
{
    unsigned char src[8 + 8 * NW];
    uint64_t aligned[NW + 1];
    fill(src, sizeof src, 3);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 8 * (NW - 1); n++) {
            memcpy(aligned, src + off, n);
            uint64_t want = ds_digest(aligned, n);
            ck_assert_msg(ds_digest(src + off, n) == want, "offset %zu length %zu", off, n);
            uint64_t bytewise = 0;
            for (uint64_t i = 0; i < (n + 7) / 8; i++)
                bytewise += ds_digest_term(ds_digest_word(src + off, n, i, 0), i);
            ck_assert_msg(ds_digest_final(bytewise, n) == want, "bytewise, offset %zu length %zu", off, n);
        }
}
END_TEST

/* Chunks starting at multiples of 8 bytes add up to the whole (the host fallback). */
START_TEST(chunks_add_up)
{
    unsigned char b[8 * NW + 5];
    fill(b, sizeof b, 4);
    uint64_t whole = ds_digest_sum(b, sizeof b, 0);
    for (size_t cut = 0; cut <= sizeof b; cut += 8)
        ck_assert_uint_eq(ds_digest_sum(b, cut, 0) + ds_digest_sum(b + cut, sizeof b - cut, cut / 8), whole);
    /* and in any order: the sum is commutative (the device's warps finish in any order) */
    uint64_t s = 0;
    for (size_t c = sizeof b / 8 + 1; c-- > 0;)
        s += ds_digest_sum(b + 8 * c, c * 8 + 8 <= sizeof b ? 8 : sizeof b - 8 * c, c);
    ck_assert_uint_eq(s, whole);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("digest");
    TCase *tc = tcase_create("digest");
    tcase_add_test(tc, known_answers);
    tcase_add_test(tc, every_bit_counts);
    tcase_add_test(tc, order_counts);
    tcase_add_test(tc, alignment_and_length);
    tcase_add_test(tc, chunks_add_up);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
