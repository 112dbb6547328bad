/* hash_hooks.c: layer "hash": copies and memsets that write device memory.
 *
 * Off (DETSHIM_HASH unset or false) each policy is one load and the real call. On, the
 * source (device: digested on the call's stream; host: digested in place) or the memset
 * value is digested before the call, the written range after it, and a trace record
 * is written (hash_trace.c). Copies to host memory write no device memory and are not
 * recorded.
 *
 * The _ptds / _ptsz twins (per-thread default stream) have the same policy; their stream 0
 * is the calling thread's default stream (CU_STREAM_PER_THREAD), so hash mode reads and
 * synchronises there, never on the legacy stream, which would wait for every other thread's
 * work too. */
#include "digest.h"
#include "hash_private.h"

static bool is_dev(CUdeviceptr p)
{
    CUdeviceptr b;
    size_t n;
    return ds_hash_range_of(p, &b, &n);
}

/* Digest the source of a copy: device memory on stream s, or host memory in place, with the
 * same function (digest.h), so that a faithful copy's input and output digests are equal. */
static bool src_digest(CUdeviceptr src, bool src_dev, size_t n, CUstream s, uint64_t *in)
{
    if (ds_hash_capturing(s)) return false;
    if (src_dev) {
        if (!ds_hash_dev(src, n, s, in)) return false;
    } else {
        if (!src && n) return false;
        *in = ds_digest((const void *)(uintptr_t)src, n);
    }
    return true;
}

static uint64_t set_digest(unsigned value, unsigned elem, size_t count)
{
    uint64_t v[3] = {value, elem, count};
    return ds_hash_bytes(v, sizeof v, 0x6d656d736574ull);
}

/* ---- runtime -------------------------------------------------------------------------- */
/* A runtime copy: height rows of width bytes, spitch bytes apart in the source and dpitch in
 * the destination; a 1-D copy is one row (pitch = width = count). A rectangle is digested as
 * the span from its first byte to its last: the rows and the gaps between them (memory the
 * call does not write, the same in two runs unless an earlier record already differed). */
struct rt_copy_args {
    void *dst;
    size_t dpitch;
    const void *src;
    size_t spitch, width, height;
    enum cudaMemcpyKind kind;
    cudaStream_t stream;
};

static size_t span2d(size_t pitch, size_t width, size_t height)
{
    return height ? pitch * (height - 1) + width : 0;
}

/* The real copy behind hook (one of the eight runtime copies). */
static cudaError_t rt_copy_real(enum ds_hook hook, const struct rt_copy_args *c)
{
    switch (hook) {
    case DS_HOOK_cudaMemcpyAsync:
        return DS_REAL(cudaMemcpyAsync)(c->dst, c->src, c->width, c->kind, c->stream);
    case DS_HOOK_cudaMemcpy_ptds: return DS_REAL(cudaMemcpy_ptds)(c->dst, c->src, c->width, c->kind);
    case DS_HOOK_cudaMemcpyAsync_ptsz:
        return DS_REAL(cudaMemcpyAsync_ptsz)(c->dst, c->src, c->width, c->kind, c->stream);
    case DS_HOOK_cudaMemcpy2D:
        return DS_REAL(cudaMemcpy2D)(c->dst, c->dpitch, c->src, c->spitch, c->width, c->height,
                                     c->kind);
    case DS_HOOK_cudaMemcpy2DAsync:
        return DS_REAL(cudaMemcpy2DAsync)(c->dst, c->dpitch, c->src, c->spitch, c->width, c->height,
                                          c->kind, c->stream);
    case DS_HOOK_cudaMemcpy2D_ptds:
        return DS_REAL(cudaMemcpy2D_ptds)(c->dst, c->dpitch, c->src, c->spitch, c->width, c->height,
                                          c->kind);
    case DS_HOOK_cudaMemcpy2DAsync_ptsz:
        return DS_REAL(cudaMemcpy2DAsync_ptsz)(c->dst, c->dpitch, c->src, c->spitch, c->width,
                                               c->height, c->kind, c->stream);
    default: return DS_REAL(cudaMemcpy)(c->dst, c->src, c->width, c->kind);
    }
}

