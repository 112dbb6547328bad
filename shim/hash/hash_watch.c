/* hash_watch.c: hash mode's watch on kernel launches. The kernels layer describes each
 * launch through its launch watch (layers/kernels/launch.h, types only here); the
 * constructor (hooks/init.c) registers this watch with the layer, and digests around the launches while
 * it is on. With hash mode off the watch answers "never" at the first launch, and the layer
 * drops it. */
#include <stdlib.h>

#include "hash.h"
#include "launch.h"

static int watch_active(void)
{
    if (ds_hash_off()) return -1;
    return ds_hash_on() ? 1 : 0;
}

static void *watch_pre(const struct ds_kwatched *w)
{
    struct ds_hlaunch *h = malloc(sizeof *h); /* hash mode synchronises: not a hot path */
    if (!h) return NULL;
    bool rt = w->kind == DS_KK_RT;
    CUstream s = rt ? ds_hash_rt_stream((cudaStream_t)w->stream, w->ptsz)
                    : (w->stream == NULL && w->ptsz ? CU_STREAM_PER_THREAD : (CUstream)w->stream);
    *h = (struct ds_hlaunch){.hook = w->hook, .kind = w->kind, .fn = w->fn, .name = w->name,
                             .params = w->params,
                             .extra = w->extra, .stream = s,
                             .grid = {w->grid[0], w->grid[1], w->grid[2]},
                             .block = {w->block[0], w->block[1], w->block[2]}, .smem = w->smem};
    ds_hash_launch_pre(h);
    return h;
}

static void watch_post(void *state, int status)
{
    struct ds_hlaunch *h = state;
    if (!h) return;
    ds_hash_launch_post(h, status);
    free(h);
}

/* Registered with the kernels layer by the constructor (hooks/init.c): hash mode never
 * calls the layer. */
const struct ds_kwatch ds_hash_kwatch = {watch_active, watch_pre, watch_post};
