/* conn: the life of a connection: made (accepted or outbound), watched by its
 * one event, closed or failed, its two ends shut one at a time (conn_settle),
 * and destroyed from that event with the access line; and the accessors and
 * process totals. conn.h lists the other rooms. */
#include "config.h"

#include "conn_int.h"

#include "addr.h"
#include "bibop.h"
#include "listener.h"
#include "log.h"
#include "luaheap.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The figures by listener, for metrics: [0] for connections no listener
 * accepted (outbound), then one per listener name in the order first seen.
 * More listeners than fit (options allow 16) count under the last. */
#define CONN_TALLIES 33
static struct tally {
    char listener[ADDR_TEXT_MAX];
    struct conn_stats stats;
} tallies[CONN_TALLIES];
static int ntallies = 1;
static size_t open_count;
static uint64_t last_id;
static void (*close_observer)(void *);
static void *close_observer_arg;

/* ---- the one event ---- */

/* Re-arms the one event with the interest the state calls for.
 *
 * Edge-triggered (EV_ET, on epoll): a level-triggered socket is polled again
 * by the next epoll_wait after each event, which was 1% of the CPU of a small
 * HTTP request. The rules that keep an edge from being lost: a read that
 * fills its buffer, or that came with the peer's end of input (EV_CLOSED:
 * the FIN arrived with the data), comes back for more (conn_read_more); a
 * flush writes until the socket refuses or the queue is empty (conn_flush);
 * input left in the socket while reading was off is seen when reading is
 * turned back on, since re-adding the event reports a ready socket. */
void conn_update_interest(struct conn *conn)
{
    short want = EV_PERSIST | EV_ET;
    if (conn->flags & (CONN_DEAD | CONN_CONNECTING))
        return; /* activated to destroy it, or a connect timer until connected */
    if (!(conn->flags &
          (CONN_PAUSED | CONN_CLOSING | CONN_READ_EOF | CONN_THROTTLED | CONN_CONNECTING)))
        want |= EV_READ | EV_CLOSED;
    if (conn->out || (conn->flags & CONN_CONNECTING))
        want |= EV_WRITE;
    if (event_get_events(&conn->ev) == want && event_pending(&conn->ev, EV_READ | EV_WRITE, NULL))
        return;
    struct event_base *base = event_get_base(&conn->ev);
    event_del(&conn->ev);
    event_assign(&conn->ev, base, conn->fd, want, conn_event, conn);
    /* It fails when the kernel will watch no more sockets or libevent cannot
     * grow its tables: a lack of memory either way. */
    if ((want & (EV_READ | EV_WRITE)) && event_add(&conn->ev, NULL) < 0)
        conn_fail(conn, "out of memory");
}

/* ---- made ---- */

/* The figures a new connection counts in: those of the listener accepting it. */
static struct conn_stats *tally_of(const char *listener)
{
    if (!listener)
        return &tallies[0].stats;
    for (int i = 1; i < ntallies; i++)
        if (strcmp(tallies[i].listener, listener) == 0)
            return &tallies[i].stats;
    if (ntallies == CONN_TALLIES)
        return &tallies[CONN_TALLIES - 1].stats;
    snprintf(tallies[ntallies].listener, sizeof tallies[ntallies].listener, "%s", listener);
    return &tallies[ntallies++].stats;
}

/* Put in its group's idle order before its interest is set: a connection
 * whose event cannot be added fails at once, which takes it out of the order. */
struct conn *conn_alloc(struct conn_group *g, int fd, void *ud, unsigned flags)
{
    uint32_t generation;
    struct conn *conn = bibop_box_new(luaheap(), BIBOP_KIND_CONN, sizeof *conn, &generation);
    if (!conn)
        return NULL;
    conn->fd = fd;
    conn->group = g;
    conn->ud = ud;
    conn->flags = flags;
    conn->framing = g->config.framing;
    conn->id = ++last_id;
    conn->tally = tally_of(flags & CONN_CONNECTING ? NULL : listener_accepting());
    conn->tally->open++;
    conn->tally->accepted += !(flags & CONN_CONNECTING);
    event_assign(&conn->ev, event_get_base(&g->idle_timer), fd, EV_PERSIST, conn_event, conn);
    conn->last_input_ms = conn->opened_ms = loop_ms(event_get_base(&conn->ev));
    list_append(&g->live, conn);
    g->count++;
    open_count++;
    if (!(flags & CONN_CONNECTING))
        conn_update_interest(conn);
    conn_idle_arm(g);
    return conn;
}

