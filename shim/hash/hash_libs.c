/* hash_libs.c: hash mode for library calls that write device memory (cuBLAS, cuBLASLt,
 * cuDNN). The layer names each range the call reads or writes, with the extent the
 * library's documentation gives it; before the call every range is digested (an output's
 * old contents count as an input: a gemm with beta != 0 reads C), after it the outputs are,
 * and one trace record names them (hash_trace.c writes it). Digests go through ds_hash_dev_many:
 * on the device where it can, on the call's stream only. */
#include <string.h>

#include "hash_private.h"

void ds_hcall_begin(struct ds_hcall *c, enum ds_hook hook, CUstream s, const char *what)
{
    c->hook = hook;
    c->stream = s;
    c->what = what;
    c->skip = NULL;
    c->n = c->nout = 0;
    c->scalars = 0x6c6962ull;
    c->in = 0;
    c->in_ok = false;
}

void ds_hcall_skip(struct ds_hcall *c, const char *why)
{
    if (!c->skip) c->skip = why;
}

/* Inserts a range at index `at`; false (and the call is left undigested) when full. */
static bool put(struct ds_hcall *c, int at, const char *name, const void *p, size_t bytes)
{
    if (c->n == DS_HCALL_MAX) {
        ds_hcall_skip(c, "more ranges than hash mode records for one call: no digest");
        return false;
    }
    for (int i = c->n; i > at; i--) {
        c->name[i] = c->name[i - 1];
        c->p[i] = c->p[i - 1];
        c->bytes[i] = c->bytes[i - 1];
    }
    c->name[at] = name;
    c->p[at] = (CUdeviceptr)(uintptr_t)p;
    c->bytes[at] = p ? bytes : 0;
    c->n++;
    return true;
}

/* Outputs come first (indexes below nout), inputs after them. */
void ds_hcall_out(struct ds_hcall *c, const char *name, const void *p, size_t bytes)
{
    if (put(c, c->nout, name, p, bytes)) c->nout++;
}

void ds_hcall_in(struct ds_hcall *c, const char *name, const void *p, size_t bytes)
{
    put(c, c->n, name, p, bytes);
}

void ds_hcall_scalar(struct ds_hcall *c, uint64_t v)
{
    c->scalars = ds_hash64(&v, sizeof v, c->scalars);
}

void ds_hcall_scalar_ptr(struct ds_hcall *c, const char *name, const void *p, size_t bytes)
{
    CUdeviceptr base;
    size_t size;
    if (!p || !bytes)
        ds_hcall_scalar(c, 0);
    else if (ds_hash_range_of((CUdeviceptr)(uintptr_t)p, &base, &size))
        ds_hcall_in(c, name, p, bytes);
    else
        ds_hcall_scalar(c, ds_hash_bytes(p, bytes, 0x7363616cull));
}

/* Digests of the first k ranges; empty ones need no device. */
static bool digest(const struct ds_hcall *c, int k, uint64_t *out)
{
    CUdeviceptr p[DS_HCALL_MAX];
    size_t n[DS_HCALL_MAX];
    uint64_t d[DS_HCALL_MAX];
    int idx[DS_HCALL_MAX], m = 0;
    for (int i = 0; i < k; i++) {
        if (c->bytes[i] == 0) {
            out[i] = 0x656d707479ull;
            continue;
        }
        p[m] = c->p[i];
        n[m] = c->bytes[i];
        idx[m++] = i;
    }
    if (m && !ds_hash_dev_many(p, n, m, c->stream, d)) return false;
    for (int j = 0; j < m; j++) out[idx[j]] = d[j];
    return true;
}

void ds_hcall_pre(struct ds_hcall *c)
{
    if (c->skip) return;
    if (ds_hash_capturing(c->stream)) {
        c->skip = "stream capture in progress: no digest";
        return;
    }
    c->in_ok = digest(c, c->n, c->before);
    uint64_t h = c->scalars;
    for (int i = 0; i < c->n; i++) {
        h = ds_hash64(c->name[i], strlen(c->name[i]), h);
        h = ds_hash64(&c->bytes[i], sizeof c->bytes[i], h);
        h = ds_hash64(&c->before[i], sizeof c->before[i], h);
    }
    c->in = h;
}

void ds_hcall_post(struct ds_hcall *c, int status)
{
    uint64_t after[DS_HCALL_MAX];
    bool ok = !c->skip && status == 0 && digest(c, c->nout, after);
    ds_hash_write_lib(c, after, ok, status);
}

/* ---- extents ------------------------------------------------------------------------------ */
size_t ds_dtype_size(cudaDataType t)
{
    switch ((int)t) { /* int: CUDA 12 headers lack some types (meson.build defines them) */
    case CUDA_R_8I: case CUDA_R_8U: case CUDA_R_8F_E4M3: case CUDA_R_8F_E5M2: case CUDA_R_8F_UE8M0:
        return 1;
    case CUDA_R_16F: case CUDA_R_16BF: case CUDA_R_16I: case CUDA_R_16U: case CUDA_C_8I: case CUDA_C_8U:
        return 2;
    case CUDA_R_32F: case CUDA_R_32I: case CUDA_R_32U: case CUDA_C_16F: case CUDA_C_16BF: case CUDA_C_16I:
    case CUDA_C_16U:
        return 4;
    case CUDA_R_64F: case CUDA_R_64I: case CUDA_R_64U: case CUDA_C_32F: case CUDA_C_32I: case CUDA_C_32U:
        return 8;
    case CUDA_C_64F: case CUDA_C_64I: case CUDA_C_64U:
        return 16;
    default: /* packed sub-byte types, and types newer than this shim */
        return 0;
    }
}

size_t ds_matrix_bytes(int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride,
                       size_t elem)
{
    if (rows <= 0 || cols <= 0 || batch <= 0 || ld < rows || stride < 0 || elem == 0) return 0;
    uint64_t one, all, bytes;
    if (__builtin_mul_overflow((uint64_t)(cols - 1), (uint64_t)ld, &one) ||
        __builtin_add_overflow(one, (uint64_t)rows, &one))
        return 0;
    if (__builtin_mul_overflow((uint64_t)(batch - 1), (uint64_t)stride, &all) ||
        __builtin_add_overflow(all, one, &all) || __builtin_mul_overflow(all, (uint64_t)elem, &bytes) ||
        bytes > SIZE_MAX)
        return 0;
    return (size_t)bytes;
}