/* pt: a _ptds/_ptsz twin (stream 0 is the per-thread default stream); rect: a 2-D entry point */
static cudaError_t rt_copy(enum ds_hook hook, const struct rt_copy_args *c, bool pt, bool rect)
{
    bool src_dev, dst_dev;
    switch (c->kind) {
    case cudaMemcpyHostToDevice: src_dev = false, dst_dev = true; break;
    case cudaMemcpyDeviceToDevice: src_dev = dst_dev = true; break;
    case cudaMemcpyDefault:
        dst_dev = is_dev((CUdeviceptr)(uintptr_t)c->dst);
        src_dev = dst_dev && is_dev((CUdeviceptr)(uintptr_t)c->src);
        break;
    default: src_dev = dst_dev = false; break;
    }
    CUstream s = ds_hash_rt_stream(c->stream, pt);
    uint64_t in = 0;
    bool in_ok = dst_dev && src_digest((CUdeviceptr)(uintptr_t)c->src, src_dev,
                                       span2d(c->spitch, c->width, c->height), s, &in);
    cudaError_t st = rt_copy_real(hook, c);
    if (dst_dev)
        ds_hash_write_record(hook, s, (CUdeviceptr)(uintptr_t)c->dst,
                             span2d(c->dpitch, c->width, c->height), in, in_ok, (int)st,
                             src_dev ? (rect ? "device to device 2-D copy" : "device to device copy")
                                     : (rect ? "host to device 2-D copy" : "host to device copy"));
    return st;
}

cudaError_t ds_policy_cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cudaMemcpy)(dst, src, count, kind);
    struct rt_copy_args c = {dst, count, src, count, count, 1, kind, NULL};
    return rt_copy(DS_HOOK_cudaMemcpy, &c, false, false);
}

cudaError_t ds_policy_cudaMemcpyAsync(void *dst, const void *src, size_t count,
                                      enum cudaMemcpyKind kind, cudaStream_t stream)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cudaMemcpyAsync)(dst, src, count, kind, stream);
    struct rt_copy_args c = {dst, count, src, count, count, 1, kind, stream};
    return rt_copy(DS_HOOK_cudaMemcpyAsync, &c, false, false);
}

cudaError_t ds_policy_cudaMemcpy_ptds(void *dst, const void *src, size_t count,
                                      enum cudaMemcpyKind kind)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cudaMemcpy_ptds)(dst, src, count, kind);
    struct rt_copy_args c = {dst, count, src, count, count, 1, kind, NULL};
    return rt_copy(DS_HOOK_cudaMemcpy_ptds, &c, true, false);
}

cudaError_t ds_policy_cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t count,
                                           enum cudaMemcpyKind kind, cudaStream_t stream)
{
    if (DS_LIKELY(!ds_hash_on()))
        return DS_REAL(cudaMemcpyAsync_ptsz)(dst, src, count, kind, stream);
    struct rt_copy_args c = {dst, count, src, count, count, 1, kind, stream};
    return rt_copy(DS_HOOK_cudaMemcpyAsync_ptsz, &c, true, false);
}

cudaError_t ds_policy_cudaMemset(void *devPtr, int value, size_t count)
{
    cudaError_t st = DS_REAL(cudaMemset)(devPtr, value, count);
    if (DS_UNLIKELY(ds_hash_on()))
        ds_hash_write_record(DS_HOOK_cudaMemset, NULL, (CUdeviceptr)(uintptr_t)devPtr, count,
                             set_digest((unsigned char)value, 1, count), true, (int)st, "memset");
    return st;
}

