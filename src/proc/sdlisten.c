#include "config.h"

#include "sdlisten.h"

#include "addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A whole positive decimal number, or -1. */
static long parse_count(const char *text)
{
    char *end;
    if (!text || !*text)
        return -1;
    errno = 0;
    long n = strtol(text, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

static int fail(char *err, size_t errlen, int fd, const char *what)
{
    snprintf(err, errlen, "LISTEN_FDS: descriptor %d: %s: %s", fd, what, strerror(errno));
    return -1;
}

/* Checks fd is a listening stream socket; makes it close-on-exec, non-blocking.
 */
static int take_fd(int fd, char *err, size_t errlen)
{
    int listening = 0, type = 0;
    socklen_t len = sizeof listening, tlen = sizeof type;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return fail(err, errlen, fd, "fcntl");
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
        return fail(err, errlen, fd, "not a socket");
    if (!listening || type != SOCK_STREAM) {
        snprintf(err, errlen, "LISTEN_FDS: descriptor %d is not a listening stream socket", fd);
        return -1;
    }
    return 0;
}

static void unset_environment(void)
{
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

int sdlisten_fds(int max, char *err, size_t errlen)
{
    long pid = parse_count(getenv("LISTEN_PID"));
    long n = parse_count(getenv("LISTEN_FDS"));
    unset_environment();
    if (pid != (long)getpid() || n <= 0)
        return 0;
    if (n > max) {
        snprintf(err, errlen, "LISTEN_FDS: %ld sockets passed, at most %d are served", n, max);
        return -1;
    }
    for (int fd = SDLISTEN_FDS_START; fd < SDLISTEN_FDS_START + n; fd++)
        if (take_fd(fd, err, errlen) < 0)
            return -1;
    return (int)n;
}

int sdlisten_address(int fd, struct addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->len = sizeof out->sa;
    if (getsockname(fd, (struct sockaddr *)&out->sa, &out->len) < 0)
        return fail(err, errlen, fd, "getsockname");
    addr_format((struct sockaddr *)&out->sa, out->len, out->text, sizeof out->text);
    return 0;
}

static int same_inet(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static int same_inet6(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
    return a->sin6_port == b->sin6_port &&
           memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

int sdlisten_same_address(const struct addr *a, const struct addr *b)
{
    const struct sockaddr *x = (const struct sockaddr *)&a->sa;
    const struct sockaddr *y = (const struct sockaddr *)&b->sa;
    if (x->sa_family != y->sa_family)
        return 0;
    if (x->sa_family == AF_INET)
        return same_inet((const void *)x, (const void *)y);
    if (x->sa_family == AF_INET6)
        return same_inet6((const void *)x, (const void *)y);
    return x->sa_family == AF_UNIX && strcmp(((const struct sockaddr_un *)x)->sun_path,
                                             ((const struct sockaddr_un *)y)->sun_path) == 0;
}
