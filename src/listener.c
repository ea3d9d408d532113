#include "config.h"

#include "listener.h"

#include "addr.h"
#include "log.h"

#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

struct listener {
    struct evconnlistener *ev;
    listener_accept_fn on_accept;
    void *arg;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unlinked on close */
    char name[ADDR_TEXT_MAX];
};

static int sys_fail(char *err, size_t errlen, const char *what, const struct addr *addr)
{
    snprintf(err, errlen, "%s %s: %s", what, addr->text, strerror(errno));
    return -1;
}

/* A UNIX socket file nobody accepts on is left over from a dead server. */
static int unix_path_is_stale(const struct addr *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int stale = connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 &&
                errno == ECONNREFUSED;
    close(fd);
    return stale;
}

static int bind_socket(int fd, const struct addr *addr)
{
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) == 0)
        return 0;
    if (errno != EADDRINUSE || addr->sa.ss_family != AF_UNIX || !unix_path_is_stale(addr))
        return -1;
    unlink(((const struct sockaddr_un *)&addr->sa)->sun_path);
    return bind(fd, (const struct sockaddr *)&addr->sa, addr->len);
}

static int open_socket(const struct addr *addr, char *err, size_t errlen)
{
    int one = 1, family = addr->sa.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sys_fail(err, errlen, "socket", addr);
    if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail_setsockopt;
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        goto fail_setsockopt;
    if (bind_socket(fd, addr) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        sys_fail(err, errlen, "bind", addr);
        close(fd);
        return -1;
    }
    return fd;
fail_setsockopt:
    sys_fail(err, errlen, "setsockopt", addr);
    close(fd);
    return -1;
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* Fails with EOPNOTSUPP on UNIX sockets, which have no Nagle to turn off. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct listener *l = arg;
    (void)ev, (void)salen;
    if (sa->sa_family != AF_UNIX)
        set_nodelay(fd);
    l->on_accept(fd, l->arg);
}

static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
    struct listener *l = arg;
    (void)ev;
    log_error("accept on %s: %s", l->name, strerror(errno));
}

static void name_bound_address(struct listener *l, int fd, const struct addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (addr->sa.ss_family == AF_UNIX || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        snprintf(l->name, sizeof l->name, "%s", addr->text);
    else
        addr_format((struct sockaddr *)&ss, len, l->name, sizeof l->name);
    if (addr->sa.ss_family == AF_UNIX)
        snprintf(l->unix_path, sizeof l->unix_path, "%s",
                 ((const struct sockaddr_un *)&addr->sa)->sun_path);
}

struct listener *listener_open(struct event_base *base, const struct addr *addr,
                               listener_accept_fn on_accept, void *arg, char *err,
                               size_t errlen)
{
    struct listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "listen %s: out of memory", addr->text);
        return NULL;
    }
    int fd = open_socket(addr, err, errlen);
    if (fd < 0) {
        free(l);
        return NULL;
    }
    l->on_accept = on_accept;
    l->arg = arg;
    name_bound_address(l, fd, addr);
    l->ev = evconnlistener_new(base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!l->ev) {
        snprintf(err, errlen, "listen %s: cannot register with the event loop", addr->text);
        close(fd);
        free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->ev, accept_error_cb);
    return l;
}

const char *listener_name(const struct listener *l)
{
    return l->name;
}

void listener_close(struct listener *l)
{
    evconnlistener_free(l->ev);
    if (l->unix_path[0] && unlink(l->unix_path) < 0)
        log_warn("unlink %s: %s", l->unix_path, strerror(errno));
    free(l);
}
