/* echo_bev: the plain libevent echo server, bufferevents and nothing else:
 * the peer moonwire's engine must not cost more CPU per message than. */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>

#include "peer.h"

static void bev_on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (bufferevent_write_buffer(bev, bufferevent_get_input(bev)) != 0)
        fputs("echo_bev: bufferevent_write_buffer failed\n", stderr);
}

static void bev_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

void peer_accept(struct event_base *base, evutil_socket_t fd)
{
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        fputs("echo_bev: bufferevent_socket_new failed\n", stderr);
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, bev_on_read, NULL, bev_on_event, NULL);
    if (bufferevent_enable(bev, EV_READ) != 0) {
        fputs("echo_bev: bufferevent_enable failed\n", stderr);
        bufferevent_free(bev);
    }
}

int main(int argc, char **argv)
{
    return peer_main(argc, argv, "echo_bev");
}
