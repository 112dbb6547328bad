/* cudnn_hash.h: hash mode's description of the cuDNN calls that write device memory
 * (cudnn_hash.c), for the cuDNN layer's entry points of those calls. */
#ifndef DETSHIM_CUDNN_HASH_H
#define DETSHIM_CUDNN_HASH_H
#include <cudnn.h>

#include "hash.h"

/* Open a record for a cuDNN call on handle h's stream; alpha and beta: first 4 bytes. */
void ds_hash_cudnn_begin(struct ds_hcall *c, enum ds_hook hook, cudnnHandle_t h, const char *what,
                         const void *alpha, const void *beta);
/* A tensor (filter: a filter descriptor) as its descriptor sizes it, read or written (out). */
void ds_hash_cudnn_tensor(struct ds_hcall *c, const char *name, const void *p, const void *desc,
                          bool filter, bool out);
/* A backend variant pack: each device pointer as the allocation holding it, written. */
void ds_hash_cudnn_variant_pack(struct ds_hcall *c, cudnnBackendDescriptor_t vp);
#endif
