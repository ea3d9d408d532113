#include "config.h"

#include "conn.h"

#include "addr.h"
#include "bibop.h"
#include "luaheap.h"
#include "log.h"
#include "mstime.h"
#include "proxyproto.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE 65536
#define PROXY_HEADER_TIMEOUT_MS 5000
#define PROXY_HEADER_TIMEOUT_TEXT "5 s"

enum conn_flag {
    CONN_PAUSED = 1,      /* the handler asked not to read */
    CONN_CLOSING = 2,     /* close once output is flushed */
    CONN_DISPATCH = 4,    /* inside a callback: destroy later, not now */
    CONN_DEAD = 8,        /* failed or aborted; destroyed from its own event */
    CONN_READ_EOF = 16,   /* the peer shut its side */
    CONN_THROTTLED = 32,  /* output passed the high-water mark */
    CONN_CONNECTING = 64, /* outbound, not yet established */
    CONN_DELIVERING = 128, /* a buffered frame is with the handler */
    CONN_PROXY = 256,      /* a PROXY protocol header must come first */
};

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
    const char *reason; /* why it failed, once CONN_DEAD */
    struct conn_origin *origin; /* the client a PROXY header named, if any */
    uint64_t opened_ms, bytes_in, bytes_out; /* for the access line */
    size_t scanned;     /* of in, by a delimiter search that found nothing */
    struct framing framing;
    int fd;
    unsigned flags;
};

static struct conn_group *groups;
static size_t open_count;
static uint64_t accepted_total;
static struct conn_stats totals; /* of this process, for metrics */
static void (*close_observer)(void *);
static void *close_observer_arg;

static void conn_event(evutil_socket_t fd, short what, void *arg);
static void idle_timer_cb(evutil_socket_t fd, short what, void *arg);

static uint64_t loop_ms(struct event_base *base)
{
    struct timeval tv;
    event_base_gettimeofday_cached(base, &tv);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---- groups and the idle order ---- */

struct conn_group *conn_group_new(struct event_base *base, const struct conn_config *config,
                                  const struct conn_callbacks *cb)
{
    struct conn_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->config = *config;
    g->cb = cb;
    evtimer_assign(&g->idle_timer, base, idle_timer_cb, g);
    g->next = groups;
    if (groups)
        groups->prev = g;
    groups = g;
    return g;
}

static void group_free(struct conn_group *g)
{
    event_del(&g->idle_timer);
    if (g->prev)
        g->prev->next = g->next;
    else
        groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    free(g);
}

void conn_group_release(struct conn_group *g)
{
    g->released = 1;
    if (g->count == 0)
        group_free(g);
}

static void list_append(struct conn_list *list, struct conn *conn)
{
    conn->prev = list->tail;
    conn->next = NULL;
    if (list->tail)
        list->tail->next = conn;
    else
        list->head = conn;
    list->tail = conn;
}

static void list_remove(struct conn_list *list, struct conn *conn)
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

/* Arms the group's one timer for when its oldest connection goes idle. */
static void idle_arm(struct conn_group *g)
{
    if (!g->config.idle_timeout_ms || !g->live.head || evtimer_pending(&g->idle_timer, NULL))
        return;
    uint64_t now = loop_ms(event_get_base(&g->idle_timer));
    uint64_t due = g->live.head->last_input_ms + g->config.idle_timeout_ms;
    uint64_t wait = due > now ? due - now : 0;
    struct timeval tv = ms_timeval((double)wait);
    evtimer_add(&g->idle_timer, &tv);
}

/* Input arrived: the connection moves to the back of the idle order. */
static void conn_touch(struct conn *conn)
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

static void conn_fail(struct conn *conn, const char *reason);

static void idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn_group *g = arg;
    (void)fd, (void)what;
    uint64_t now = loop_ms(event_get_base(&g->idle_timer));
    /* conn_fail takes a connection out of the order, so the head moves on. */
    while (g->live.head && g->live.head->last_input_ms + g->config.idle_timeout_ms <= now)
        conn_fail(g->live.head, "idle timeout");
    idle_arm(g);
}