cudaError_t ds_policy_cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    cudaError_t st = DS_REAL(cudaMemsetAsync)(devPtr, value, count, stream);
    if (DS_UNLIKELY(ds_hash_on()))
        ds_hash_write_record(DS_HOOK_cudaMemsetAsync, ds_hash_rt_stream(stream, false),
                             (CUdeviceptr)(uintptr_t)devPtr, count,
                             set_digest((unsigned char)value, 1, count), true, (int)st, "memset");
    return st;
}

cudaError_t ds_policy_cudaMemset_ptds(void *devPtr, int value, size_t count)
{
    cudaError_t st = DS_REAL(cudaMemset_ptds)(devPtr, value, count);
    if (DS_UNLIKELY(ds_hash_on()))
        ds_hash_write_record(DS_HOOK_cudaMemset_ptds, CU_STREAM_PER_THREAD,
                             (CUdeviceptr)(uintptr_t)devPtr, count,
                             set_digest((unsigned char)value, 1, count), true, (int)st, "memset");
    return st;
}

cudaError_t ds_policy_cudaMemsetAsync_ptsz(void *devPtr, int value, size_t count,
                                           cudaStream_t stream)
{
    cudaError_t st = DS_REAL(cudaMemsetAsync_ptsz)(devPtr, value, count, stream);
    if (DS_UNLIKELY(ds_hash_on()))
        ds_hash_write_record(DS_HOOK_cudaMemsetAsync_ptsz, ds_hash_rt_stream(stream, true),
                             (CUdeviceptr)(uintptr_t)devPtr, count,
                             set_digest((unsigned char)value, 1, count), true, (int)st, "memset");
    return st;
}

/* ---- runtime, pitched rectangles (2-D): rt_copy above, and the memsets ------------- */
cudaError_t ds_policy_cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch,
                                   size_t width, size_t height, enum cudaMemcpyKind kind)
{
    if (DS_LIKELY(!ds_hash_on()))
        return DS_REAL(cudaMemcpy2D)(dst, dpitch, src, spitch, width, height, kind);
    struct rt_copy_args c = {dst, dpitch, src, spitch, width, height, kind, NULL};
    return rt_copy(DS_HOOK_cudaMemcpy2D, &c, false, true);
}

cudaError_t ds_policy_cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                                        size_t width, size_t height, enum cudaMemcpyKind kind,
                                        cudaStream_t stream)
{
    if (DS_LIKELY(!ds_hash_on()))
        return DS_REAL(cudaMemcpy2DAsync)(dst, dpitch, src, spitch, width, height, kind, stream);
    struct rt_copy_args c = {dst, dpitch, src, spitch, width, height, kind, stream};
    return rt_copy(DS_HOOK_cudaMemcpy2DAsync, &c, false, true);
}

cudaError_t ds_policy_cudaMemcpy2D_ptds(void *dst, size_t dpitch, const void *src, size_t spitch,
                                        size_t width, size_t height, enum cudaMemcpyKind kind)
{
    if (DS_LIKELY(!ds_hash_on()))
        return DS_REAL(cudaMemcpy2D_ptds)(dst, dpitch, src, spitch, width, height, kind);
    struct rt_copy_args c = {dst, dpitch, src, spitch, width, height, kind, NULL};
    return rt_copy(DS_HOOK_cudaMemcpy2D_ptds, &c, true, true);
}

cudaError_t ds_policy_cudaMemcpy2DAsync_ptsz(void *dst, size_t dpitch, const void *src,
                                             size_t spitch, size_t width, size_t height,
                                             enum cudaMemcpyKind kind, cudaStream_t stream)
{
    if (DS_LIKELY(!ds_hash_on()))
        return DS_REAL(cudaMemcpy2DAsync_ptsz)(dst, dpitch, src, spitch, width, height, kind, stream);
    struct rt_copy_args c = {dst, dpitch, src, spitch, width, height, kind, stream};
    return rt_copy(DS_HOOK_cudaMemcpy2DAsync_ptsz, &c, true, true);
}

