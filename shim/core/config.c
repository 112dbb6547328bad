/* config.c: DETSHIM_* parsing and validation, read once.
 *
 * Every malformed value gets one message on stderr naming the variable, the bad
 * value and what is accepted; the safe default is kept; nothing aborts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "detshim.h"

struct ds_config ds_cfg = {.mode = DS_MODE_ENFORCE, .stack_depth = 32};
_Atomic unsigned ds_active_layers;

static const char *const mode_names[] = {"off", "log", "enforce", "strict"};

const char *ds_mode_name(enum ds_mode m)
{
    return (unsigned)m < 4 ? mode_names[m] : "?";
}

int ds_parse_mode(const char *s, enum ds_mode *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, mode_names[i]) == 0) {
            *out = (enum ds_mode)i;
            return 0;
        }
    return -1;
}

int ds_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -1;
}

/* A comma-separated list of layer names ("cudnn,kernels"); blanks around names and
 * empty items are allowed; "all" names every layer. On an unknown name, copies it to
 * bad and returns -1 (mask then holds the valid names seen). */
int ds_parse_layers(const char *s, unsigned *mask, char *bad, size_t badsz)
{
    unsigned m = 0;
    int rc = 0;
    const char *p = s;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *b = p;
        while (*p && *p != ',') p++;
        const char *e = p;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        size_t n = (size_t)(e - b);
        bool found = false;
        if (n == 3 && strncasecmp(b, "all", 3) == 0) {
            m |= (1u << DS_LAYER_COUNT) - 1;
            found = true;
        }
        for (int i = 0; i < DS_LAYER_COUNT && !found; i++)
            if (strlen(ds_layers[i].name) == n && strncasecmp(b, ds_layers[i].name, n) == 0) {
                m |= 1u << i;
                found = true;
            }
        if (!found && rc == 0) {
            rc = -1;
            if (bad && badsz) snprintf(bad, badsz, "%.*s", (int)n, b);
        }
    }
    *mask = m;
    return rc;
}

static void complain(int fd, const char *var, const char *val, const char *accepted,
                     const char *using)
{
    if (fd < 0) return;
    char msg[1024];
    int n = snprintf(msg, sizeof msg,
                     "detshim: %s='%.200s' is not valid; accepted values: %s; using %s\n", var,
                     val, accepted, using);
    if (n > 0) {
        ssize_t w = write(fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)w;
    }
}

static void layer_list(char *out, size_t sz)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < DS_LAYER_COUNT; i++) {
        int n = snprintf(out + len, sz - len, "%s%s", i ? ", " : "", ds_layers[i].name);
        if (n < 0 || (size_t)n >= sz - len) break;
        len += (size_t)n;
    }
    snprintf(out + len, sz - len, ", all (comma-separated)");
}

int ds_config_parse(struct ds_config *cfg, ds_getenv_fn get, int err_fd)
{
    int bad = 0;
    const char *v;
    cfg->mode = DS_MODE_ENFORCE;
    cfg->disabled = 0;
    cfg->verbose = 0;
    cfg->stack_depth = 32;
    cfg->log_template[0] = 0;
    cfg->log_template_set = false;
    cfg->secure = false;

    if ((v = get("DETSHIM_MODE")) && *v && ds_parse_mode(v, &cfg->mode) != 0) {
        complain(err_fd, "DETSHIM_MODE", v, "off, log, enforce, strict", "'enforce'");
        cfg->mode = DS_MODE_ENFORCE;
        bad++;
    }

    if ((v = get("DETSHIM_DISABLE")) && *v) {
        char badname[64];
        if (ds_parse_layers(v, &cfg->disabled, badname, sizeof badname) != 0) {
            char acc[256];
            layer_list(acc, sizeof acc);
            char using[128];
            snprintf(using, sizeof using, "the known names only (unknown: '%s')", badname);
            complain(err_fd, "DETSHIM_DISABLE", v, acc, using);
            bad++;
        }
    }

    if ((v = get("DETSHIM_VERBOSE")) && *v) {
        bool b;
        if (strcmp(v, "2") == 0 || strcasecmp(v, "trace") == 0)
            cfg->verbose = 2;
        else if (ds_parse_bool(v, &b) == 0)
            cfg->verbose = b ? 1 : 0;
        else {
            complain(err_fd, "DETSHIM_VERBOSE", v, "0, 1, 2, trace, yes, no, true, false, on, off",
                     "0");
            bad++;
        }
    }

    if ((v = get("DETSHIM_STACK_DEPTH")) && *v) {
        char *end;
        long d = strtol(v, &end, 10);
        if (*end || d < 1 || d > DS_MAX_FRAMES) {
            char acc[64];
            snprintf(acc, sizeof acc, "an integer from 1 to %d", DS_MAX_FRAMES);
            complain(err_fd, "DETSHIM_STACK_DEPTH", v, acc, "32");
            bad++;
        } else
            cfg->stack_depth = (int)d;
    }

    if ((v = get("DETSHIM_LOG")) && *v) {
        char probe[DS_PATH_MAX];
        if (strlen(v) >= sizeof cfg->log_template ||
            ds_expand_template(v, probe, sizeof probe, "h", 1, "0") != 0) {
            complain(err_fd, "DETSHIM_LOG", v,
                     "a path shorter than 4096 bytes; escapes %p (pid), %r (rank), %h (host), %%",
                     "the default template");
            bad++;
        } else {
            memcpy(cfg->log_template, v, strlen(v) + 1);
            cfg->log_template_set = true;
        }
    }
    return bad;
}

/* secure_getenv: nothing at all under secure execution (a setuid or setgid program, file
 * capabilities), whoever calls it. */
const char *ds_libc_getenv(const char *n) { return secure_getenv(n); }

void ds_config_apply(bool secure)
{
    if (secure) {
        /* Secure execution (AT_SECURE: setuid/setgid, capabilities, or /etc/ld.so.preload
         * in such a program): the caller's environment is not to be trusted, so the shim
         * reads none of it and does nothing: no pins, no log, no databases, no stderr. */
        ds_cfg = (struct ds_config){.mode = DS_MODE_OFF, .stack_depth = 32, .secure = true};
        atomic_store(&ds_active_layers, 0);
        return;
    }
    ds_config_parse(&ds_cfg, ds_libc_getenv, STDERR_FILENO);
    unsigned active = 0;
    if (ds_cfg.mode != DS_MODE_OFF) active = ((1u << DS_LAYER_COUNT) - 1) & ~ds_cfg.disabled;
    atomic_store(&ds_active_layers, active);
}

void ds_config_init(void) { ds_config_apply(getauxval(AT_SECURE) != 0); }
