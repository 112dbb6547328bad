/* hash64.c: the one 64-bit hash the shim uses for call sites, misses and Python stacks
 * (FNV-1a with a final mix; never 0, so 0 can mean "empty"). Calls nothing. */
#include "detshim.h"

uint64_t ds_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}