/* the value and the rectangle's shape are what a 2-D memset reads */
static void set2d_record(enum ds_hook hook, CUstream s, void *p, size_t pitch, int value,
                         size_t width, size_t height, cudaError_t st)
{
    uint64_t v[4] = {(unsigned char)value, pitch, width, height};
    ds_hash_write_record(hook, s, (CUdeviceptr)(uintptr_t)p, span2d(pitch, width, height),
                         ds_hash_bytes(v, sizeof v, 0x6d656d32ull), true, (int)st, "2-D memset");
}

cudaError_t ds_policy_cudaMemset2D(void *p, size_t pitch, int value, size_t width, size_t height)
{
    cudaError_t st = DS_REAL(cudaMemset2D)(p, pitch, value, width, height);
    if (DS_UNLIKELY(ds_hash_on()))
        set2d_record(DS_HOOK_cudaMemset2D, NULL, p, pitch, value, width, height, st);
    return st;
}

cudaError_t ds_policy_cudaMemset2DAsync(void *p, size_t pitch, int value, size_t width,
                                        size_t height, cudaStream_t stream)
{
    cudaError_t st = DS_REAL(cudaMemset2DAsync)(p, pitch, value, width, height, stream);
    if (DS_UNLIKELY(ds_hash_on()))
        set2d_record(DS_HOOK_cudaMemset2DAsync, ds_hash_rt_stream(stream, false), p, pitch, value,
                     width, height, st);
    return st;
}

cudaError_t ds_policy_cudaMemset2D_ptds(void *p, size_t pitch, int value, size_t width,
                                        size_t height)
{
    cudaError_t st = DS_REAL(cudaMemset2D_ptds)(p, pitch, value, width, height);
    if (DS_UNLIKELY(ds_hash_on()))
        set2d_record(DS_HOOK_cudaMemset2D_ptds, CU_STREAM_PER_THREAD, p, pitch, value, width,
                     height, st);
    return st;
}

cudaError_t ds_policy_cudaMemset2DAsync_ptsz(void *p, size_t pitch, int value, size_t width,
                                             size_t height, cudaStream_t stream)
{
    cudaError_t st = DS_REAL(cudaMemset2DAsync_ptsz)(p, pitch, value, width, height, stream);
    if (DS_UNLIKELY(ds_hash_on()))
        set2d_record(DS_HOOK_cudaMemset2DAsync_ptsz, ds_hash_rt_stream(stream, true), p, pitch,
                     value, width, height, st);
    return st;
}

/* ---- driver --------------------------------------------------------------------------- */
#define DRV_COPY(hook, call, dst, src, n, s, src_dev, what)                                \
    do {                                                                                    \
        uint64_t in_ = 0;                                                                   \
        bool in_ok_ = src_digest((CUdeviceptr)(uintptr_t)(src), (src_dev), (n), (s), &in_); \
        CUresult st_ = call;                                                                \
        ds_hash_write_record(hook, (s), (dst), (n), in_, in_ok_, (int)st_, (what));        \
        return st_;                                                                         \
    } while (0)

/* A _ptsz call's stream: 0 is the calling thread's default stream. */
static CUstream ptsz(CUstream s) { return s ? s : CU_STREAM_PER_THREAD; }
#define PTDS CU_STREAM_PER_THREAD

CUresult ds_policy_cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on()) || !is_dev(dst)) return DS_REAL(cuMemcpy)(dst, src, n);
    bool sd = is_dev(src);
    DRV_COPY(DS_HOOK_cuMemcpy, DS_REAL(cuMemcpy)(dst, src, n), dst, src, n, NULL, sd,
             sd ? "device to device copy" : "host to device copy");
}

CUresult ds_policy_cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on()) || !is_dev(dst)) return DS_REAL(cuMemcpyAsync)(dst, src, n, s);
    bool sd = is_dev(src);
    DRV_COPY(DS_HOOK_cuMemcpyAsync, DS_REAL(cuMemcpyAsync)(dst, src, n, s), dst, src, n, s, sd,
             sd ? "device to device copy" : "host to device copy");
}