/* ---- life and death ---- */

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
static void conn_update_interest(struct conn *conn)
{
    short want = EV_PERSIST | EV_ET;
    if (conn->flags & (CONN_DEAD | CONN_CONNECTING))
        return; /* activated to destroy it, or a connect timer until connected */
    if (!(conn->flags & (CONN_PAUSED | CONN_CLOSING | CONN_READ_EOF | CONN_THROTTLED |
                         CONN_CONNECTING)))
        want |= EV_READ | EV_CLOSED;
    if (conn->out || (conn->flags & CONN_CONNECTING))
        want |= EV_WRITE;
    if (event_get_events(&conn->ev) == want && event_pending(&conn->ev, EV_READ | EV_WRITE, NULL))
        return;
    struct event_base *base = event_get_base(&conn->ev);
    event_del(&conn->ev);
    event_assign(&conn->ev, base, conn->fd, want, conn_event, conn);
    if (want & (EV_READ | EV_WRITE))
        event_add(&conn->ev, NULL);
}

static struct conn *conn_alloc(struct conn_group *g, int fd, void *ud, unsigned flags)
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
    conn->id = ++accepted_total;
    event_assign(&conn->ev, event_get_base(&g->idle_timer), fd, EV_PERSIST, conn_event, conn);
    if (!(flags & CONN_CONNECTING))
        conn_update_interest(conn);
    conn->last_input_ms = conn->opened_ms = loop_ms(event_get_base(&conn->ev));
    list_append(&g->live, conn);
    g->count++;
    open_count++;
    idle_arm(g);
    return conn;
}

static void set_socket_options(int fd, const struct conn_config *config)
{
    int one = 1;
    /* Both fail harmlessly on UNIX sockets, which have neither. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (config->keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

struct conn *conn_new(struct conn_group *g, int fd, void *ud)
{
    set_socket_options(fd, &g->config);
    return conn_alloc(g, fd, ud, 0);
}

/* The access line: who, how long, how much, why it ended. Before the
 * descriptor is closed, which takes the peer's address with it. */
static void log_closed(struct conn *conn)
{
    char peer[ADDR_TEXT_MAX] = "-";
    if (!log_enabled(LOG_INFO))
        return;
    if (conn->fd >= 0 && conn_peer(conn, peer, sizeof peer) < 0)
        snprintf(peer, sizeof peer, "-");
    struct log_access a = {.conn = conn->id,
                           .peer = peer,
                           .reason = conn->reason ? conn->reason : "closed",
                           .duration_ms = loop_ms(event_get_base(&conn->ev)) - conn->opened_ms,
                           .bytes_in = conn->bytes_in,
                           .bytes_out = conn->bytes_out};
    log_access(&a);
}

static void conn_destroy(struct conn *conn)
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
    bibop_box_free(conn);
    open_count--;
    if (--g->count == 0 && g->released)
        group_free(g);
    if (close_observer)
        close_observer(close_observer_arg);
}

/* Marks the conn failed and moves it from the idle order to the dying. It is destroyed
 * from its own event, never under the caller's feet: a handler that closes
 * another connection does not see that connection's on_close inside its call. */
static void conn_fail(struct conn *conn, const char *reason)
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
        conn_fail(conn, "closed");
    else
        conn_update_interest(conn);
}

static const char *errno_reason(int err)
{
    if (err == ENOMEM)
        return "out of memory"; /* as the rest of this file says it */
    return err == EPIPE || err == ECONNRESET ? "reset" : strerror(err);
}

/* ---- input ---- */

static void count_in(struct conn *conn, size_t n)
{
    conn->bytes_in += n;
    totals.bytes_in += n;
}

static void count_out(struct conn *conn, size_t n)
{
    conn->bytes_out += n;
    totals.bytes_out += n;
}

static int conn_wants_frames(const struct conn *conn)
{
    return !(conn->flags & (CONN_DEAD | CONN_PAUSED | CONN_CLOSING | CONN_THROTTLED));
}

static void conn_deliver(struct conn *conn, const char *data, size_t len)
{
    totals.frames++;
    conn->group->cb->on_data(conn, data, len, conn->ud);
}

