/* fake_record.h: what the fake vendor libraries share. Each fake call appends one
 * line "<symbol> key=value ..." to the file named by $DETSHIM_FAKE_RECORD (when set),
 * so tests can assert what the shim made the vendor library see. */
#ifndef FAKE_RECORD_H
#define FAKE_RECORD_H
void fake_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The fake BLAS libraries compute only with $FAKE_BLAS_COMPUTE=1 (most tests pass pointers
 * that are not memory): D = A B + beta C, float, column-major, no transposition, on "device"
 * memory that is host memory. With $FAKE_BLAS_NOISE=1 the result's first element also gets
 * the process id in its low bits: a nondeterministic routine, as hash mode must find it. */
#include <stdlib.h>
#include <unistd.h>
static inline int fake_blas_computes(void)
{
    static int computes = -1; /* read once: a getenv per call would weigh on the cost benchmark */
    int c = __atomic_load_n(&computes, __ATOMIC_RELAXED);
    if (c < 0) {
        const char *v = getenv("FAKE_BLAS_COMPUTE");
        c = v && *v == '1';
        __atomic_store_n(&computes, c, __ATOMIC_RELAXED);
    }
    return c;
}
static inline void fake_sgemm(long m, long n, long k, const float *A, long lda, const float *B,
                              long ldb, float beta, const float *C, long ldc, float *D, long ldd)
{
    for (long j = 0; j < n; j++)
        for (long i = 0; i < m; i++) {
            float s = beta != 0 ? beta * C[i + j * ldc] : 0;
            for (long l = 0; l < k; l++) s += A[i + l * lda] * B[l + j * ldb];
            D[i + j * ldd] = s;
        }
    const char *noise = getenv("FAKE_BLAS_NOISE");
    if (noise && *noise == '1' && m > 0 && n > 0) {
        unsigned bits;
        __builtin_memcpy(&bits, &D[0], 4);
        bits ^= (unsigned)getpid() & 0xff;
        __builtin_memcpy(&D[0], &bits, 4);
    }
}
#endif
