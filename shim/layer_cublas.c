/* layer_cublas.c: cuBLAS (legacy API). Handles are recorded as events so that a log
 * shows which code created them. */
#include <stdio.h>

#include "hooks.h"

cublasStatus_t ds_policy_cublasCreate_v2(cublasHandle_t *handle)
{
    cublasStatus_t st = DS_REAL(cublasCreate_v2)(handle);
    struct ds_event ev;
    if (ds_event_capture(&ev, DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0)) {
        char detail[128];
        snprintf(detail, sizeof detail, "cuBLAS handle %p created (status %d)",
                 st == CUBLAS_STATUS_SUCCESS && handle ? (void *)*handle : NULL, (int)st);
        ds_event_log(&ev, detail, NULL, NULL);
    }
    if (st == CUBLAS_STATUS_SUCCESS) ds_fingerprint_device();
    return st;
}

cublasStatus_t ds_policy_cublasDestroy_v2(cublasHandle_t handle)
{
    return DS_REAL(cublasDestroy_v2)(handle);
}