static void drop_input(struct conn *conn)
{
    if (conn->in)
        evbuffer_free(conn->in);
    conn->in = NULL;
    conn->scanned = 0;
}

static void frame_too_large(struct conn *conn)
{
    log_warn("connection %llu: frame too large (max_frame %u bytes)",
             (unsigned long long)conn->id, conn->framing.max_frame);
    conn_fail(conn, "frame too large");
}

/* Delivers the whole frames buffered in conn->in while the handler wants them. */
static void deliver_buffered(struct conn *conn)
{
    struct framing_cut cut;
    while (conn->in && conn_wants_frames(conn)) {
        enum framing_result r = framing_find(&conn->framing, conn->in, &conn->scanned, &cut);
        if (r == FRAMING_NEED_MORE)
            break;
        if (r == FRAMING_TOO_LARGE)
            return frame_too_large(conn);
        size_t total = cut.skip + cut.len + cut.trail;
        const char *frame = (const char *)evbuffer_pullup(conn->in, (ssize_t)total);
        conn->scanned = 0;
        conn->flags |= CONN_DELIVERING;
        conn_deliver(conn, frame + cut.skip, cut.len);
        conn->flags &= ~CONN_DELIVERING;
        evbuffer_drain(conn->in, total);
    }
    if (conn->in && evbuffer_get_length(conn->in) == 0)
        drop_input(conn);
}

/* At EOF a last line or delimited record without its terminator still
 * counts; a part of a fixed-size or prefixed frame does not. */
static void deliver_tail(struct conn *conn)
{
    size_t left = conn->in ? evbuffer_get_length(conn->in) : 0;
    int delimited = conn->framing.kind == FRAMING_LINE || conn->framing.kind == FRAMING_DELIMITER;
    if (left && delimited && conn_wants_frames(conn) && left <= conn->framing.max_frame)
        conn_deliver(conn, (const char *)evbuffer_pullup(conn->in, -1), left);
    else if (left)
        log_debug("connection %llu: %zu bytes of an unfinished frame dropped at EOF",
                  (unsigned long long)conn->id, left);
    drop_input(conn);
}

static void conn_got_eof(struct conn *conn)
{
    conn->flags |= CONN_READ_EOF;
    deliver_buffered(conn);
    deliver_tail(conn);
    /* A half-closed peer still gets what is pending. */
    if (!conn->out)
        conn_fail(conn, "eof");
    else
        conn_update_interest(conn);
}

/* One loop per process: every read lands here first, and is handed on (or
 * copied) before the next. */
static char read_buffer[READ_SIZE];

/* One recv into read_buffer: recv, not read, as a socket call skips the file
 * layer (its position lock); and not evbuffer_read, which asks FIONREAD first
 * (a second system call) and stops at 4 KiB, so a short read would not tell
 * that the socket is drained. */
static ssize_t recv_some(struct conn *conn)
{
    ssize_t n = recv(conn->fd, read_buffer, READ_SIZE, 0);
    if (n > 0) {
        count_in(conn, (size_t)n);
        conn_touch(conn);
    }
    return n;
}

