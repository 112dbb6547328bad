/* cudnn_hash.c: what hash mode digests of the cuDNN calls that write device memory
 * (backward convolutions, pooling backward, backend execution): the cuDNN layer's entry
 * points for those calls (layers/cudnn/hashed.c) describe each call with these, around the
 * layer's own call. Hash mode knows cuDNN's descriptors, never the layer.
 *
 * Legacy calls are digested over the tensors their descriptors size (cudnnGetTensorSizeInBytes,
 * cudnnGetFilterSizeInBytes): the gradient written (dx, dw), the tensors read. A backend
 * execution's variant pack gives pointers without sizes (those are in the operation graph):
 * each pointer stands for the device allocation holding it, as for kernel arguments, and
 * every one counts as written (the plan may write any of them). alpha and beta are host or
 * device scalars; their first 4 bytes are digested. */
#include "cudnn_hash.h"
#include "hooks.h"

bool ds_hash_range_of(CUdeviceptr p, CUdeviceptr *base, size_t *size);

static CUstream dnn_stream(cudnnHandle_t h)
{
    typedef cudnnStatus_t (*get_t)(cudnnHandle_t, cudaStream_t *);
    static _Atomic(void *) p;
    get_t get = (get_t)ds_lib_sym(&p, "cudnnGetStream", DS_LIB_CUDNN, "hash");
    cudaStream_t s = NULL;
    if (!get || get(h, &s) != CUDNN_STATUS_SUCCESS) s = NULL;
    return (CUstream)s;
}

void ds_hash_cudnn_begin(struct ds_hcall *c, enum ds_hook hook, cudnnHandle_t h, const char *what,
                         const void *alpha, const void *beta)
{
    ds_hcall_begin(c, hook, dnn_stream(h), what);
    ds_hcall_scalar_ptr(c, "alpha", alpha, 4);
    ds_hcall_scalar_ptr(c, "beta", beta, 4);
}

/* A tensor (filter: true for a filter descriptor) as its descriptor sizes it. */
void ds_hash_cudnn_tensor(struct ds_hcall *c, const char *name, const void *p, const void *desc,
                          bool filter, bool out)
{
    typedef cudnnStatus_t (*size_t_fn)(const void *, size_t *);
    static _Atomic(void *) tp, fp;
    size_t_fn f = (size_t_fn)(filter ? ds_lib_sym(&fp, "cudnnGetFilterSizeInBytes", DS_LIB_CUDNN, "hash")
                                     : ds_lib_sym(&tp, "cudnnGetTensorSizeInBytes", DS_LIB_CUDNN, "hash"));
    size_t n = 0;
    if (p && (!f || !desc || f(desc, &n) != CUDNN_STATUS_SUCCESS || n == 0)) {
        ds_hcall_skip(c, "a tensor whose size cuDNN does not give: no digest");
        return;
    }
    if (out)
        ds_hcall_out(c, name, p, n);
    else
        ds_hcall_in(c, name, p, n);
}

/* The variant pack's device pointers, each as the allocation that holds it. */
void ds_hash_cudnn_variant_pack(struct ds_hcall *c, cudnnBackendDescriptor_t vp)
{
    static const char *const names[] = {"tensor 0", "tensor 1", "tensor 2", "tensor 3", "tensor 4",
                                        "tensor 5", "tensor 6", "tensor 7", "tensor 8", "tensor 9",
                                        "tensor 10", "tensor 11", "tensor 12", "tensor 13",
                                        "tensor 14", "tensor 15"};
    enum { MAXP = sizeof names / sizeof *names };
    ds_real_cudnnBackendGetAttribute_t get = DS_REAL(cudnnBackendGetAttribute);
    void *ptrs[MAXP];
    int64_t uids[MAXP], n = 0, nu = 0;
    if (!get || !vp ||
        get(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, MAXP, &n, ptrs) !=
            CUDNN_STATUS_SUCCESS ||
        n <= 0 || n > MAXP) {
        ds_hcall_skip(c, "a variant pack whose pointers cannot be read: no digest");
        return;
    }
    if (get(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, MAXP, &nu, uids) ==
        CUDNN_STATUS_SUCCESS)
        for (int64_t i = 0; i < nu && i < MAXP; i++) ds_hcall_scalar(c, (uint64_t)uids[i]);
    for (int64_t i = 0; i < n; i++) {
        CUdeviceptr base;
        size_t size;
        if (!ptrs[i]) continue;
        if (!ds_hash_range_of((CUdeviceptr)(uintptr_t)ptrs[i], &base, &size)) {
            ds_hcall_skip(c, "a variant-pack pointer outside any device allocation: no digest");
            return;
        }
        ds_hcall_scalar(c, (uint64_t)((CUdeviceptr)(uintptr_t)ptrs[i] - base));
        ds_hcall_out(c, names[i], (const void *)(uintptr_t)base, size);
    }
}
