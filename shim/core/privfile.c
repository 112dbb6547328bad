/* privfile.c: the files the shim writes (logs, hash traces) and reads (kernel databases).
 *
 * A file the shim writes is private and never someone else's: it is created 0600 with
 * O_EXCL|O_NOFOLLOW, and a file already at the path is used only when it is a regular file
 * owned by the effective user with one link (a file another user planted at the predictable
 * default name, a hard link to someone's file, a symbolic link, a FIFO or a device are all
 * refused). Every open is non-blocking, so a FIFO at the path never hangs the program, and
 * the descriptor is kept above 2, so that no text meant for stderr ever lands in it.
 * Calls nothing of the shim's: the caller says what went wrong, with the reason written
 * here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detshim.h"

/* Move fd to 100 or above (away from the numbers programs dup2 onto), else to 3 or above;
 * -1 (fd closed) when it would stay on 0..2. */
static int above_stdio(int fd)
{
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (hi < 0) hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (hi >= 0) {
        close(fd);
        return hi;
    }
    if (fd > 2) return fd;
    close(fd);
    return -1;
}

static int refuse(int fd, char *why, size_t whysz, const char *msg)
{
    if (fd >= 0) close(fd);
    snprintf(why, whysz, "%s", msg);
    return -1;
}

/* Is an existing file fit for the shim to write into (owned) or read from? When it is not,
 * says why into why and closes fd. */
static bool usable(int fd, bool owned, char *why, size_t whysz)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return refuse(fd, why, whysz, "cannot stat it"), false;
    if (!S_ISREG(st.st_mode))
        return refuse(fd, why, whysz,
                      S_ISFIFO(st.st_mode)  ? "it is a FIFO, not a regular file"
                      : S_ISDIR(st.st_mode) ? "it is a directory"
                                            : "it is not a regular file"),
               false;
    if (owned && st.st_uid != geteuid()) {
        close(fd);
        snprintf(why, whysz, "it belongs to another user (uid %lu)", (unsigned long)st.st_uid);
        return false;
    }
    if (owned && st.st_nlink != 1) {
        close(fd);
        snprintf(why, whysz, "it has %lu hard links", (unsigned long)st.st_nlink);
        return false;
    }
    return true;
}

static int open_failed(int err, char *why, size_t whysz)
{
    if (err == ELOOP) return refuse(-1, why, whysz, "a symbolic link is there; detshim does not follow it");
    if (err == ENXIO) return refuse(-1, why, whysz, "it is a FIFO, not a regular file");
    return refuse(-1, why, whysz, strerror(err));
}

int ds_file_open_private(const char *path, bool truncate, bool *created, char *why, size_t whysz)
{
    *created = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                            O_APPEND, 0600);
    if (fd < 0 && errno == EEXIST) {
        fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_APPEND);
        if (fd < 0) return open_failed(errno, why, whysz);
        if (!usable(fd, true, why, whysz)) return -1;
        if (truncate && ftruncate(fd, 0) != 0) return refuse(fd, why, whysz, "cannot truncate it");
    } else if (fd < 0) {
        return open_failed(errno, why, whysz);
    } else {
        /* created here: 0600 whatever the umask allowed (never more) */
        (void)fchmod(fd, 0600);
        *created = true;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    fd = above_stdio(fd);
    if (fd < 0) snprintf(why, whysz, "no file descriptor above 2 is free");
    return fd;
}

int ds_file_open_read(const char *path, char *why, size_t whysz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return open_failed(errno, why, whysz);
    if (!usable(fd, false, why, whysz)) return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
