#include "config.h"

#include "pidfile.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "pid file %s: %s: %s", path, what, strerror(errno));
    return -1;
}

/* The pid the holder wrote, for the message; 0 when unreadable. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int pidfile_lock(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, errlen, "open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
    if (errno == EWOULDBLOCK)
        snprintf(err, errlen, "pid file %s is held by a running moonwire (pid %ld)", path,
                 holder_pid(fd));
    else
        fail(err, errlen, "lock", path);
    close(fd);
    return -1;
}

int pidfile_write(int fd, const char *path, char *err, size_t errlen)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0)
        return fail(err, errlen, "truncate", path);
    if (pwrite(fd, buf, (size_t)n, 0) != n)
        return fail(err, errlen, "write", path);
    return 0;
}

void pidfile_remove(int fd, const char *path)
{
    /* Unlinked while still locked, so a new master never locks a file about to
     * vanish. */
    if (unlink(path) < 0)
        log_warn("pid file %s: unlink: %s", path, strerror(errno));
    if (close(fd) < 0)
        log_warn("pid file %s: close: %s", path, strerror(errno));
}
