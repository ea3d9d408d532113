/* conn_int: what the rooms of conn share, and no one else: struct conn and its
 * group, the state flags, the functions one room calls in another, and the
 * small helpers of the read and write path, static inline so that they stay
 * inlined across the files. Only src/core/conn*.c include it. */
#ifndef MW_CONN_INT_H
#define MW_CONN_INT_H

#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* conn->flags; unsigned, so that clearing one (flags &= ~CONN_X) converts nothing. */
#define CONN_PAUSED 0x001u        /* the handler asked not to read */
#define CONN_CLOSING 0x002u       /* close once output is flushed */
#define CONN_DISPATCH 0x004u      /* inside a callback: destroy later, not now */
#define CONN_DEAD 0x008u          /* failed or aborted; destroyed from its own event */
#define CONN_READ_EOF 0x010u      /* the peer shut its side */
#define CONN_THROTTLED 0x020u     /* output passed the high-water mark */
#define CONN_CONNECTING 0x040u    /* outbound, not yet established */
#define CONN_DELIVERING 0x080u    /* a buffered frame is with the handler */
#define CONN_PROXY 0x100u         /* a PROXY protocol header must come first */
#define CONN_SHUTDOWN 0x200u      /* no more output: our FIN follows what is queued */
#define CONN_FIN_SENT 0x400u      /* and it has gone */
#define CONN_ABOVE_HIGH 0x800u    /* output passed the high-water mark: on_drain is due */
#define CONN_HEALTH_CHECK 0x1000u /* a PROXY v2 LOCAL header: the balancer's own */

struct conn_list {
    struct conn *head, *tail;
};

struct conn_group {
    struct conn_group *prev, *next;
    struct conn_list live;  /* by last input, oldest first */
    struct conn_list dying; /* failed, waiting for their event to destroy them */
    struct conn_config config;
    const struct conn_callbacks *cb;
    struct event idle_timer;
    size_t count;
    int released;
};

/* Kept apart from struct conn: only connections through a proxy pay for it. */
struct conn_origin {
    socklen_t len;
    struct sockaddr_storage sa;
};

struct conn {
    struct event ev; /* one event: EV_READ, plus EV_WRITE while output is pending */
    struct conn *prev, *next;
    struct conn_group *group;
    struct evbuffer *in;  /* NULL unless part of a frame is buffered */
    struct evbuffer *out; /* NULL unless output is pending */
    void *ud;
    uint64_t id;
    uint64_t last_input_ms;
    const char *reason;         /* why it failed, once CONN_DEAD */
    struct conn_origin *origin; /* the client a PROXY header named, or the peer kept at our FIN */
    uint64_t opened_ms, bytes_in, bytes_out; /* for the access line */
    struct conn_stats *tally;                /* of its listener, or of outbound ones */
    size_t scanned;                          /* of in, by a delimiter search that found nothing */
    struct framing framing;
    int fd;
    unsigned flags;
};

/* ---- conn.c: life and death ---- */

/* The one libevent callback of every connection (conn_read.c). */
void conn_event(evutil_socket_t fd, short what, void *arg);
struct conn *conn_alloc(struct conn_group *g, int fd, void *ud, unsigned flags);
/* TCP_NODELAY, and SO_KEEPALIVE when the group asks for it. */
void conn_set_socket_options(int fd, const struct conn_config *config);
/* Re-arms the one event with the interest the state calls for. */
void conn_update_interest(struct conn *conn);
/* Marks the conn failed; it is destroyed from its own event. */
void conn_fail(struct conn *conn, const char *reason);
/* Nothing is queued: a close, a shutdown or an end of input takes effect. */
void conn_settle(struct conn *conn);
/* Logs the access line, calls on_close and frees the conn. */
void conn_destroy(struct conn *conn);

/* ---- conn_group.c: groups and the idle order ---- */

/* Arms the group's one timer for when its oldest connection goes idle. */
void conn_idle_arm(struct conn_group *g);
/* Frees a released group whose last connection is gone. */
void conn_group_free(struct conn_group *g);

/* ---- conn_read.c: input and delivery ---- */

/* One recv appended to conn->in: bytes read, 0 at EOF, -1 with errno. */
ssize_t conn_recv_buffered(struct conn *conn);
/* Hands the whole frames buffered in conn->in to the handler while it wants them. */
void conn_deliver_buffered(struct conn *conn);
/* Comes back for more on the next turn of the loop when no edge will announce it. */
void conn_read_more(struct conn *conn, ssize_t n, short what);
/* Reading may go on again: frames waiting in conn->in are looked at soon. */
void conn_redeliver(struct conn *conn);

/* ---- conn_write.c: output and the watermarks ---- */

/* Writes queued output until the socket refuses or the queue is empty. */
void conn_flush(struct conn *conn);

/* ---- conn_proxy.c: the PROXY protocol header ---- */

/* Reads while the header is awaited; on_open follows it. */
void conn_read_proxy_header(struct conn *conn, short what);
/* The header did not come in time. */
void conn_proxy_timeout(struct conn *conn);

/* ---- conn_connect.c: outbound ---- */

/* The event of a connection still connecting: established, or timed out. */
void conn_connect_event(struct conn *conn, short what);

/* ---- small helpers of the hot path ---- */

static inline uint64_t loop_ms(struct event_base *base)
{
    struct timeval tv;
    event_base_gettimeofday_cached(base, &tv);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static inline void list_append(struct conn_list *list, struct conn *conn)
{
    conn->prev = list->tail;
    conn->next = NULL;
    if (list->tail)
        list->tail->next = conn;
    else
        list->head = conn;
    list->tail = conn;
}

static inline void list_remove(struct conn_list *list, struct conn *conn)
{
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        list->head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    else
        list->tail = conn->prev;
}

/* Input arrived: the connection moves to the back of the idle order. */
static inline void conn_touch(struct conn *conn)
{
    struct conn_group *g = conn->group;
    if (conn->flags & CONN_DEAD)
        return;
    conn->last_input_ms = loop_ms(event_get_base(&conn->ev));
    /* Without an idle timeout the order is never read: keep the hot path
     * from touching two other connections' memory on every read. */
    if (!g->config.idle_timeout_ms)
        return;
    if (g->live.tail != conn) {
        list_remove(&g->live, conn);
        list_append(&g->live, conn);
    }
}

static inline void count_in(struct conn *conn, size_t n)
{
    conn->bytes_in += n;
    conn->tally->bytes_in += n;
}

static inline void count_out(struct conn *conn, size_t n)
{
    conn->bytes_out += n;
    conn->tally->bytes_out += n;
}

static inline int conn_wants_frames(const struct conn *conn)
{
    return !(conn->flags & (CONN_DEAD | CONN_PAUSED | CONN_CLOSING | CONN_THROTTLED));
}

static inline const char *errno_reason(int err)
{
    if (err == ENOMEM)
        return "out of memory"; /* as the rest of conn says it */
    return err == EPIPE || err == ECONNRESET ? "reset" : strerror(err);
}

#endif
