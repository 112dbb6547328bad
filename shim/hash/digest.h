/* digest.h: hash mode's digest of a byte range, one definition for the host (hash_digest.c,
 * hash_hooks.c, the tests' fake driver) and the device (digest_kernel.cu), so that a digest
 * means the same bits whichever side computed it.
 *
 * The range [p, p + n) is read as m = ceil(n / 8) little-endian 64-bit words w_0 .. w_{m-1},
 * the last one zero-padded. Then
 *
 *     term(w, i) = fmix64((w + C1) ^ (i * C2))      bijective in w for a fixed i
 *     sum        = term(w_0, 0) + ... + term(w_{m-1}, m-1)      (mod 2^64)
 *     digest     = fmix64(sum ^ fmix64(n ^ C3))
 *
 * with fmix64 MurmurHash3's 64-bit finaliser. Integer addition is associative and
 * commutative, so any split of the words among threads, warps, blocks or host chunks gives
 * the same sum: the device's digest is exact and deterministic, and equal to the host's. The
 * word index makes the order of the words count; the length tells a range from the same
 * range with zero bytes appended. Not cryptographic: changes in two words cancel out with
 * a probability of about 2^-64.
 *
 * Device code reads a word with one 8-byte load when the range starts 8-byte aligned and the
 * word is whole, otherwise byte by byte; it never reads outside the range. */
#ifndef DETSHIM_DIGEST_H
#define DETSHIM_DIGEST_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DS_DIGEST_FN static __forceinline__ __host__ __device__
#else
#define DS_DIGEST_FN static inline
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "digest.h reads words in host byte order: a big-endian host needs byte swaps here"
#endif
#endif

#define DS_DIGEST_NAME "detshim-wordsum64"
#define DS_DIGEST_C1 0x9e3779b97f4a7c15ull
#define DS_DIGEST_C2 0xd6e8feb86659fd93ull
#define DS_DIGEST_C3 0x6a09e667f3bcc909ull

DS_DIGEST_FN uint64_t ds_digest_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* The term of word w at index i (counted from the start of the range). */
DS_DIGEST_FN uint64_t ds_digest_term(uint64_t w, uint64_t i)
{
    return ds_digest_fmix64((w + DS_DIGEST_C1) ^ (i * DS_DIGEST_C2));
}

/* Word i of the n-byte range at p (8 * i < n); whole_loads: p is 8-byte aligned (device), or
 * the caller may load unaligned words (host, through memcpy). */
DS_DIGEST_FN uint64_t ds_digest_word(const unsigned char *p, uint64_t n, uint64_t i, int whole_loads)
{
    uint64_t at = 8 * i, w = 0;
    if (whole_loads && n - at >= 8) {
#ifdef __CUDA_ARCH__
        return *(const uint64_t *)(p + at);
#else
        memcpy(&w, p + at, 8);
        return w;
#endif
    }
    for (unsigned k = 0; k < 8 && at + k < n; k++) w |= (uint64_t)p[at + k] << (8 * k);
    return w;
}

DS_DIGEST_FN uint64_t ds_digest_final(uint64_t sum, uint64_t n)
{
    return ds_digest_fmix64(sum ^ ds_digest_fmix64(n ^ DS_DIGEST_C3));
}

/* Host only (below). The sum of the terms of the n bytes at p, whose first word has index i0
 * in the whole range (a chunk of a longer range starts at a multiple of 8 bytes: i0 = its
 * offset / 8). */
static inline uint64_t ds_digest_sum(const void *p, size_t n, uint64_t i0)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t s = 0, m = ((uint64_t)n + 7) / 8;
    for (uint64_t i = 0; i < m; i++) s += ds_digest_term(ds_digest_word(b, n, i, 1), i0 + i);
    return s;
}

/* The digest of n bytes of host memory. */
static inline uint64_t ds_digest(const void *p, size_t n)
{
    return ds_digest_final(ds_digest_sum(p, n, 0), n);
}
#endif
