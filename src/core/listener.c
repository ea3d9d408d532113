#include "config.h"

#include "listener.h"

#include "addr.h"
#include "bibop.h"
#include "luaheap.h"
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_RETRY_MS 100
#define LISTEN_BACKLOG 1024

struct listener {
    struct evconnlistener *ev;
    struct event *retry; /* re-enables accepting after running out of descriptors */
    int paused;          /* by listener_pause */
    int starved;         /* out of descriptors since the last accept */
    listener_accept_fn on_accept;
    void *arg;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unlinked on close */
    char name[ADDR_TEXT_MAX];
};

static const struct listener *accepting; /* whose on_accept runs */

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
    int stale =
        connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 && errno == ECONNREFUSED;
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

static int set_option(int fd, int level, int name)
{
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof one);
}

/* SO_REUSEPORT puts the socket in a group whose members the kernel spreads
 * new connections over, by a hash of the peer's address and port. */
static int set_socket_options(int fd, int family, int reuseport)
{
    if (family != AF_UNIX && set_option(fd, SOL_SOCKET, SO_REUSEADDR) < 0)
        return -1;
    if (reuseport && set_option(fd, SOL_SOCKET, SO_REUSEPORT) < 0)
        return -1;
    if (family == AF_INET6 && set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY) < 0)
        return -1;
    return 0;
}

static int open_socket(const struct addr *addr, int reuseport, char *err, size_t errlen)
{
    int family = addr->sa.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sys_fail(err, errlen, "socket", addr);
    if (set_socket_options(fd, family, reuseport) < 0) {
        sys_fail(err, errlen, "setsockopt", addr);
        close(fd);
        return -1;
    }
    if (bind_socket(fd, addr) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int reason = errno; /* the caller's to look at, past the close */
        sys_fail(err, errlen, "bind", addr);
        close(fd);
        errno = reason;
        return -1;
    }
    return fd;
}

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct listener *l = arg;
    (void)ev, (void)sa, (void)salen;
    if (l->starved) {
        l->starved = 0;
        log_info("accept on %s: accepting again", l->name);
    }
    accepting = l;
    l->on_accept(fd, l->arg);
    accepting = NULL;
}

static int out_of_descriptors(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Out of descriptors the socket stays readable: accepting again at once
 * would spin. Pause, retry in a moment, and say so once per episode. */
static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
    struct listener *l = arg;
    int err = errno;
    if (!out_of_descriptors(err)) {
        log_error("accept on %s: %s", l->name, strerror(err));
        return;
    }
    if (!l->starved)
        log_error("accept on %s: %s; pausing accepts, retrying every %d ms", l->name, strerror(err),
                  ACCEPT_RETRY_MS);
    l->starved = 1;
    struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
    /* Without the retry timer, pausing would stop accepting for good. */
    if (evtimer_add(l->retry, &tv) == 0)
        evconnlistener_disable(ev);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;
    (void)fd, (void)what;
    if (!l->paused)
        evconnlistener_enable(l->ev);
}

/* The address fd is bound to, with port 0 resolved; its text is "ip:port". */
static void bound_address(int fd, const struct addr *addr, struct addr *bound)
{
    *bound = *addr;
    if (addr->sa.ss_family == AF_UNIX)
        return;
    bound->len = sizeof bound->sa;
    if (getsockname(fd, (struct sockaddr *)&bound->sa, &bound->len) < 0) {
        *bound = *addr;
        return;
    }
    addr_format((struct sockaddr *)&bound->sa, bound->len, bound->text, sizeof bound->text);
}

int listener_parse(const char *spec, struct addr *addr, unsigned *flags, char *err, size_t errlen)
{
    char text[ADDR_TEXT_MAX];
    const char *comma = strrchr(spec, ',');
    *flags = 0;
    /* Only a known word is an option: a UNIX path may hold a comma. */
    if (!comma || strcmp(comma + 1, "proxy") != 0)
        return addr_parse(spec, addr, err, errlen);
    *flags = LISTENER_PROXY;
    snprintf(text, sizeof text, "%.*s", (int)(comma - spec), spec);
    return addr_parse(text, addr, err, errlen);
}

int listener_bind(const struct addr *addr, int reuseport, struct addr *bound, char *err,
                  size_t errlen)
{
    int fd = open_socket(addr, reuseport, err, errlen);
    if (fd >= 0 && bound)
        bound_address(fd, addr, bound);
    return fd;
}

struct listener *listener_adopt(struct event_base *base, int fd, const char *name,
                                listener_accept_fn on_accept, void *arg, char *err, size_t errlen)
{
    uint32_t generation;
    struct listener *l = bibop_box_new(luaheap(), BIBOP_KIND_LISTENER, sizeof *l, &generation);
    if (!l) {
        snprintf(err, errlen, "listen %s: out of memory", name);
        return NULL;
    }
    l->on_accept = on_accept;
    l->arg = arg;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->retry = evtimer_new(base, accept_retry_cb, l);
    if (l->retry)
        l->ev = evconnlistener_new(base, accept_cb, l,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!l->ev) {
        snprintf(err, errlen, "listen %s: cannot register with the event loop", name);
        if (l->retry)
            event_free(l->retry);
        bibop_box_free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->ev, accept_error_cb);
    return l;
}

struct listener *listener_open(struct event_base *base, const struct addr *addr,
                               listener_accept_fn on_accept, void *arg, char *err, size_t errlen)
{
    struct addr bound;
    int fd = listener_bind(addr, 0, &bound, err, errlen);
    if (fd < 0)
        return NULL;
    struct listener *l = listener_adopt(base, fd, bound.text, on_accept, arg, err, errlen);
    if (!l) {
        close(fd);
        return NULL;
    }
    if (addr->sa.ss_family == AF_UNIX)
        snprintf(l->unix_path, sizeof l->unix_path, "%s",
                 ((const struct sockaddr_un *)&addr->sa)->sun_path);
    return l;
}

void listener_pause(struct listener *l)
{
    l->paused = 1;
    if (evconnlistener_disable(l->ev) < 0)
        log_warn("stop accepting on %s: cannot update the event loop", l->name);
}

void listener_resume(struct listener *l)
{
    l->paused = 0;
    if (evconnlistener_enable(l->ev) < 0)
        log_warn("resume accepting on %s: cannot update the event loop", l->name);
}

const char *listener_name(const struct listener *l)
{
    return l->name;
}

const char *listener_accepting(void)
{
    return accepting ? accepting->name : NULL;
}

void listener_close(struct listener *l)
{
    evconnlistener_free(l->ev);
    event_free(l->retry);
    if (l->unix_path[0] && unlink(l->unix_path) < 0)
        log_warn("unlink %s: %s", l->unix_path, strerror(errno));
    bibop_box_free(l);
}
