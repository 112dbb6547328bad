#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake_record.h"

static const char *record_path;
static void read_path(void) { record_path = getenv("DETSHIM_FAKE_RECORD"); }

__attribute__((visibility("hidden"))) void fake_record(const char *fmt, ...)
{
    /* read once: the cost of a fake call must not depend on the environment's size
     * (tests/bench counts instructions per call) */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_path);
    if (!record_path || !*record_path) return;
    const char *path = record_path;
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
