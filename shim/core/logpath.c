/* logpath.c: what a log path template expands to (%p pid, %r rank, %h host, %%), and this
 * process's rank from the launchers' variables. Shared by the configuration (which checks a
 * template), the log and hash mode's traces. Calls nothing of the shim's. */
#include <stdio.h>
#include <string.h>

#include "detshim.h"

const char *ds_rank(ds_getenv_fn get)
{
    static const char *const vars[] = {"RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK",
                                       "PMI_RANK", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = get(vars[i]);
        if (v && *v && strspn(v, "0123456789") == strlen(v)) return v;
    }
    return NULL;
}

int ds_expand_template(const char *tmpl, char *out, size_t outsz, const char *host, long pid,
                       const char *rank)
{
    size_t o = 0;
    for (const char *p = tmpl; *p; p++) {
        char tmp[320];
        const char *ins;
        if (*p != '%') {
            tmp[0] = *p;
            tmp[1] = 0;
            ins = tmp;
        } else {
            switch (*++p) {
            case 'p': snprintf(tmp, sizeof tmp, "%ld", pid); ins = tmp; break;
            case 'r': ins = rank ? rank : "norank"; break;
            case 'h': ins = host; break;
            case '%': ins = "%"; break;
            default: return -1; /* unknown escape, or a trailing '%' */
            }
        }
        size_t n = strlen(ins);
        if (o + n + 1 > outsz) return -1;
        memcpy(out + o, ins, n);
        o += n;
    }
    if (o == 0) return -1;
    out[o] = 0;
    return 0;
}
