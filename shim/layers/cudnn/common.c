/* common.c: what the cuDNN layer's files share: the caller check, lazy symbols, the
 * integer-list formatters, the documented nondeterministic algorithms, and the event for
 * a switched (or unswitchable) call. cudnn_layer.h says what the layer does. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cudnn_layer.h"

bool dsc_called_from_cudnn(void)
{
    void *ip[1];
    if (ds_bt_capture(ip, 1) < 1) return false;
    Dl_info di;
    if (!dladdr(ip[0], &di) || !di.dli_fname) return false;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    return strncmp(base, "libcudnn", 8) == 0;
}

void dsc_int_array(struct jbuf *jb, const char *key, const long long *v, int n)
{
    jb_arr_begin(jb, key);
    for (int i = 0; i < n; i++) jb_int(jb, NULL, v[i]);
    jb_arr_end(jb);
}

void dsc_int_text(char *out, size_t outsz, const long long *v, int n)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n && len + 1 < outsz; i++) {
        int k = snprintf(out + len, outsz - len, "%s%lld", i ? "," : "", v[i]);
        if (k < 0) break;
        len += (size_t)k;
    }
}

const char *const dsc_op_words[] = {"forward", "backward-data", "backward-filter"};

bool dsc_algo_documented_nondet(enum dsc_conv_op op, int algo)
{
    switch (op) {
    case OP_BWD_DATA: return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    case OP_BWD_FILTER:
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    default: return false;
    }
}

bool dsc_rejected(cudnnStatus_t st)
{
    return st == CUDNN_STATUS_NOT_SUPPORTED || st == CUDNN_STATUS_BAD_PARAM ||
           (st >= 2000 && st < 4000); /* cuDNN 9's BAD_PARAM_* and NOT_SUPPORTED_* sub-codes */
}

bool dsc_not_supported(cudnnStatus_t st)
{
    return st >= CUDNN_STATUS_NOT_SUPPORTED && st < 4000;
}

bool dsc_failed_otherwise(cudnnStatus_t st)
{
    return st != CUDNN_STATUS_SUCCESS && st != CUDNN_STATUS_NOT_INITIALIZED && !dsc_not_supported(st);
}

static void swap_extra(struct jbuf *jb, void *arg)
{
    const struct dsc_swap *s = arg;
    jb_int(jb, s->what, s->asked);
    if (s->replacement >= 0) jb_int(jb, "replacement", s->replacement);
    else jb_null(jb, "replacement");
    if (s->workspace >= 0) jb_int(jb, "workspace", s->workspace);
    if (s->needed >= 0) jb_int(jb, "needed", s->needed);
    if (s->reported >= 0) jb_int(jb, "reported", s->reported);
}

void dsc_swap_event(enum ds_hook hook, enum ds_action act, const struct dsc_swap *s, const char *detail)
{
    struct ds_event ev;
    if (ds_event_capture(&ev, hook, act, (uint64_t)s->asked << 8 | (uint64_t)(s->replacement & 0xff))) {
        ds_event_log(&ev, detail, swap_extra, (void *)s);
        if (act == DS_ACT_BLOCKED) ds_refuse(&ev, detail, DSC_ALLOW);
    }
}
