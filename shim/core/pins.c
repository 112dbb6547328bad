/* pins.c: environment variables the shim fixes before anything reads them.
 * Runs in the constructor (so that Python's os.environ and cuBLAS's first handle
 * see the values), in enforce and strict mode, for layers that are not disabled. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "detshim.h"

struct pin {
    enum ds_layer layer;
    const char *var, *value, *accept, *reason;
    const char *optin; /* PIN_OPTIN: the variable that turns the pin on; NULL: always */
};

static const struct pin pins[] = {
#define PIN(layer, var, value, accept, reason) {DS_LAYER_##layer, var, value, accept, reason, NULL},
#define PIN_OPTIN(optin, layer, var, value, accept, reason) \
    {DS_LAYER_##layer, var, value, accept, reason, optin},
#include "pins.def"
};
#define NPINS (sizeof pins / sizeof *pins)

/* What the constructor did, for the header. */
static struct {
    enum { PIN_KEPT, PIN_SET, PIN_REPLACED } what;
    char previous[128];
    bool previous_truncated;
} done[NPINS];
static bool applied;

static bool accepted(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* A PIN_OPTIN's switch; when off, verbose mode says how to turn it on. */
static bool opted_in(const struct pin *p)
{
    const char *v = secure_getenv(p->optin);
    bool on = false;
    if (v && *v && ds_parse_bool(v, &on) != 0) {
        on = false;
        ds_say("detshim: %s='%.200s' is not valid; accepted values: 0, 1, yes, no, true, false, on, off; "
               "using 0 (%s is not pinned)", p->optin, v, p->var);
    }
    if (!on && ds_cfg.verbose)
        ds_say("detshim: opt-in pin not applied: %s=%s is exported only with %s=1 (%s)", p->var,
               p->value, p->optin, p->reason); /* the constructor: stderr alone */
    return on;
}

void ds_pins_apply(void)
{
    if (!ds_enforcing()) return;
    applied = true;
    for (size_t i = 0; i < NPINS; i++) {
        done[i].what = PIN_KEPT;
        if (ds_cfg.disabled & (1u << pins[i].layer)) continue;
        if (pins[i].optin && !opted_in(&pins[i])) continue;
        const char *cur = secure_getenv(pins[i].var);
        if (cur && (!pins[i].accept || accepted(pins[i].accept, cur))) continue;
        if (cur) {
            size_t n = strlen(cur);
            done[i].previous_truncated = n >= sizeof done[i].previous;
            memcpy(done[i].previous, cur, done[i].previous_truncated ? sizeof done[i].previous - 1 : n);
            done[i].what = PIN_REPLACED;
        } else
            done[i].what = PIN_SET;
        const char *value = pins[i].value;
        setenv(pins[i].var, value, 1);
        /* the constructor runs this: stderr alone, never a log file */
        if (ds_cfg.verbose)
            ds_say("detshim: pinned %s=%s%s%s (%s)", pins[i].var, value, cur ? ", replacing " : "",
                   cur ? done[i].previous : "", pins[i].reason);
    }
}

void ds_pins_header(struct jbuf *jb)
{
    jb_arr_begin(jb, "pins");
    for (size_t i = 0; applied && i < NPINS; i++) {
        if (done[i].what == PIN_KEPT) continue;
        jb_obj_begin(jb);
        jb_str(jb, "var", pins[i].var);
        jb_str(jb, "value", pins[i].value);
        jb_str(jb, "layer", ds_layers[pins[i].layer].name);
        jb_str(jb, "action", done[i].what == PIN_SET ? "set" : "replaced");
        if (done[i].what == PIN_REPLACED)
            jb_str(jb, "previous", done[i].previous);
        else
            jb_null(jb, "previous");
        jb_str(jb, "reason", pins[i].reason);
        jb_obj_end(jb);
    }
    jb_arr_end(jb);
}