CUresult ds_policy_cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyHtoD_v2)(dst, src, n);
    DRV_COPY(DS_HOOK_cuMemcpyHtoD_v2, DS_REAL(cuMemcpyHtoD_v2)(dst, src, n), dst, src, n, NULL,
             false, "host to device copy");
}

CUresult ds_policy_cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyHtoDAsync_v2)(dst, src, n, s);
    DRV_COPY(DS_HOOK_cuMemcpyHtoDAsync_v2, DS_REAL(cuMemcpyHtoDAsync_v2)(dst, src, n, s), dst, src,
             n, s, false, "host to device copy");
}

CUresult ds_policy_cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyDtoD_v2)(dst, src, n);
    DRV_COPY(DS_HOOK_cuMemcpyDtoD_v2, DS_REAL(cuMemcpyDtoD_v2)(dst, src, n), dst, src, n, NULL,
             true, "device to device copy");
}

CUresult ds_policy_cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyDtoDAsync_v2)(dst, src, n, s);
    DRV_COPY(DS_HOOK_cuMemcpyDtoDAsync_v2, DS_REAL(cuMemcpyDtoDAsync_v2)(dst, src, n, s), dst, src,
             n, s, true, "device to device copy");
}

#define DRV_SET(hook, call, dst, value, elem, count, s)                                     \
    do {                                                                                    \
        CUresult st_ = call;                                                                \
        if (DS_UNLIKELY(ds_hash_on()))                                                      \
            ds_hash_write_record(hook, (s), (dst), (size_t)(count) * (elem),               \
                                 set_digest((value), (elem), (count)), true, (int)st_,      \
                                 "memset");                                                 \
        return st_;                                                                         \
    } while (0)

CUresult ds_policy_cuMemsetD8_v2(CUdeviceptr dst, unsigned char uc, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD8_v2, DS_REAL(cuMemsetD8_v2)(dst, uc, N), dst, uc, 1, N, NULL);
}

CUresult ds_policy_cuMemsetD16_v2(CUdeviceptr dst, unsigned short us, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD16_v2, DS_REAL(cuMemsetD16_v2)(dst, us, N), dst, us, 2, N, NULL);
}

CUresult ds_policy_cuMemsetD16Async(CUdeviceptr dst, unsigned short us, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD16Async, DS_REAL(cuMemsetD16Async)(dst, us, N, s), dst, us, 2, N, s);
}

CUresult ds_policy_cuMemsetD32_v2(CUdeviceptr dst, unsigned int ui, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD32_v2, DS_REAL(cuMemsetD32_v2)(dst, ui, N), dst, ui, 4, N, NULL);
}

CUresult ds_policy_cuMemsetD8Async(CUdeviceptr dst, unsigned char uc, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD8Async, DS_REAL(cuMemsetD8Async)(dst, uc, N, s), dst, uc, 1, N, s);
}

CUresult ds_policy_cuMemsetD32Async(CUdeviceptr dst, unsigned int ui, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD32Async, DS_REAL(cuMemsetD32Async)(dst, ui, N, s), dst, ui, 4, N, s);
}

/* ---- driver, per-thread default stream ------------------------------------------------- */
CUresult ds_policy_cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on()) || !is_dev(dst)) return DS_REAL(cuMemcpy_ptds)(dst, src, n);
    bool sd = is_dev(src);
    DRV_COPY(DS_HOOK_cuMemcpy_ptds, DS_REAL(cuMemcpy_ptds)(dst, src, n), dst, src, n, PTDS, sd,
             sd ? "device to device copy" : "host to device copy");
}

CUresult ds_policy_cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on()) || !is_dev(dst))
        return DS_REAL(cuMemcpyAsync_ptsz)(dst, src, n, s);
    bool sd = is_dev(src);
    DRV_COPY(DS_HOOK_cuMemcpyAsync_ptsz, DS_REAL(cuMemcpyAsync_ptsz)(dst, src, n, s), dst, src, n,
             ptsz(s), sd, sd ? "device to device copy" : "host to device copy");
}

