/* cublaslt_choice.c: the algorithm cuBLASLt chose per problem signature (descriptor, the
 * four layouts, the caller's limits: not the alignments), remembered in a fixed-size
 * lock-free table, and the events about it: the first choice for each signature, and a
 * signature that later gets another algorithm in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublaslt_layer.h"

#define OK CUBLAS_STATUS_SUCCESS

uint64_t algo_read(const cublasLtMatmulAlgo_t *a, struct acfg *c)
{
    memset(c, 0, sizeof *c);
    if (lt.algo_get) {
        bool ok = lt.algo_get(a, CUBLASLT_ALGO_CONFIG_ID, &c->id, 4, NULL) == OK;
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_TILE_ID, &c->tile, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &c->splitk, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &c->red, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &c->swizzle, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &c->custom, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_STAGES_ID, &c->stages, 4, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, &c->inner, 2, NULL);
        lt.algo_get(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &c->cluster, 2, NULL);
        c->known = ok;
    }
    if (c->known) return ds_hash64(c, sizeof *c, 0x616c676fu);
    return ds_hash64(a->data, sizeof a->data, 0x616c676fu); /* the algo's own bytes */
}

/* Signature -> the first algorithm it got. Insert-only, lock-free. */
#define MAX_SIGS 4096
struct sent {
    _Atomic uint64_t key;
    _Atomic bool ready;
    uint64_t algo_hash;
    struct acfg algo;
};
static struct sent sigs[MAX_SIGS];
static _Atomic bool sigs_full_said;

enum rec { REC_NEW, REC_SAME, REC_DIFF, REC_FULL };

static enum rec sig_record(uint64_t key, uint64_t ah, const struct acfg *c, struct acfg *prev)
{
    for (unsigned i = 0, j = (unsigned)key & (MAX_SIGS - 1); i < MAX_SIGS; i++, j = (j + 1) & (MAX_SIGS - 1)) {
        struct sent *e = &sigs[j];
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == 0) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&e->key, &expected, key)) {
                e->algo_hash = ah;
                e->algo = *c;
                atomic_store_explicit(&e->ready, true, memory_order_release);
                return REC_NEW;
            }
            k = expected;
        }
        if (k == key) {
            if (!atomic_load_explicit(&e->ready, memory_order_acquire)) return REC_SAME; /* racing */
            if (e->algo_hash == ah) return REC_SAME;
            *prev = e->algo;
            return REC_DIFF;
        }
    }
    if (!atomic_exchange(&sigs_full_said, true))
        ds_notice("cublaslt", true,
                  "more than %d distinct cuBLASLt problems: further ones are not checked for a "
                  "changing algorithm", MAX_SIGS);
    return REC_FULL;
}

/* ---- event records --------------------------------------------------------------------- */
static const char *red_name(uint32_t r)
{
    switch (r) {
    case CUBLASLT_REDUCTION_SCHEME_NONE: return "NONE";
    case CUBLASLT_REDUCTION_SCHEME_INPLACE: return "INPLACE";
    case CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE: return "COMPUTE_TYPE";
    case CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE: return "OUTPUT_TYPE";
    default: return "?";
    }
}

static int algo_text(char *b, size_t n, const struct acfg *c)
{
    if (!c->known) return snprintf(b, n, "an algorithm (config attributes unreadable)");
    return snprintf(b, n, "algo %d (tile %u, split-K %d, reduction %s)", (int)c->id, c->tile, (int)c->splitk,
                    red_name(c->red));
}


static void algo_obj(struct jbuf *jb, const char *key, const struct acfg *c)
{
    jb_key(jb, key);
    jb_obj_begin(jb);
    if (c->known) {
        jb_int(jb, "id", c->id);
        jb_uint(jb, "tile", c->tile);
        jb_int(jb, "splitk", c->splitk);
        jb_str(jb, "reduction", red_name(c->red));
        jb_uint(jb, "cta_swizzling", c->swizzle);
        jb_uint(jb, "custom_option", c->custom);
        jb_uint(jb, "stages", c->stages);
        jb_uint(jb, "inner_shape", c->inner);
        jb_uint(jb, "cluster_shape", c->cluster);
    }
    jb_obj_end(jb);
}

static void pref_obj(struct jbuf *jb, const char *key, const struct prefs *p)
{
    jb_key(jb, key);
    jb_obj_begin(jb);
    jb_arr_begin(jb, "alignment");
    for (int i = 0; i < 4; i++) jb_uint(jb, NULL, p->align[i]);
    jb_arr_end(jb);
    jb_uint(jb, "reduction_mask", p->mask);
    jb_uint(jb, "max_workspace", p->max_ws);
    jb_obj_end(jb);
}

