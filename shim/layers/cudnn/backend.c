/* backend.c: cuDNN, the backend (graph) API.
 *
 * An engine that may give different results from run to run carries the numerical
 * note CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC (engine config -> CUDNN_ATTR_ENGINECFG_ENGINE
 * -> CUDNN_ATTR_ENGINE_NUMERICAL_NOTE). Callers (torch, cudnn_frontend) get engine
 * configs from a heuristics descriptor (CUDNN_ATTR_ENGINEHEUR_RESULTS), finalise an
 * execution plan on one, and on failure try the next.
 *
 * log      nothing changes; heuristics that offer nondeterministic engines, and plans
 *          finalised or executed on one, are recorded (observed).
 * enforce  heuristics results hide nondeterministic engine configs (vendor order kept,
 *          count lowered; a count-only query reports the same lowered count), and
 *          finalising a plan on a nondeterministic engine fails with
 *          CUDNN_STATUS_NOT_SUPPORTED, so the caller moves to its next candidate (forced).
 * strict   as enforce (blocked); heuristics with no deterministic engine at all fail
 *          with CUDNN_STATUS_NOT_SUPPORTED and a message on stderr.
 *
 * Plans are told apart by a lock-free table keyed by the descriptor pointer: entries
 * are made when a plan descriptor is created and when its engine config is set (the
 * engine's notes are read then, while the caller's engine config is surely alive),
 * and removed before the descriptor is destroyed. Calls that come from a cuDNN library
 * itself pass through untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudnn_layer.h"

/* ---- the engine behind an engine config ------------------------------------------------ */

struct engine_info {
    long long index; /* CUDNN_ATTR_ENGINE_GLOBAL_INDEX, -1 unknown */
    unsigned notes;  /* bit per numerical note */
};

#define MAX_NOTES 32

/* 1: nondeterministic, 0: deterministic, -1: could not be told. */
static int engcfg_verdict(cudnnBackendDescriptor_t engcfg, struct engine_info *info)
{
    info->index = -1;
    info->notes = 0;
    ds_real_cudnnBackendCreateDescriptor_t create = DS_REAL(cudnnBackendCreateDescriptor);
    ds_real_cudnnBackendDestroyDescriptor_t destroy = DS_REAL(cudnnBackendDestroyDescriptor);
    ds_real_cudnnBackendGetAttribute_t get = DS_REAL(cudnnBackendGetAttribute);
    if (!engcfg || !create || !destroy || !get) return -1;
    cudnnBackendDescriptor_t eng = NULL;
    if (create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng) != CUDNN_STATUS_SUCCESS || !eng) return -1;
    int verdict = -1;
    int64_t n = 0;
    if (get(engcfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng) ==
            CUDNN_STATUS_SUCCESS && n == 1) {
        int64_t idx = -1;
        n = 0;
        if (get(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &idx) == CUDNN_STATUS_SUCCESS &&
            n == 1)
            info->index = idx;
        cudnnBackendNumericalNote_t notes[MAX_NOTES];
        n = 0;
        if (get(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, MAX_NOTES, &n, notes) ==
            CUDNN_STATUS_SUCCESS) {
            verdict = 0;
            for (int64_t i = 0; i < n && i < MAX_NOTES; i++) {
                if ((unsigned)notes[i] < 32) info->notes |= 1u << notes[i];
                if (notes[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) verdict = 1;
            }
        }
    }
    destroy(eng);
    return verdict;
}

