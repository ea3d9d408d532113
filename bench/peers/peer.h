/* peer: what the C echo peers share: the command line, the listener, the
 * "listening on HOST:PORT" line the bench scripts wait for, and a clean
 * stop on SIGTERM/SIGINT. Each peer supplies peer_accept().
 *   peer_main  peer_accept */
#ifndef MW_BENCH_PEER_H
#define MW_BENCH_PEER_H

#include <event2/event.h>

/* Called for every accepted, non-blocking socket; the peer owns fd. */
void peer_accept(struct event_base *base, evutil_socket_t fd);

int peer_main(int argc, char **argv, const char *name);

#endif
