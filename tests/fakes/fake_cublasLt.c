/* A fake libcublasLt.so.13, compiled from the real cublasLt.h. */
#include <cublasLt.h>

#include "fake_record.h"

size_t cublasLtGetVersion(void) { return 130100; }