/* The engine of a finalised plan, read back from the plan itself. */
static int plan_verdict(cudnnBackendDescriptor_t plan, struct engine_info *info)
{
    info->index = -1;
    info->notes = 0;
    ds_real_cudnnBackendCreateDescriptor_t create = DS_REAL(cudnnBackendCreateDescriptor);
    ds_real_cudnnBackendDestroyDescriptor_t destroy = DS_REAL(cudnnBackendDestroyDescriptor);
    ds_real_cudnnBackendGetAttribute_t get = DS_REAL(cudnnBackendGetAttribute);
    if (!create || !destroy || !get) return -1;
    cudnnBackendDescriptor_t cfg = NULL;
    if (create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg) != CUDNN_STATUS_SUCCESS || !cfg) return -1;
    int64_t n = 0;
    int v = -1;
    if (get(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &cfg) ==
            CUDNN_STATUS_SUCCESS && n == 1)
        v = engcfg_verdict(cfg, info);
    destroy(cfg);
    return v;
}

static void notes_array(struct jbuf *jb, unsigned notes)
{
    jb_arr_begin(jb, "notes");
    for (int i = 0; i < 32; i++)
        if (notes >> i & 1u) jb_int(jb, NULL, i);
    jb_arr_end(jb);
}

/* ---- plan table ---------------------------------------------------------------------- */

#define DT_SLOTS 16384u /* power of two */
#define DT_PROBE 32u    /* bounded probing: a miss costs at most this many loads */
#define DT_EMPTY ((uintptr_t)0)
#define DT_TOMB ((uintptr_t)1)

enum { F_PLAN = 1u, F_KNOWN = 2u, F_NONDET = 4u };

struct dt_entry {
    _Atomic uintptr_t key;
    _Atomic unsigned flags;
    _Atomic unsigned notes;
    _Atomic long long engine;
};

static struct dt_entry dtab[DT_SLOTS];
static _Atomic unsigned dt_live; /* keys in the table */
static _Atomic bool dt_full;     /* a plan could not be entered: finalize looks harder */

static unsigned dt_slot(uintptr_t k, unsigned i)
{
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ull;
    return ((unsigned)(h >> 40) + i) & (DT_SLOTS - 1);
}

static struct dt_entry *dt_find(const void *p)
{
    uintptr_t k = (uintptr_t)p;
    if (k <= DT_TOMB || atomic_load_explicit(&dt_live, memory_order_relaxed) == 0) return NULL;
    for (unsigned i = 0; i < DT_PROBE; i++) {
        struct dt_entry *e = &dtab[dt_slot(k, i)];
        if (atomic_load_explicit(&e->key, memory_order_acquire) == k) return e;
    }
    return NULL;
}

static struct dt_entry *dt_insert(const void *p)
{
    uintptr_t k = (uintptr_t)p;
    if (k <= DT_TOMB) return NULL;
    struct dt_entry *e = dt_find(p);
    if (e) return e;
    for (unsigned i = 0; i < DT_PROBE; i++) {
        e = &dtab[dt_slot(k, i)];
        uintptr_t cur = atomic_load_explicit(&e->key, memory_order_acquire);
        while (cur == DT_EMPTY || cur == DT_TOMB) {
            if (atomic_compare_exchange_weak(&e->key, &cur, k)) {
                atomic_store(&e->flags, 0);
                atomic_store(&e->notes, 0);
                atomic_store(&e->engine, -1);
                atomic_fetch_add(&dt_live, 1);
                return e;
            }
        }
    }
    if (!atomic_exchange(&dt_full, true))
        ds_notice("cudnn", true,
                  "too many live cuDNN execution plans to track: plans beyond the table are "
                  "checked after finalisation (slower)");
    return NULL;
}

static void dt_remove(const void *p)
{
    struct dt_entry *e = dt_find(p);
    if (!e) return;
    atomic_store(&e->flags, 0);
    uintptr_t k = (uintptr_t)p;
    if (atomic_compare_exchange_strong(&e->key, &k, DT_TOMB)) atomic_fetch_sub(&dt_live, 1);
}

static void dt_set(struct dt_entry *e, unsigned flags, const struct engine_info *info)
{
    atomic_store(&e->engine, info ? info->index : -1);
    atomic_store(&e->notes, info ? info->notes : 0);
    atomic_store(&e->flags, flags);
}