/* Appends what recv_some read to conn->in, made when there is something to keep. */
static ssize_t recv_buffered(struct conn *conn)
{
    ssize_t n = recv_some(conn);
    if (n <= 0)
        return n;
    if ((!conn->in && !(conn->in = evbuffer_new())) ||
        evbuffer_add(conn->in, read_buffer, (size_t)n) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return n;
}

/* Raw framing with nothing buffered: straight from read_buffer, no copy. */
static ssize_t read_raw(struct conn *conn)
{
    ssize_t n = recv_some(conn);
    if (n > 0)
        conn_deliver(conn, read_buffer, (size_t)n);
    return n;
}

static ssize_t read_framed(struct conn *conn)
{
    ssize_t n = recv_buffered(conn);
    if (n > 0)
        deliver_buffered(conn);
    return n;
}

static void read_proxy_header(struct conn *conn, short what);

/* After a read of n bytes into a buffer of READ_SIZE: a full buffer means the
 * socket may hold more, and an event that said the peer has ended its input
 * means its end is still to be read; no new edge will announce either, so
 * read again on the next turn of the loop, after the other connections'
 * events (passing the end on until it is read). */
static void conn_read_more(struct conn *conn, ssize_t n, short what)
{
    if ((n == READ_SIZE || (what & EV_CLOSED)) && conn_wants_frames(conn))
        event_active(&conn->ev, EV_READ | (what & EV_CLOSED), 1);
}

static void conn_read(struct conn *conn, short what)
{
    if (conn->flags & CONN_PROXY)
        return read_proxy_header(conn, what);
    deliver_buffered(conn);
    if (!conn_wants_frames(conn))
        return;
    int raw = conn->framing.kind == FRAMING_RAW && !conn->in;
    ssize_t n = raw ? read_raw(conn) : read_framed(conn);
    if (n == 0)
        conn_got_eof(conn);
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        conn_fail(conn, errno_reason(errno));
    else
        conn_read_more(conn, n, what);
}

/* ---- the PROXY protocol header ---- */

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
    event_del(&conn->ev); /* drops the header's timeout */
    conn_update_interest(conn);
    conn->group->cb->on_open(conn, conn->ud);
    deliver_buffered(conn);
}

static void read_proxy_header(struct conn *conn, short what)
{
    ssize_t n = recv_buffered(conn);
    if (n == 0)
        return proxy_header_failed(conn, "closed before its PROXY header ended");
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return conn_fail(conn, errno_reason(errno));
    if (n > 0) {
        take_proxy_header(conn);
        conn_read_more(conn, n, what);
    }
}

/* A peer that connects and says nothing must not hold a connection open
 * forever: the header is due within PROXY_HEADER_TIMEOUT_MS. */
void conn_expect_proxy_header(struct conn *conn)
{
    struct timeval tv = ms_timeval(PROXY_HEADER_TIMEOUT_MS);
    conn->flags |= CONN_PROXY;
    event_del(&conn->ev);
    event_add(&conn->ev, &tv);
}

int conn_awaits_proxy_header(const struct conn *conn)
{
    return (conn->flags & CONN_PROXY) != 0;
}

/* Frames may wait in conn->in while reading was stopped: look at them soon. */
static void conn_redeliver(struct conn *conn)
{
    conn_update_interest(conn);
    if (conn->in && conn_wants_frames(conn))
        event_active(&conn->ev, EV_READ, 1);
}

int conn_next_frame(struct conn *conn, const char **data, size_t *len, size_t *total)
{
    struct framing_cut cut;
    /* While a frame is with the handler, the delivery loop hands out the next. */
    if (!conn->in || (conn->flags & (CONN_DELIVERING | CONN_DEAD)))
        return 0;
    enum framing_result r = framing_find(&conn->framing, conn->in, &conn->scanned, &cut);
    if (r == FRAMING_TOO_LARGE)
        frame_too_large(conn);
    if (r != FRAMING_FRAME)
        return r == FRAMING_TOO_LARGE ? -1 : 0;
    *total = cut.skip + cut.len + cut.trail;
    *data = (const char *)evbuffer_pullup(conn->in, (ssize_t)*total) + cut.skip;
    *len = cut.len;
    return 1;
}

void conn_consume(struct conn *conn, size_t total)
{
    evbuffer_drain(conn->in, total);
    conn->scanned = 0;
    if (evbuffer_get_length(conn->in) == 0)
        drop_input(conn);
}

int conn_is_open(const struct conn *conn)
{
    return !(conn->flags & (CONN_DEAD | CONN_CLOSING));
}

void conn_set_framing(struct conn *conn, const struct framing *framing)
{
    conn->framing = *framing;
    conn->scanned = 0;
    if (!(conn->flags & CONN_DISPATCH))
        conn_redeliver(conn);
}

void conn_pause(struct conn *conn)
{
    conn->flags |= CONN_PAUSED;
    conn_update_interest(conn);
}

void conn_resume(struct conn *conn)
{
    conn->flags &= ~CONN_PAUSED;
    conn_redeliver(conn);
}

