/* A fake libtensorflow_framework.so.2: TF's op-determinism state as TF keeps it (the
 * environment variable read once, then what EnableOpDeterminism set), under both names
 * TF 2.9-2.21 export (tensorflow:: until 2.10, tsl:: since 2.11). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int state = -1; /* -1: not read yet */

static bool required(void)
{
    if (state < 0) {
        const char *v = getenv("TF_DETERMINISTIC_OPS");
        state = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    }
    return state == 1;
}

bool _ZN3tsl21OpDeterminismRequiredEv(void) { return required(); }
bool _ZN10tensorflow21OpDeterminismRequiredEv(void) { return required(); }
void _ZN3tsl19EnableOpDeterminismEb(bool on) { state = on; }
void _ZN10tensorflow19EnableOpDeterminismEb(bool on) { state = on; }