static unsigned verdict_flags(int v)
{
    return F_PLAN | (v >= 0 ? F_KNOWN : 0) | (v == 1 ? F_NONDET : 0);
}

/* ---- descriptor life ------------------------------------------------------------------ */

cudnnStatus_t ds_policy_cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                                     cudnnBackendDescriptor_t *descriptor)
{
    cudnnStatus_t st = DS_REAL(cudnnBackendCreateDescriptor)(descriptorType, descriptor);
    if (st != CUDNN_STATUS_SUCCESS || !descriptor || !*descriptor) return st;
    if (descriptorType == CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR) {
        struct dt_entry *e = dt_insert(*descriptor);
        if (e) dt_set(e, F_PLAN, NULL);
    } else if (DS_UNLIKELY(atomic_load_explicit(&dt_live, memory_order_relaxed) != 0)) {
        dt_remove(*descriptor); /* an address reused without our seeing its destruction */
    }
    return st;
}

cudnnStatus_t ds_policy_cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor)
{
    /* before the real destroy: once freed, the address may be handed out again */
    dt_remove(descriptor);
    return DS_REAL(cudnnBackendDestroyDescriptor)(descriptor);
}

cudnnStatus_t ds_policy_cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor,
                                                 cudnnBackendAttributeName_t attributeName,
                                                 cudnnBackendAttributeType_t attributeType, int64_t elementCount,
                                                 const void *arrayOfElements)
{
    cudnnStatus_t st = DS_REAL(cudnnBackendSetAttribute)(descriptor, attributeName, attributeType,
                                                         elementCount, arrayOfElements);
    if (DS_LIKELY(attributeName != CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG &&
                  attributeName != CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION) ||
        st != CUDNN_STATUS_SUCCESS)
        return st;
    /* only an execution plan has these attributes */
    struct dt_entry *e = dt_insert(descriptor);
    if (!e) return st;
    if (attributeName == CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG &&
        attributeType == CUDNN_TYPE_BACKEND_DESCRIPTOR && elementCount == 1 && arrayOfElements) {
        struct engine_info info;
        int v = engcfg_verdict(*(const cudnnBackendDescriptor_t *)arrayOfElements, &info);
        dt_set(e, verdict_flags(v), &info);
    } else {
        dt_set(e, F_PLAN, NULL); /* from a serialised plan: its engine is known after finalisation */
    }
    return st;
}

/* ---- plans ----------------------------------------------------------------------------- */

struct plan_log {
    long long engine;
    unsigned notes;
};

static void plan_extra(struct jbuf *jb, void *arg)
{
    const struct plan_log *p = arg;
    jb_int(jb, "engine", p->engine);
    notes_array(jb, p->notes);
}

static void plan_event(enum ds_hook hook, enum ds_action act, const struct plan_log *p, const char *detail)
{
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, (uint64_t)p->engine)) {
        ds_event_log(&ev, detail, plan_extra, (void *)p);
        if (act == DS_ACT_BLOCKED) ds_refuse(&ev, detail, DSC_ALLOW);
    }
}

/* A plan on a nondeterministic engine reaches cudnnBackendFinalize (already finalised
 * by the vendor when `done`). */
static cudnnStatus_t finalize_nondet(cudnnBackendDescriptor_t plan, struct dt_entry *e, struct plan_log *p,
                                     bool done)
{
    char detail[256];
    if (ds_enforcing()) {
        snprintf(detail, sizeof detail,
                 "refused to finalise an execution plan on nondeterministic engine %lld "
                 "(CUDNN_STATUS_NOT_SUPPORTED: the caller moves to its next candidate)", p->engine);
        plan_event(DS_HOOK_cudnnBackendFinalize, ds_cfg.mode == DS_MODE_STRICT ? DS_ACT_BLOCKED : DS_ACT_FORCED,
                   p, detail);
        return DSC_REFUSED;
    }
    cudnnStatus_t st = done ? CUDNN_STATUS_SUCCESS : DS_REAL(cudnnBackendFinalize)(plan);
    if (st == CUDNN_STATUS_SUCCESS) {
        snprintf(detail, sizeof detail, "execution plan finalised on nondeterministic engine %lld", p->engine);
        plan_event(DS_HOOK_cudnnBackendFinalize, DS_ACT_OBSERVED, p, detail);
    } else if (e) {
        dt_set(e, F_PLAN | F_KNOWN, NULL); /* never runs: nothing to note at execution */
    }
    return st;
}

