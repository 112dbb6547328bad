/* A fake libcudnn.so.9, compiled from the real cudnn.h. */
#include <cudnn.h>

#include "fake_record.h"

size_t cudnnGetVersion(void) { return 91900; }
