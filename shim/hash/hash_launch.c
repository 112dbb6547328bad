/* hash_launch.c: hash mode for kernel launches. The kernels layer calls ds_hash_launch_pre
 * and ds_hash_launch_post around a launch (hash.h); the record goes to the trace
 * (hash_trace.c).
 *
 * What a launch reads and writes: the allocations reached by pointer-valued parameters.
 * The parameter layout comes from cudaFuncGetParamInfo / cuKernelGetParamInfo (runtime) or
 * cuFuncGetParamInfo (driver); each 8-byte parameter whose value lies in a device
 * allocation (cuMemGetAddressRange_v2) stands for that whole allocation. Without a
 * layout, only a driver launch's packed `extra` buffer is scanned (8-byte words); a
 * launch with neither is recorded without digests. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash_private.h"
#include "kernel_table.h"

/* ---- kernels: names and parameter layouts, once per kernel --------------------------------- */
#define MAXPARAMS 1024
struct kmeta {
    const char *mangled, *demangled;
    int nparams;            /* -1: unknown */
    unsigned short *off, *size;
};
#define KM_SLOTS 16384
static struct {
    uintptr_t key;
    struct kmeta *m;
} kmeta_tab[KM_SLOTS];
static pthread_mutex_t kmeta_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kmeta kmeta_unknown = {"?", "?", -1, NULL, NULL};

static int params_rt(const void *fn, bool kernel_handle, size_t *off, size_t *sz)
{
    rtparam_t f = p_rtparam();
    int n = -1;
    if (f) {
        rterr_t peek = p_rtpeek(), clear = p_rtget();
        cudaError_t before = peek ? peek() : cudaSuccess;
        cudaError_t st = cudaSuccess;
        for (n = 0; n < MAXPARAMS; n++) {
            st = f(fn, (size_t)n, &off[n], &sz[n]);
            if (st != cudaSuccess) break;
        }
        if (st != cudaSuccess && before == cudaSuccess && clear) (void)clear();
        if (n == 0 && st != cudaErrorInvalidValue) n = -1;
    }
    if (n < 0 && kernel_handle && p_kparam()) {
        kparam_t k = p_kparam();
        CUresult st = CUDA_SUCCESS;
        for (n = 0; n < MAXPARAMS; n++) {
            st = k((CUkernel)(uintptr_t)fn, (size_t)n, &off[n], &sz[n]);
            if (st != CUDA_SUCCESS) break;
        }
        if (n == 0 && st != CUDA_ERROR_INVALID_VALUE) n = -1;
    }
    return n;
}

static int params_drv(const void *fn, size_t *off, size_t *sz)
{
    fparam_t f = p_fparam();
    if (!f) return -1;
    CUresult st = CUDA_SUCCESS;
    int n;
    for (n = 0; n < MAXPARAMS; n++) {
        st = f((CUfunction)(uintptr_t)fn, (size_t)n, &off[n], &sz[n]);
        if (st != CUDA_SUCCESS) break;
    }
    if (n == 0 && st != CUDA_ERROR_INVALID_VALUE) return -1;
    return n;
}

static struct kmeta *kmeta_make(const struct ds_hlaunch *l)
{
    struct kmeta *m = calloc(1, sizeof *m);
    size_t *off = malloc(sizeof *off * MAXPARAMS), *sz = malloc(sizeof *sz * MAXPARAMS);
    if (!m || !off || !sz) {
        free(m), free(off), free(sz);
        return &kmeta_unknown;
    }
    const char *name = l->name;
    m->mangled = strdup(name ? name : "?");
    char *dem = name ? ds_demangle(name) : NULL;
    m->demangled = dem ? dem : m->mangled;
    bool handle = l->hook == DS_HOOK___cudaLaunchKernel || l->hook == DS_HOOK___cudaLaunchKernel_ptsz;
    m->nparams = l->kind == DS_KK_RT ? params_rt(l->fn, handle, off, sz) : params_drv(l->fn, off, sz);
    if (m->nparams > 0) {
        m->off = malloc(sizeof *m->off * (size_t)m->nparams);
        m->size = malloc(sizeof *m->size * (size_t)m->nparams);
        if (!m->off || !m->size) {
            m->nparams = -1;
        } else {
            for (int i = 0; i < m->nparams; i++) {
                m->off[i] = (unsigned short)off[i];
                m->size[i] = (unsigned short)sz[i];
            }
        }
    }
    if (!m->mangled) m->mangled = m->demangled = "?";
    free(off);
    free(sz);
    return m;
}

static struct kmeta *kmeta_get(const struct ds_hlaunch *l)
{
    uintptr_t key = ds_kkey((enum ds_kkind)l->kind, l->fn);
    unsigned s = ds_kslot_of(key) & (KM_SLOTS - 1);
    pthread_mutex_lock(&kmeta_mu);
    struct kmeta *m = &kmeta_unknown;
    for (unsigned i = 0; i < KM_SLOTS; i++, s = (s + 1) & (KM_SLOTS - 1)) {
        if (kmeta_tab[s].key == key) {
            m = kmeta_tab[s].m;
            break;
        }
        if (kmeta_tab[s].key == 0) {
            m = kmeta_make(l);
            kmeta_tab[s].key = key;
            kmeta_tab[s].m = m;
            break;
        }
    }
    pthread_mutex_unlock(&kmeta_mu);
    return m;
}

/* ---- kernel launches ---------------------------------------------------------------------- */