cudnnStatus_t ds_policy_cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor)
{
    struct dt_entry *e = dt_find(descriptor);
    unsigned fl = e ? atomic_load(&e->flags) : 0;
    if (DS_LIKELY(!(fl & F_PLAN))) {
        if (DS_LIKELY(!atomic_load_explicit(&dt_full, memory_order_relaxed)) || e)
            return DS_REAL(cudnnBackendFinalize)(descriptor);
        /* the table overflowed: this may be a plan we could not enter */
        cudnnStatus_t st = DS_REAL(cudnnBackendFinalize)(descriptor);
        struct engine_info info;
        if (st != CUDNN_STATUS_SUCCESS || plan_verdict(descriptor, &info) != 1 || dsc_called_from_cudnn())
            return st;
        struct plan_log p = {info.index, info.notes};
        return finalize_nondet(descriptor, NULL, &p, true);
    }
    if (fl & F_KNOWN) {
        if (!(fl & F_NONDET)) return DS_REAL(cudnnBackendFinalize)(descriptor);
        if (dsc_called_from_cudnn()) {
            dt_set(e, F_PLAN | F_KNOWN, NULL); /* the vendor's own plan: not ours to note */
            return DS_REAL(cudnnBackendFinalize)(descriptor);
        }
        struct plan_log p = {atomic_load(&e->engine), atomic_load(&e->notes)};
        return finalize_nondet(descriptor, e, &p, false);
    }
    /* engine not known beforehand (a deserialised plan): finalise, then read it back */
    cudnnStatus_t st = DS_REAL(cudnnBackendFinalize)(descriptor);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    struct engine_info info;
    int v = plan_verdict(descriptor, &info);
    if (v == 1 && dsc_called_from_cudnn()) v = 0;
    dt_set(e, verdict_flags(v), &info);
    if (v != 1) return st;
    struct plan_log p = {info.index, info.notes};
    return finalize_nondet(descriptor, e, &p, true);
}

/* Running a plan: one table lookup; only a plan on a nondeterministic engine (log
 * mode) does more. */
static void note_run(enum ds_hook hook, cudnnBackendDescriptor_t plan, const char *how)
{
    struct dt_entry *e = dt_find(plan);
    if (DS_LIKELY(!e) || DS_LIKELY(!(atomic_load_explicit(&e->flags, memory_order_relaxed) & F_NONDET)))
        return;
    struct plan_log p = {atomic_load(&e->engine), atomic_load(&e->notes)};
    char detail[160];
    snprintf(detail, sizeof detail, "%s an execution plan on nondeterministic engine %lld", how, p.engine);
    plan_event(hook, DS_ACT_OBSERVED, &p, detail);
}

cudnnStatus_t dsc_backend_execute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                  cudnnBackendDescriptor_t variantPack)
{
    note_run(DS_HOOK_cudnnBackendExecute, executionPlan, "executed");
    return DS_REAL(cudnnBackendExecute)(handle, executionPlan, variantPack);
}

cudnnStatus_t ds_policy_cudnnBackendPopulateCudaGraph(cudnnHandle_t handle,
                                                      cudnnBackendDescriptor_t executionPlan,
                                                      cudnnBackendDescriptor_t variantPack, cudaGraph_t graph)
{
    note_run(DS_HOOK_cudnnBackendPopulateCudaGraph, executionPlan, "captured into a CUDA graph");
    return DS_REAL(cudnnBackendPopulateCudaGraph)(handle, executionPlan, variantPack, graph);
}

