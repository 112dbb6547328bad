/* Fuzz target: every DETSHIM_* value the shim parses. The input is a list of
 * "NAME=value" lines; the parser must never crash, never read past a value, keep
 * every field within its documented range, and say why for each rejected value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detshim.h"

static const char *envs[32];
static const char *fuzz_getenv(const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; envs[i]; i++)
        if (!strncmp(envs[i], name, n) && envs[i][n] == '=') return envs[i] + n + 1;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    int k = 0;
    for (char *line = strtok(copy, "\n"); line && k < 31; line = strtok(NULL, "\n")) envs[k++] = line;
    envs[k] = NULL;

    struct ds_config c;
    ds_config_parse(&c, fuzz_getenv, -1);
    if ((unsigned)c.mode > DS_MODE_STRICT) abort();
    if (c.stack_depth < 1 || c.stack_depth > DS_MAX_FRAMES) abort();
    if (c.verbose < 0 || c.verbose > 2) abort();
    if (c.disabled >> DS_LAYER_COUNT) abort();
    if (c.log_template_set && strnlen(c.log_template, sizeof c.log_template) >= sizeof c.log_template)
        abort();

    /* the pieces on their own, on the raw input */
    unsigned mask;
    char bad[64];
    ds_parse_layers(copy, &mask, bad, sizeof bad);
    if (mask >> DS_LAYER_COUNT) abort();
    char out[256];
    if (ds_expand_template(copy, out, sizeof out, "host", 12345, k ? envs[0] : NULL) == 0 &&
        strnlen(out, sizeof out) >= sizeof out)
        abort();
    free(copy);
    return 0;
}