void ds_hash_launch_pre(struct ds_hlaunch *l)
{
    l->nranges = 0;
    l->skip = false;
    l->nparams = -1;
    uint64_t h = 0x696e707574ull;
    for (int i = 0; i < 3; i++) {
        ds_hash_combine(&h, l->grid[i]);
        ds_hash_combine(&h, l->block[i]);
    }
    ds_hash_combine(&h, l->smem);
    if (ds_hash_capturing(l->stream)) {
        l->skip = true; /* a stream being captured into a graph: no copy, no sync allowed */
        l->in_digest = h;
        return;
    }
    const struct kmeta *m = kmeta_get(l);
    /* the parameter bytes: from kernelParams (one pointer per parameter), or from the
     * packed extra buffer */
    const unsigned char *packed = NULL;
    size_t packed_size = 0;
    if (l->extra) {
        for (void **e = l->extra; *e != CU_LAUNCH_PARAM_END; e += 2) {
            if (*e == CU_LAUNCH_PARAM_BUFFER_POINTER)
                packed = e[1];
            else if (*e == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (e[1]) packed_size = *(size_t *)e[1];
            } else
                break; /* an option this layer does not know: stop reading */
        }
    }
    int np = m->nparams;
    bool from_params = l->params != NULL;
    if (np < 0 && packed) np = (int)(packed_size / 8); /* no layout: 8-byte words */
    if (np < 0 || (np > 0 && !from_params && !packed)) {
        l->nparams = -1;
        l->in_digest = h;
        return;
    }
    l->nparams = np;
    for (int i = 0; i < np; i++) {
        const unsigned char *v;
        size_t sz;
        if (m->nparams >= 0) {
            sz = m->size[i];
            v = from_params ? l->params[i] : packed + m->off[i];
            if (!from_params && (size_t)m->off[i] + sz > packed_size) break;
        } else {
            sz = 8;
            v = packed + 8 * (size_t)i;
        }
        if (!v) continue;
        if (sz == 8) {
            CUdeviceptr p, base;
            size_t size;
            memcpy(&p, v, 8);
            if (ds_hash_range_of(p, &base, &size)) {
                ds_hash_combine(&h, (uint64_t)i << 32 | 0x70);
                ds_hash_combine(&h, p - base); /* where it points, not the address itself */
                int dup = -1;
                for (int r = 0; r < l->nranges; r++)
                    if (l->base[r] == base) dup = r;
                if (dup < 0 && l->nranges < DS_HASH_MAX_RANGES) {
                    int r = l->nranges++;
                    l->arg[r] = i;
                    l->base[r] = base;
                    l->size[r] = size;
                    ds_hash_combine(&h, (uint64_t)r); /* its contents: below */
                } else if (dup >= 0) {
                    ds_hash_combine(&h, (uint64_t)dup);
                }
                continue;
            }
        }
        ds_hash_combine(&h, ds_hash_bytes(v, sz, (uint64_t)i));
    }
    /* the contents of every allocation reached, in one batch */
    if (!ds_hash_dev_many(l->base, l->size, l->nranges, l->stream, l->in))
        memset(l->in, 0, sizeof l->in);
    for (int r = 0; r < l->nranges; r++) ds_hash_combine(&h, l->in[r]);
    l->in_digest = h;
}

void ds_hash_launch_post(struct ds_hlaunch *l, int st)
{
    const struct kmeta *m = kmeta_get(l);
    struct hash_site site;
    struct jbuf jb;
    if (!ds_hash_rec_begin(&jb, &site, l->hook)) return;
    jb_str(&jb, "kernel", m->demangled);
    jb_str(&jb, "kernel_mangled", m->mangled);
    jb_uint(&jb, "count", ds_hash_count_kind(ds_hash64(m->mangled, strlen(m->mangled), 0x6b696e64ull)));
    jb_arr_begin(&jb, "grid");
    for (int i = 0; i < 3; i++) jb_uint(&jb, NULL, l->grid[i]);
    jb_arr_end(&jb);
    jb_arr_begin(&jb, "block");
    for (int i = 0; i < 3; i++) jb_uint(&jb, NULL, l->block[i]);
    jb_arr_end(&jb);
    jb_int(&jb, "status", st);
    if (l->skip) {
        jb_str(&jb, "skipped", "stream capture in progress: no digest");
    } else if (l->nparams < 0) {
        jb_str(&jb, "skipped", "parameter layout unknown: no digest");
    } else {
        uint64_t out = 0x6f7574ull, d[DS_HASH_MAX_RANGES];
        bool ok = ds_hash_dev_many(l->base, l->size, l->nranges, l->stream, d);
        jb_int(&jb, "params", l->nparams);
        jb_hex(&jb, "in", l->in_digest);
        jb_arr_begin(&jb, "ranges");
        for (int r = 0; r < l->nranges; r++) {
            ds_hash_combine(&out, (uint64_t)l->arg[r]);
            ds_hash_combine(&out, ok ? d[r] : 0);
            jb_obj_begin(&jb);
            jb_int(&jb, "arg", l->arg[r]);
            jb_uint(&jb, "bytes", l->size[r]);
            jb_hex(&jb, "in", l->in[r]);
            if (ok) jb_hex(&jb, "out", d[r]); else jb_null(&jb, "out");
            jb_obj_end(&jb);
        }
        jb_arr_end(&jb);
        if (ok) jb_hex(&jb, "out", out); else jb_null(&jb, "out");
    }
    ds_hash_rec_end(&jb, &site);
}

void ds_hash_launch_atfork_child(void) { pthread_mutex_init(&kmeta_mu, NULL); }