cudnnStatus_t ds_policy_cudnnBackendUpdateCudaGraph(cudnnHandle_t handle,
                                                    cudnnBackendDescriptor_t executionPlan,
                                                    cudnnBackendDescriptor_t variantPack, cudaGraph_t graph)
{
    note_run(DS_HOOK_cudnnBackendUpdateCudaGraph, executionPlan, "updated a CUDA graph with");
    return DS_REAL(cudnnBackendUpdateCudaGraph)(handle, executionPlan, variantPack, graph);
}

/* ---- heuristics results ------------------------------------------------------------------
 * A result's contents can only be placed into a descriptor by the vendor, in result
 * order: to hand the caller's i-th descriptor the i-th deterministic result, the shim
 * first reads every result into scratch descriptors to learn the engines, then asks
 * again with an array in which the deterministic results' positions hold the caller's
 * descriptors and the others fresh scratch ones. The caller's descriptors are written
 * once, by the vendor. A count-only query (no array, or requestedElementCount 0) gets
 * the number of deterministic results, the count the fetch will then honour. */

#define LOG_ENGINES 256

struct heur_log {
    int64_t results, requested;
    int noffered, nnondet, nreturned;
    long long offered[LOG_ENGINES], nondet[LOG_ENGINES], returned[LOG_ENGINES];
};

static void heur_extra(struct jbuf *jb, void *arg)
{
    const struct heur_log *h = arg;
    jb_int(jb, "results", h->results);
    jb_int(jb, "requested", h->requested);
    dsc_int_array(jb, "offered", h->offered, h->noffered);
    dsc_int_array(jb, "nondeterministic", h->nondet, h->nnondet);
    dsc_int_array(jb, "returned", h->returned, h->nreturned);
}

static uint64_t heur_subject(const struct heur_log *h)
{
    return ds_hash64(h->nondet, sizeof h->nondet[0] * (size_t)h->nnondet, 0x6865757200ull);
}

/* log mode: look at what the caller received */
static cudnnStatus_t heur_observe(cudnnBackendDescriptor_t heur, cudnnBackendAttributeType_t type,
                                  int64_t req, int64_t *count, void *arr)
{
    cudnnStatus_t st = DS_REAL(cudnnBackendGetAttribute)(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, type, req, count, arr);
    if (st != CUDNN_STATUS_SUCCESS || !arr || req <= 0 || *count <= 0 || dsc_called_from_cudnn()) return st;
    int64_t n = *count < req ? *count : req;
    cudnnBackendDescriptor_t *cfg = arr;
    struct heur_log *h = calloc(1, sizeof *h);
    if (!h) return st;
    h->results = n;
    h->requested = req;
    bool first_nondet = false;
    for (int64_t i = 0; i < n; i++) {
        struct engine_info info;
        int v = engcfg_verdict(cfg[i], &info);
        if (h->noffered < LOG_ENGINES) h->offered[h->noffered++] = info.index;
        if (h->nreturned < LOG_ENGINES) h->returned[h->nreturned++] = info.index;
        if (v == 1) {
            if (i == 0) first_nondet = true;
            if (h->nnondet < LOG_ENGINES) h->nondet[h->nnondet++] = info.index;
        }
    }
    struct ds_event ev;
    if (h->nnondet > 0 &&
        ds_event_capture(&ev, DS_HOOK_cudnnBackendGetAttribute, DS_ACT_OBSERVED, heur_subject(h))) {
        char ids[256], detail[512];
        dsc_int_text(ids, sizeof ids, h->nondet, h->nnondet);
        snprintf(detail, sizeof detail,
                 "engine heuristics offered nondeterministic engine%s %s among %lld; the first "
                 "choice, engine %lld, is %s",
                 h->nnondet > 1 ? "s" : "", ids, (long long)n, h->offered[0],
                 first_nondet ? "nondeterministic" : "deterministic");
        ds_event_log(&ev, detail, heur_extra, h);
    }
    free(h);
    return st;
}

