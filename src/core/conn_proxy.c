/* conn_proxy: an accepted connection that must begin with a PROXY protocol
 * header (v1 or v2): the header is read and taken off before the handler
 * sees anything, whole within PROXY_HEADER_TIMEOUT_MS of the accept; the
 * client it names becomes the connection's peer. A bad, missing or late
 * header closes it. */
#include "config.h"

#include "conn_int.h"

#include "addr.h"
#include "log.h"
#include "mstime.h"
#include "proxyproto.h"

#include <event2/buffer.h>
#include <stdlib.h>

#define PROXY_HEADER_TIMEOUT_MS 5000
#define PROXY_HEADER_TIMEOUT_TEXT "5 s"

static void proxy_header_failed(struct conn *conn, const char *why)
{
    char peer[ADDR_TEXT_MAX] = "?";
    conn_peer(conn, peer, sizeof peer);
    log_warn("connection %llu from %s: %s; closing", (unsigned long long)conn->id, peer, why);
    conn_fail(conn, "bad PROXY header");
}

static int set_origin(struct conn *conn, const struct proxyproto_addr *pa)
{
    if (pa->local)
        return 0;
    if (!(conn->origin = malloc(sizeof *conn->origin)))
        return -1;
    conn->origin->len = pa->srclen;
    memcpy(&conn->origin->sa, &pa->src, sizeof pa->src);
    return 0;
}

/* The header is taken off the input; what follows it is the handler's. */
static void take_proxy_header(struct conn *conn)
{
    struct proxyproto_addr pa;
    const char *why;
    size_t have = evbuffer_get_length(conn->in);
    size_t look = have < PROXYPROTO_MAX ? have : PROXYPROTO_MAX;
    const unsigned char *data = evbuffer_pullup(conn->in, (ssize_t)look);
    long n = proxyproto_parse(data, look, &pa, &why);
    if (n < 0)
        return proxy_header_failed(conn, why);
    if (n == 0)
        return;
    if (set_origin(conn, &pa) < 0)
        return conn_fail(conn, "out of memory");
    evbuffer_drain(conn->in, (size_t)n);
    conn->flags &= ~CONN_PROXY;
    if (pa.health_check)
        conn->flags |= CONN_HEALTH_CHECK;
    event_del(&conn->ev); /* drops the header's timeout */
    conn_update_interest(conn);
    conn->group->cb->on_open(conn, conn->ud);
    conn_deliver_buffered(conn);
}

void conn_proxy_timeout(struct conn *conn)
{
    proxy_header_failed(conn, "no complete PROXY header within " PROXY_HEADER_TIMEOUT_TEXT
                              " of the connect");
}

/* The header is due PROXY_HEADER_TIMEOUT_MS after the accept, however its
 * bytes come: a timeout of a persistent event counts again from each time
 * the event fires, so after every read it is set to what is left. */
static void arm_proxy_deadline(struct conn *conn)
{
    uint64_t now = loop_ms(event_get_base(&conn->ev));
    uint64_t due = conn->opened_ms + PROXY_HEADER_TIMEOUT_MS;
    if (now >= due)
        return conn_proxy_timeout(conn);
    struct timeval tv = ms_timeval((double)(due - now));
    if (event_add(&conn->ev, &tv) < 0)
        conn_fail(conn, "out of memory");
}

void conn_read_proxy_header(struct conn *conn, short what)
{
    ssize_t n = conn_recv_buffered(conn);
    if (n == 0)
        return proxy_header_failed(conn, "closed before its PROXY header ended");
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return conn_fail(conn, errno_reason(errno));
    if (n > 0) {
        take_proxy_header(conn);
        conn_read_more(conn, n, what);
    }
    if ((conn->flags & (CONN_PROXY | CONN_DEAD)) == CONN_PROXY)
        arm_proxy_deadline(conn);
}

/* A peer that connects and says nothing, or a byte at a time, must not hold
 * a connection open for long: the header is due within PROXY_HEADER_TIMEOUT_MS. */
void conn_expect_proxy_header(struct conn *conn)
{
    conn->flags |= CONN_PROXY;
    if (conn->flags & CONN_DEAD)
        return; /* its event could not be added: it is due, to destroy it */
    event_del(&conn->ev);
    arm_proxy_deadline(conn);
}

int conn_awaits_proxy_header(const struct conn *conn)
{
    return (conn->flags & CONN_PROXY) != 0;
}