void conn_set_socket_options(int fd, const struct conn_config *config)
{
    int one = 1;
    /* Both fail harmlessly on UNIX sockets, which have neither. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (config->keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

struct conn *conn_new(struct conn_group *g, int fd, void *ud)
{
    conn_set_socket_options(fd, &g->config);
    return conn_alloc(g, fd, ud, 0);
}

/* ---- closed, failed, destroyed ---- */

/* The access line: who, how long, how much, why it ended. Before the
 * descriptor is closed, which takes the peer's address with it. A load
 * balancer's health checks (a PROXY v2 LOCAL header), each second or so and
 * ended by a reset, are at debug level: they would drown the clients' lines. */
static void log_closed(struct conn *conn)
{
    char peer[ADDR_TEXT_MAX] = "-";
    enum log_level level = conn->flags & CONN_HEALTH_CHECK ? LOG_DEBUG : LOG_INFO;
    if (!log_enabled(level))
        return;
    if (conn->fd >= 0 && conn_peer(conn, peer, sizeof peer) < 0)
        snprintf(peer, sizeof peer, "-");
    struct log_access a = {.conn = conn->id,
                           .peer = peer,
                           .reason = conn->reason ? conn->reason : "closed",
                           .duration_ms = loop_ms(event_get_base(&conn->ev)) - conn->opened_ms,
                           .bytes_in = conn->bytes_in,
                           .bytes_out = conn->bytes_out};
    log_access(level, &a);
}

void conn_destroy(struct conn *conn)
{
    struct conn_group *g = conn->group;
    log_closed(conn);
    event_del(&conn->ev);
    list_remove(&g->dying, conn);
    if (conn->fd >= 0 && close(conn->fd) < 0)
        log_debug("close connection %llu: %s", (unsigned long long)conn->id, strerror(errno));
    g->cb->on_close(conn, conn->reason, conn->ud);
    if (conn->in)
        evbuffer_free(conn->in);
    if (conn->out)
        evbuffer_free(conn->out);
    free(conn->origin);
    conn->tally->open--;
    bibop_box_free(conn);
    open_count--;
    if (--g->count == 0 && g->released)
        conn_group_free(g);
    if (close_observer)
        close_observer(close_observer_arg);
}

/* Marks the conn failed and moves it from the idle order to the dying. It is destroyed
 * from its own event, never under the caller's feet: a handler that closes
 * another connection does not see that connection's on_close inside its call. */
void conn_fail(struct conn *conn, const char *reason)
{
    if (conn->flags & CONN_DEAD)
        return;
    conn->flags |= CONN_DEAD;
    conn->reason = reason;
    list_remove(&conn->group->live, conn);
    list_append(&conn->group->dying, conn);
    if (!(conn->flags & CONN_DISPATCH))
        event_active(&conn->ev, EV_WRITE, 1);
}

void conn_abort(struct conn *conn, const char *reason)
{
    conn_fail(conn, reason);
}

void conn_close(struct conn *conn)
{
    if (conn->flags & (CONN_DEAD | CONN_CLOSING))
        return;
    conn->flags |= CONN_CLOSING;
    if (!conn->out)
        conn_settle(conn);
    else
        conn_update_interest(conn);
}

/* ---- the two ends ---- */

/* Once both FINs have gone the socket forgets its peer (getpeername says
 * ENOTCONN): it is kept when ours goes, for the access line and conn:peer. */
static void keep_peer(struct conn *conn)
{
    if (conn->origin || !(conn->origin = malloc(sizeof *conn->origin)))
        return;
    conn->origin->len = sizeof conn->origin->sa;
    if (getpeername(conn->fd, (struct sockaddr *)&conn->origin->sa, &conn->origin->len) < 0) {
        free(conn->origin);
        conn->origin = NULL;
    }
}

/* Called when nothing is queued. A closing connection is done; a shut-down
 * one sends its FIN (once: nothing is queued after it). A connection is
 * done too when the peer's input has ended and so has ours, or when the
 * handler does not take an end of input as half a close (today's rule for
 * a handler without on_eof: what is pending is sent, then it closes). */
void conn_settle(struct conn *conn)
{
    if (conn->flags & CONN_DEAD)
        return;
    if (conn->flags & CONN_CLOSING)
        return conn_fail(conn, "closed");
    if (conn->flags & CONN_CONNECTING)
        return; /* a shutdown waits for the connect, and settles then */
    if ((conn->flags & (CONN_SHUTDOWN | CONN_FIN_SENT)) == CONN_SHUTDOWN) {
        keep_peer(conn);
        if (shutdown(conn->fd, SHUT_WR) < 0)
            return conn_fail(conn, errno_reason(errno));
        conn->flags |= CONN_FIN_SENT;
    }
    if ((conn->flags & CONN_READ_EOF) &&
        ((conn->flags & CONN_SHUTDOWN) || !conn->group->config.half_close))
        conn_fail(conn, "eof");
}

void conn_shutdown(struct conn *conn)
{
    if (conn->flags & (CONN_DEAD | CONN_CLOSING | CONN_SHUTDOWN))
        return;
    conn->flags |= CONN_SHUTDOWN;
    if (!conn->out)
        conn_settle(conn);
}

/* TCP_CORK holds what is written until our FIN (or 200 ms), so that the end
 * of a last write and the FIN reach the peer in one segment; a UNIX socket
 * has no such option, and needs none (its end comes with the last bytes). */
void conn_cork(struct conn *conn)
{
    int on = 1;
    if (conn->fd >= 0 && setsockopt(conn->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) < 0 &&
        errno != EOPNOTSUPP && errno != ENOPROTOOPT)
        log_debug("connection %llu: TCP_CORK: %s", (unsigned long long)conn->id, strerror(errno));
}

int conn_read_ended(const struct conn *conn)
{
    return (conn->flags & CONN_READ_EOF) != 0;
}

/* ---- small accessors ---- */

int conn_is_open(const struct conn *conn)
{
    return !(conn->flags & (CONN_DEAD | CONN_CLOSING));
}

const char *conn_error(const struct conn *conn)
{
    if (conn->flags & CONN_DEAD)
        return conn->reason;
    if (conn->flags & CONN_CLOSING)
        return "closing";
    return conn->flags & CONN_SHUTDOWN ? "shut down" : NULL;
}

void conn_set_ud(struct conn *conn, void *ud)
{
    conn->ud = ud;
}

uint64_t conn_id(const struct conn *conn)
{
    return conn->id;
}

int conn_peer(const struct conn *conn, char *buf, size_t len)
{
    if (conn->origin) {
        addr_format((struct sockaddr *)&conn->origin->sa, conn->origin->len, buf, len);
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getpeername(conn->fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -1;
    addr_format((struct sockaddr *)&ss, sslen, buf, len);
    return 0;
}

size_t conn_count(void)
{
    return open_count;
}

void conn_get_stats(struct conn_stats *out)
{
    *out = (struct conn_stats){0};
    for (int i = 0; i < ntallies; i++) {
        out->open += tallies[i].stats.open;
        out->accepted += tallies[i].stats.accepted;
        out->bytes_in += tallies[i].stats.bytes_in;
        out->bytes_out += tallies[i].stats.bytes_out;
        out->frames += tallies[i].stats.frames;
    }
}

void conn_each_listener_stats(void (*fn)(const char *listener, const struct conn_stats *s,
                                         void *arg),
                              void *arg)
{
    for (int i = 0; i < ntallies; i++)
        fn(i ? tallies[i].listener : NULL, &tallies[i].stats, arg);
}

void conn_set_close_observer(void (*fn)(void *), void *arg)
{
    close_observer = fn;
    close_observer_arg = arg;
}