#define HEUR_MAX 65536

/* The working set of one filtered query, one allocation. */
struct heur_work {
    struct heur_log log;
    size_t n;
    cudnnBackendDescriptor_t *scratch; /* every result, read to learn its engine */
    cudnnBackendDescriptor_t *map;     /* the array of the second read */
    long long *engine;
    signed char *verdict;
    bool *fresh; /* map[i] is a scratch descriptor of ours */
};

static struct heur_work *heur_work_new(size_t n)
{
    size_t sz = sizeof(struct heur_work) + n * (2 * sizeof(cudnnBackendDescriptor_t) + sizeof(long long) + 2);
    struct heur_work *w = calloc(1, sz);
    if (!w) return NULL;
    w->n = n;
    w->scratch = (cudnnBackendDescriptor_t *)(w + 1);
    w->map = w->scratch + n;
    w->engine = (long long *)(w->map + n);
    w->verdict = (signed char *)(w->engine + n);
    w->fresh = (bool *)(w->verdict + n);
    return w;
}

static cudnnStatus_t heur_filter(cudnnBackendDescriptor_t heur, cudnnBackendAttributeType_t type,
                                 int64_t req, int64_t *count, void *arr)
{
    ds_real_cudnnBackendGetAttribute_t get = DS_REAL(cudnnBackendGetAttribute);
    ds_real_cudnnBackendCreateDescriptor_t create = DS_REAL(cudnnBackendCreateDescriptor);
    ds_real_cudnnBackendDestroyDescriptor_t destroy = DS_REAL(cudnnBackendDestroyDescriptor);
#define PASS() get(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, type, req, count, arr)
    if (!create || !destroy || dsc_called_from_cudnn()) return PASS();
    int64_t total = 0;
    if (get(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, type, 0, &total, NULL) != CUDNN_STATUS_SUCCESS || total <= 0 ||
        total > HEUR_MAX)
        return PASS();
    struct heur_work *w = heur_work_new((size_t)total);
    if (!w) return PASS();

    /* 1. every result into scratch descriptors: which engines are nondeterministic */
    size_t made = 0;
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    for (; made < w->n; made++)
        if ((st = create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &w->scratch[made])) != CUDNN_STATUS_SUCCESS) break;
    int64_t got = 0;
    if (st == CUDNN_STATUS_SUCCESS) st = get(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, type, total, &got, w->scratch);
    if (got > total) got = total;
    int64_t ndet = 0, nnondet = 0;
    if (st == CUDNN_STATUS_SUCCESS)
        for (int64_t i = 0; i < got; i++) {
            struct engine_info info;
            w->verdict[i] = (signed char)engcfg_verdict(w->scratch[i], &info);
            w->engine[i] = info.index;
            if (w->verdict[i] == 1) nnondet++;
            else ndet++; /* deterministic, or not known: kept */
        }
    for (size_t i = 0; i < made; i++) destroy(w->scratch[i]);
    if (st != CUDNN_STATUS_SUCCESS || nnondet == 0) {
        free(w);
        return PASS();
    }
    struct heur_log *h = &w->log;
    h->results = got;
    h->requested = req;
    for (int64_t i = 0; i < got; i++) {
        if (h->noffered < LOG_ENGINES) h->offered[h->noffered++] = w->engine[i];
        if (w->verdict[i] == 1 && h->nnondet < LOG_ENGINES) h->nondet[h->nnondet++] = w->engine[i];
    }
    struct ds_event ev;
    char ids[256], detail[512];
    dsc_int_text(ids, sizeof ids, h->nondet, h->nnondet);

    /* 2. nothing deterministic: strict refuses */
    if (ndet == 0 && ds_cfg.mode == DS_MODE_STRICT) {
        *count = 0;
        if (ds_event_capture(&ev, DS_HOOK_cudnnBackendGetAttribute, DS_ACT_BLOCKED, heur_subject(h))) {
            snprintf(detail, sizeof detail,
                     "engine heuristics offered only nondeterministic engines (%s): refused", ids);
            ds_event_log(&ev, detail, heur_extra, h);
            ds_refuse(&ev, detail, DSC_ALLOW);
        }
        free(w);
        return DSC_REFUSED;
    }

    /* 3. a count-only query: the number the fetch will honour */
    if (!arr || req <= 0) {
        *count = ndet;
        /* the fetch logs the details; a caller that stops at an empty count would
         * otherwise leave no trace */
        if (ndet == 0 &&
            ds_event_capture(&ev, DS_HOOK_cudnnBackendGetAttribute, DS_ACT_FORCED, heur_subject(h))) {
            snprintf(detail, sizeof detail,
                     "engine heuristics offered only nondeterministic engines (%s): reported none", ids);
            ds_event_log(&ev, detail, heur_extra, h);
        }
        free(w);
        return CUDNN_STATUS_SUCCESS;
    }

    /* 4. a fetch: the first k deterministic results land in the caller's descriptors */
    int64_t k = req < ndet ? req : ndet, len = 0, placed = 0;
    for (int64_t i = 0; i < got && placed < k; i++)
        if (w->verdict[i] != 1) placed++, len = i + 1;
    cudnnBackendDescriptor_t *caller = arr;
    for (int64_t i = 0, j = 0; i < len && st == CUDNN_STATUS_SUCCESS; i++) {
        if (w->verdict[i] != 1)
            w->map[i] = caller[j++];
        else if ((st = create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &w->map[i])) == CUDNN_STATUS_SUCCESS)
            w->fresh[i] = true;
    }
    int64_t got2 = 0;
    if (st == CUDNN_STATUS_SUCCESS && len > 0)
        st = get(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, type, len, &got2, w->map);
    for (int64_t i = 0; i < len; i++)
        if (w->fresh[i]) destroy(w->map[i]);
    if (st != CUDNN_STATUS_SUCCESS) {
        free(w);
        return st;
    }
    int64_t filled = 0;
    for (int64_t i = 0; i < len && i < got2; i++)
        if (w->verdict[i] != 1) {
            if (h->nreturned < LOG_ENGINES) h->returned[h->nreturned++] = w->engine[i];
            filled++;
        }
    *count = filled;
    if (ds_event_capture(&ev, DS_HOOK_cudnnBackendGetAttribute, DS_ACT_FORCED, heur_subject(h))) {
        snprintf(detail, sizeof detail,
                 "engine heuristics: hid nondeterministic engine%s %s of %lld results; returned %lld "
                 "deterministic, in the vendor's order",
                 h->nnondet > 1 ? "s" : "", ids, (long long)got, (long long)filled);
        ds_event_log(&ev, detail, heur_extra, h);
    }
    free(w);
    return CUDNN_STATUS_SUCCESS;
#undef PASS
}

cudnnStatus_t ds_policy_cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
                                                 cudnnBackendAttributeName_t attributeName,
                                                 cudnnBackendAttributeType_t attributeType,
                                                 int64_t requestedElementCount, int64_t *elementCount,
                                                 void *arrayOfElements)
{
    /* the hot case: any other attribute, straight through */
    if (DS_LIKELY(attributeName != CUDNN_ATTR_ENGINEHEUR_RESULTS) ||
        attributeType != CUDNN_TYPE_BACKEND_DESCRIPTOR || !elementCount)
        return DS_REAL(cudnnBackendGetAttribute)(descriptor, attributeName, attributeType,
                                                 requestedElementCount, elementCount, arrayOfElements);
    /* CUDNN_ATTR_ENGINEHEUR_RESULTS belongs to engine heuristics descriptors only */
    if (!ds_enforcing())
        return heur_observe(descriptor, attributeType, requestedElementCount, elementCount, arrayOfElements);
    return heur_filter(descriptor, attributeType, requestedElementCount, elementCount, arrayOfElements);
}