/* ---- output ---- */

size_t conn_pending(const struct conn *conn)
{
    return conn->out ? evbuffer_get_length(conn->out) : 0;
}

/* Past the high-water mark reading stops, so a peer that never reads cannot
 * make us hold more than about that much for it. */
static void check_high_water(struct conn *conn)
{
    if (!(conn->flags & CONN_THROTTLED) && conn_pending(conn) > conn->group->config.high_water) {
        conn->flags |= CONN_THROTTLED;
        conn_update_interest(conn);
    }
}

static void check_low_water(struct conn *conn)
{
    if (!(conn->flags & CONN_THROTTLED) || conn_pending(conn) > conn->group->config.low_water)
        return;
    conn->flags &= ~CONN_THROTTLED;
    conn_redeliver(conn);
    if (conn->group->cb->on_drain && !(conn->flags & CONN_DEAD))
        conn->group->cb->on_drain(conn, conn->ud);
}

/* Writes queued output, until the socket takes no more (the next edge comes
 * when it has room again) or the queue empties, which frees it. */
static void conn_flush(struct conn *conn)
{
    int n;
    do {
        n = evbuffer_write(conn->out, conn->fd);
        if (n > 0)
            count_out(conn, (size_t)n);
    } while (n > 0 && evbuffer_get_length(conn->out) > 0);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return conn_fail(conn, errno_reason(errno));
    if (evbuffer_get_length(conn->out) == 0) {
        evbuffer_free(conn->out);
        conn->out = NULL;
        if (conn->flags & (CONN_CLOSING | CONN_READ_EOF))
            return conn_fail(conn, conn->flags & CONN_CLOSING ? "closed" : "eof");
        conn_update_interest(conn);
    }
    check_low_water(conn);
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    return total;
}

/* Queues iov from byte offset skip onwards. */
static int conn_queue(struct conn *conn, const struct iovec *iov, int iovcnt, size_t skip)
{
    if (!conn->out && !(conn->out = evbuffer_new()))
        return -1;
    for (int i = 0; i < iovcnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        const char *from = (const char *)iov[i].iov_base + skip;
        if (evbuffer_add(conn->out, from, iov[i].iov_len - skip) < 0)
            return -1;
        skip = 0;
    }
    return 0;
}

/* send and sendmsg rather than writev: socket calls skip the file layer,
 * whose position lock and iovec checks were 3% of a small HTTP response. */
static ssize_t socket_writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (iovcnt == 1)
        return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)(iovcnt > IOV_MAX ? IOV_MAX : iovcnt)};
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* Writes at once; returns bytes taken by the socket, or -1 on a hard error. */
static ssize_t conn_write_now(struct conn *conn, const struct iovec *iov, int iovcnt)
{
    ssize_t n = socket_writev(conn->fd, iov, iovcnt);
    if (n > 0)
        count_out(conn, (size_t)n);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    conn_fail(conn, errno_reason(errno));
    return -1;
}

long conn_writev(struct conn *conn, const struct iovec *iov, int iovcnt)
{
    if (conn->flags & (CONN_DEAD | CONN_CLOSING))
        return -1;
    size_t taken = 0;
    if (!conn->out && !(conn->flags & CONN_CONNECTING)) {
        ssize_t n = conn_write_now(conn, iov, iovcnt);
        if (n < 0)
            return -1;
        taken = (size_t)n;
        if (taken == iov_total(iov, iovcnt))
            return 0;
    }
    int was_empty = conn->out == NULL;
    if (conn_queue(conn, iov, iovcnt, taken) < 0) {
        conn_fail(conn, "out of memory");
        return -1;
    }
    if (was_empty)
        conn_update_interest(conn);
    check_high_water(conn);
    return (long)conn_pending(conn);
}

/* ---- outbound ---- */

static void conn_established(struct conn *conn)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err)
        return conn_fail(conn, strerror(err));
    conn->flags &= ~CONN_CONNECTING;
    set_socket_options(conn->fd, &conn->group->config);
    conn_touch(conn);
    event_del(&conn->ev); /* drop the connect timeout */
    conn_update_interest(conn);
    if (conn->group->cb->on_open)
        conn->group->cb->on_open(conn, conn->ud);
}