CUresult ds_policy_cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyHtoD_v2_ptds)(dst, src, n);
    DRV_COPY(DS_HOOK_cuMemcpyHtoD_v2_ptds, DS_REAL(cuMemcpyHtoD_v2_ptds)(dst, src, n), dst, src, n,
             PTDS, false, "host to device copy");
}

CUresult ds_policy_cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyHtoDAsync_v2_ptsz)(dst, src, n, s);
    DRV_COPY(DS_HOOK_cuMemcpyHtoDAsync_v2_ptsz, DS_REAL(cuMemcpyHtoDAsync_v2_ptsz)(dst, src, n, s),
             dst, src, n, ptsz(s), false, "host to device copy");
}

CUresult ds_policy_cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyDtoD_v2_ptds)(dst, src, n);
    DRV_COPY(DS_HOOK_cuMemcpyDtoD_v2_ptds, DS_REAL(cuMemcpyDtoD_v2_ptds)(dst, src, n), dst, src, n,
             PTDS, true, "device to device copy");
}

CUresult ds_policy_cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (DS_LIKELY(!ds_hash_on())) return DS_REAL(cuMemcpyDtoDAsync_v2_ptsz)(dst, src, n, s);
    DRV_COPY(DS_HOOK_cuMemcpyDtoDAsync_v2_ptsz, DS_REAL(cuMemcpyDtoDAsync_v2_ptsz)(dst, src, n, s),
             dst, src, n, ptsz(s), true, "device to device copy");
}

CUresult ds_policy_cuMemsetD8_v2_ptds(CUdeviceptr dst, unsigned char uc, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD8_v2_ptds, DS_REAL(cuMemsetD8_v2_ptds)(dst, uc, N), dst, uc, 1, N,
            PTDS);
}

CUresult ds_policy_cuMemsetD16_v2_ptds(CUdeviceptr dst, unsigned short us, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD16_v2_ptds, DS_REAL(cuMemsetD16_v2_ptds)(dst, us, N), dst, us, 2, N,
            PTDS);
}

CUresult ds_policy_cuMemsetD16Async_ptsz(CUdeviceptr dst, unsigned short us, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD16Async_ptsz, DS_REAL(cuMemsetD16Async_ptsz)(dst, us, N, s), dst, us,
            2, N, ptsz(s));
}

CUresult ds_policy_cuMemsetD32_v2_ptds(CUdeviceptr dst, unsigned int ui, size_t N)
{
    DRV_SET(DS_HOOK_cuMemsetD32_v2_ptds, DS_REAL(cuMemsetD32_v2_ptds)(dst, ui, N), dst, ui, 4, N,
            PTDS);
}

CUresult ds_policy_cuMemsetD8Async_ptsz(CUdeviceptr dst, unsigned char uc, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD8Async_ptsz, DS_REAL(cuMemsetD8Async_ptsz)(dst, uc, N, s), dst, uc, 1,
            N, ptsz(s));
}

CUresult ds_policy_cuMemsetD32Async_ptsz(CUdeviceptr dst, unsigned int ui, size_t N, CUstream s)
{
    DRV_SET(DS_HOOK_cuMemsetD32Async_ptsz, DS_REAL(cuMemsetD32Async_ptsz)(dst, ui, N, s), dst, ui,
            4, N, ptsz(s));
}

/* ---- fork ------------------------------------------------------------------------------ */
/* core/init.c's fork-child handler, as for every layer. A fork child has only the forking
 * thread: locks another thread held are free again, and its trace (a file of its own, seq
 * from 1) counts calls afresh. Here, at the top of hash mode, so that no file below calls
 * up: each file resets its own state. */
void ds_hash_atfork_child(void)
{
    ds_hash_trace_atfork_child();
    ds_hash_launch_atfork_child();
    ds_hash_digest_atfork_child();
}
