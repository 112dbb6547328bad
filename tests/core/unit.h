/* Helpers shared by the unit tests. */
#ifndef UNIT_H
#define UNIT_H
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detshim.h"

/* Run one suite; returns the process exit status. */
static inline int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A getenv stand-in over a NULL-terminated list of "NAME=value" strings. */
extern const char *const *unit_env;
static inline const char *unit_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = unit_env; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}
#endif