void lt_extra(struct jbuf *jb, void *arg)
{
    const struct lt_info *x = arg;
    const struct sig *s = x->sig;
    jb_hex(jb, "signature_id", x->key);
    jb_key(jb, "signature");
    jb_obj_begin(jb);
    for (size_t i = 0; i < NDESC; i++)
        if (s->desc[i] != UNKNOWN) jb_int(jb, desc_attrs[i].name, s->desc[i]);
    static const char *const mats[4] = {"A", "B", "C", "D"};
    for (int i = 0; i < 4; i++) {
        const struct layout_sig *l = &s->lay[i];
        jb_key(jb, mats[i]);
        jb_obj_begin(jb);
        jb_int(jb, "type", l->type);
        jb_int(jb, "order", l->order);
        jb_uint(jb, "rows", l->rows);
        jb_uint(jb, "cols", l->cols);
        jb_int(jb, "ld", l->ld);
        jb_int(jb, "batch", l->batch);
        jb_int(jb, "stride", l->stride);
        jb_obj_end(jb);
    }
    jb_uint(jb, "max_workspace", s->max_ws);
    jb_uint(jb, "reduction_mask", s->mask);
    jb_obj_end(jb);
    algo_obj(jb, "algo", x->algo);
    if (x->prev) algo_obj(jb, "previous_algo", x->prev);
    if (x->seen) {
        jb_key(jb, "preference");
        jb_obj_begin(jb);
        pref_obj(jb, "requested", x->seen);
        if (x->used) pref_obj(jb, "used", x->used);
        jb_obj_end(jb);
    }
}

/* After a choice: remember it, and log a new signature or a changed algorithm. Returns
 * false when strict mode refuses the changed algorithm. */
bool dslt_note_choice(enum ds_hook hook, uint64_t key, const struct sig *s, const cublasLtMatmulAlgo_t *a,
                      const struct prefs *seen, const struct prefs *used, bool changed)
{
    struct acfg c, prev;
    uint64_t ah = algo_read(a, &c);
    enum rec r = sig_record(key, ah, &c, &prev);
    if (r == REC_SAME || r == REC_FULL) return true;
    struct lt_info info = {s, key, &c, NULL, seen, changed ? used : NULL};
    char at[160], detail[640];
    algo_text(at, sizeof at, &c);
    struct ds_event ev;
    if (r == REC_NEW) {
        enum ds_action act = changed ? DS_ACT_FORCED : DS_ACT_OBSERVED;
        if (!ds_event_capture(&ev, hook, act, key)) return true;
        const char *who = hook == DS_HOOK_cublasLtMatmul ? "chosen by the shim for cublasLtMatmul (NULL algo)"
                                                         : "chosen by the cuBLASLt heuristic";
        if (changed)
            snprintf(detail, sizeof detail,
                     "new cuBLASLt problem: %s, %s, with alignment preferences normalised to %u/%u/%u/%u "
                     "bytes (requested %u/%u/%u/%u) and reduction schemes 0x%x (requested 0x%x)",
                     at, who, used->align[0], used->align[1], used->align[2], used->align[3], seen->align[0],
                     seen->align[1], seen->align[2], seen->align[3], used->mask, seen->mask);
        else if (ds_enforcing())
            snprintf(detail, sizeof detail, "new cuBLASLt problem: %s, %s (preferences already within policy)",
                     at, who);
        else
            snprintf(detail, sizeof detail,
                     "new cuBLASLt problem: %s, %s from alignment preferences %u/%u/%u/%u bytes, which come "
                     "from the buffers' addresses: another run may choose differently", at, who,
                     seen->align[0], seen->align[1], seen->align[2], seen->align[3]);
        ds_event_log(&ev, detail, lt_extra, &info);
        return true;
    }
    /* REC_DIFF */
    bool strict = ds_cfg.mode == DS_MODE_STRICT;
    info.prev = &prev;
    if (!ds_event_capture(&ev, hook, strict ? DS_ACT_BLOCKED : DS_ACT_OBSERVED, key ^ ah)) return !strict;
    char pt[160];
    algo_text(pt, sizeof pt, &prev);
    snprintf(detail, sizeof detail,
             "the same cuBLASLt problem got %s where it got %s earlier in this run: the two results may "
             "differ bitwise%s", at, pt, ds_enforcing() ? " (after alignment normalisation)" : "");
    ds_event_log(&ev, detail, lt_extra, &info);
    if (strict)
        ds_refuse(&ev, "a cuBLASLt problem whose algorithm changed within the run",
                  "DETSHIM_DISABLE=cublaslt");
    return !strict;
}
