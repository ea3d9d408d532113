/* echo_direct: the plain libevent echo server with one change, the floor for
 * moonwire's engine: when nothing is queued, the bytes read are written at
 * once from the read callback (epoll_wait, read, write: three system calls
 * per echoed message, where a bufferevent makes five); only what the socket
 * does not take is queued, and written when it is writable again. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

#define DIRECT_RBUF 16384

struct direct_conn {
    evutil_socket_t fd;
    struct event *rev, *wev;
    struct evbuffer *queued;
};

static void direct_free(struct direct_conn *c)
{
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->queued)
        evbuffer_free(c->queued);
    if (close(c->fd) != 0)
        perror("echo_direct: close");
    free(c);
}

/* Queues what the socket did not take; reading pauses until it drains. */
static int direct_queue(struct direct_conn *c, const char *p, size_t n)
{
    if (evbuffer_add(c->queued, p, n) != 0 || event_add(c->wev, NULL) != 0)
        return -1;
    return event_del(c->rev);
}

/* Returns 0 when the echo is written or queued, -1 on a fatal error. */
static int direct_echo(struct direct_conn *c, const char *p, size_t n)
{
    ssize_t w = write(c->fd, p, n);
    if (w < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    if (w < 0)
        w = 0;
    return (size_t)w == n ? 0 : direct_queue(c, p + w, n - (size_t)w);
}

static void direct_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct direct_conn *c = arg;
    char buf[DIRECT_RBUF];
    (void)what;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || direct_echo(c, buf, (size_t)n) != 0)
        direct_free(c);
}

static void direct_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct direct_conn *c = arg;
    (void)what;
    int n = evbuffer_write(c->queued, fd);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        direct_free(c);
        return;
    }
    if (evbuffer_get_length(c->queued) == 0 &&
        (event_del(c->wev) != 0 || event_add(c->rev, NULL) != 0))
        direct_free(c);
}

void peer_accept(struct event_base *base, evutil_socket_t fd)
{
    struct direct_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        perror("echo_direct: calloc");
        evutil_closesocket(fd);
        return;
    }
    c->fd = fd;
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, direct_on_read, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, direct_on_write, c);
    c->queued = evbuffer_new();
    if (c->rev == NULL || c->wev == NULL || c->queued == NULL || event_add(c->rev, NULL) != 0) {
        fputs("echo_direct: out of memory\n", stderr);
        direct_free(c);
    }
}

int main(int argc, char **argv)
{
    return peer_main(argc, argv, "echo_direct");
}