/* The connect timeout covers name resolution too, so it starts before the
 * socket exists: then the event is a plain timer. */
static void arm_connect_timeout(struct conn *conn)
{
    uint32_t ms = conn->group->config.connect_timeout_ms;
    struct timeval tv = ms_timeval(ms);
    short what = conn->fd < 0 ? 0 : EV_WRITE | EV_PERSIST;
    event_del(&conn->ev);
    event_assign(&conn->ev, event_get_base(&conn->ev), conn->fd, what, conn_event, conn);
    if (ms || conn->fd >= 0)
        event_add(&conn->ev, ms ? &tv : NULL);
}

struct conn *conn_connect(struct conn_group *g, void *ud)
{
    struct conn *conn = conn_alloc(g, -1, ud, CONN_CONNECTING);
    if (conn)
        arm_connect_timeout(conn);
    return conn;
}

int conn_connect_to(struct conn *conn, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, sa, len) < 0 && errno != EINPROGRESS)) {
        conn_fail(conn, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    conn->fd = fd;
    arm_connect_timeout(conn);
    return 0;
}

/* ---- the event ---- */

static void conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    (void)fd;
    if (conn->flags & CONN_DEAD)
        return conn_destroy(conn);
    conn->flags |= CONN_DISPATCH;
    if (conn->flags & CONN_CONNECTING) {
        if (what & EV_TIMEOUT)
            conn_fail(conn, conn->fd < 0 ? "resolve timeout" : "connect timeout");
        else if (what & EV_WRITE)
            conn_established(conn);
    } else if ((what & EV_TIMEOUT) && (conn->flags & CONN_PROXY)) {
        proxy_header_failed(conn, "no PROXY header within " PROXY_HEADER_TIMEOUT_TEXT);
    } else {
        if ((what & EV_WRITE) && conn->out)
            conn_flush(conn);
        if ((what & (EV_READ | EV_CLOSED)) && !(conn->flags & CONN_DEAD))
            conn_read(conn, what);
    }
    conn->flags &= ~CONN_DISPATCH;
    if (conn->flags & CONN_DEAD)
        conn_destroy(conn);
}

/* ---- small accessors ---- */

const char *conn_error(const struct conn *conn)
{
    if (conn->flags & CONN_DEAD)
        return conn->reason;
    return conn->flags & CONN_CLOSING ? "closing" : NULL;
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

void conn_abort_all(const char *reason)
{
    for (struct conn_group *g = groups, *next; g; g = next) {
        next = g->next; /* a released group frees itself with its last connection */
        while (g->live.head)
            conn_fail(g->live.head, reason);
        while (g->dying.head) {
            int last = g->count == 1; /* destroying it may free a released group */
            conn_destroy(g->dying.head);
            if (last)
                break;
        }
    }
}

size_t conn_count(void)
{
    return open_count;
}

uint64_t conn_accepted_total(void)
{
    return accepted_total;
}

void conn_get_stats(struct conn_stats *out)
{
    *out = totals;
}

void conn_set_close_observer(void (*fn)(void *), void *arg)
{
    close_observer = fn;
    close_observer_arg = arg;
}

/* For a worker that drains: a connection is idle when no input came for
 * idle_ms and nothing is queued either way, so closing it cuts no exchange. */
size_t conn_close_idle(uint32_t idle_ms, const char *reason)
{
    size_t closed = 0;
    for (struct conn_group *g = groups; g; g = g->next) {
        uint64_t now = loop_ms(event_get_base(&g->idle_timer));
        /* Every connection is looked at: the order by last input is only
         * kept for groups with an idle timeout. */
        for (struct conn *c = g->live.head, *next; c; c = next) {
            next = c->next; /* conn_fail moves c to the dying list */
            if (c->last_input_ms + idle_ms > now || c->in || c->out ||
                (c->flags & (CONN_CONNECTING | CONN_DISPATCH)))
                continue;
            conn_fail(c, reason);
            closed++;
        }
    }
    return closed;
}
