/* Fuzz target: the kernel database format (shim/layers/kernels/kernels.db, `detshim scan -o` output,
 * DETSHIM_KERNELS files) and the DETSHIM_ALLOW/DENY pattern lists. The parser must
 * never crash or read out of bounds; every entry it keeps has a non-empty pattern and a
 * reason; every rejected line is reported once; matching any name is safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kerneldb.h"

static int messages;
static void count_err(void *arg, const char *msg)
{
    (void)arg;
    if (!msg || !*msg) abort(); /* every rejection says why */
    messages++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ds_kdb db;
    ds_kdb_init(&db);
    messages = 0;
    int bad = ds_kdb_parse(&db, (const char *)data, size, "fuzz", count_err, NULL);
    if (bad < 0 || bad != messages) abort();
    for (size_t i = 0; i < db.n; i++)
        if (!db.e[i].pattern || !db.e[i].pattern[0] || !db.e[i].reason) abort();
    /* the input as a user list, and as a kernel name to match */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = 0;
        ds_kdb_add_patterns(&db, s, "DETSHIM_DENY");
        (void)ds_kdb_match(&db, s, "void at::native::indexFuncLargeIndex<double>(int)");
        free(s);
    }
    ds_kdb_free(&db);
    return 0;
}
