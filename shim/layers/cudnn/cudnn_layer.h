/* cudnn_layer.h: what the two halves of the cuDNN layer share (layer_cudnn.c: the
 * legacy API; cudnn_backend.c: the backend/graph API). Nothing outside the layer
 * includes it. */
#ifndef DETSHIM_CUDNN_LAYER_H
#define DETSHIM_CUDNN_LAYER_H

#include "hooks.h"

/* The status a refused call returns (strict mode, and plan finalisation on a
 * nondeterministic engine in enforce and strict): the caller's "try something else"
 * path, the status cuDNN itself gives for a configuration it cannot run. */
#define DSC_REFUSED CUDNN_STATUS_NOT_SUPPORTED

/* The hint ds_refuse prints after "to allow it:". */
#define DSC_ALLOW "DETSHIM_DISABLE=cudnn (switches the cuDNN layer off)"

/* True when the hooked function was called by a cuDNN library itself (its legacy
 * calls built on the graph API go through the exported symbols): such calls are the
 * vendor's own business and pass through. Walks the stack: rare paths only. */
bool dsc_called_from_cudnn(void);

/* A cuDNN function that is not hooked, resolved once (NULL when absent). */
void *dsc_sym(_Atomic(void *) *cache, const char *name);

/* Hash mode (cudnn_hash.c): a call's scalars, tensors and variant pack, for hash.h's
 * ds_hcall_pre / ds_hcall_post around the real call. */
struct ds_hcall;
void dsc_hash_begin(struct ds_hcall *c, enum ds_hook hook, cudnnHandle_t h, const char *what,
                    const void *alpha, const void *beta);
void dsc_hash_tensor(struct ds_hcall *c, const char *name, const void *p, const void *desc,
                     bool filter, bool out);
void dsc_hash_variant_pack(struct ds_hcall *c, cudnnBackendDescriptor_t vp);

/* Writes "v0,v1,..." (up to n integers, cut to outsz) for an event's detail text. */
void dsc_int_text(char *out, size_t outsz, const long long *v, int n);

/* Appends "key":[v0,v1,...] (up to n integers). */
void dsc_int_array(struct jbuf *jb, const char *key, const long long *v, int n);

#endif
