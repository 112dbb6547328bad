#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake_record.h"

__attribute__((visibility("hidden"))) void fake_record(const char *fmt, ...)
{
    /* read once: the cost of a fake call must not depend on the environment's size
     * (tests/bench counts instructions per call) */
    static const char *path;
    static int read;
    if (!__atomic_load_n(&read, __ATOMIC_ACQUIRE)) {
        path = getenv("DETSHIM_FAKE_RECORD");
        __atomic_store_n(&read, 1, __ATOMIC_RELEASE);
    }
    if (!path || !*path) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}
