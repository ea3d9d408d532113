#define _GNU_SOURCE
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void peer_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg)
{
    int one = 1;
    (void)l;
    (void)sa;
    (void)salen;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        perror("setsockopt TCP_NODELAY");
    peer_accept(arg, fd);
}

static void peer_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* Parses "host:port" (IPv4, port 0 for any) into sin. */
static int peer_parse(const char *s, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (*end != '\0' || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return -1;
    return 0;
}

static int peer_announce(struct evconnlistener *l, const char *name)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    char ip[INET_ADDRSTRLEN];
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "%s: getsockname: %s\n", name, strerror(errno));
        return -1;
    }
    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
    fprintf(stderr, "%s: listening on %s:%u\n", name, ip, ntohs(sin.sin_port));
    return 0;
}

static int peer_serve(struct event_base *base, const struct sockaddr_in *sin, const char *name)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
    struct evconnlistener *l = evconnlistener_new_bind(base, peer_on_accept, base, flags, 4096,
                                                       (const struct sockaddr *)sin, sizeof *sin);
    if (l == NULL) {
        fprintf(stderr, "%s: bind: %s\n", name, strerror(errno));
        return -1;
    }
    struct event *term = evsignal_new(base, SIGTERM, peer_on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, peer_on_signal, base);
    int rc = -1;
    if (term && intr && event_add(term, NULL) == 0 && event_add(intr, NULL) == 0 &&
        peer_announce(l, name) == 0)
        rc = event_base_dispatch(base) < 0 ? -1 : 0;
    if (term)
        event_free(term);
    if (intr)
        event_free(intr);
    evconnlistener_free(l);
    return rc;
}

int peer_main(int argc, char **argv, const char *name)
{
    struct sockaddr_in sin;
    if (argc != 3 || strcmp(argv[1], "-l") != 0 || peer_parse(argv[2], &sin) != 0) {
        fprintf(stderr, "usage: %s -l IPV4:PORT   (port 0: any free port)\n", name);
        return 2;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("signal(SIGPIPE)");
        return 1;
    }
    struct event_base *base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "%s: event_base_new failed\n", name);
        return 1;
    }
    int rc = peer_serve(base, &sin, name);
    event_base_free(base);
    return rc == 0 ? 0 : 1;
}
