/* conn_read: input. The one event every connection has (conn_event) and what
 * it reads: recv into one buffer, framing, and both delivery modes: frames
 * pushed to on_data, or pulled by a serve task (conn_next_frame); the last
 * frame at EOF; pause, resume and a change of framing. */
#include "config.h"

#include "conn_int.h"

#include "log.h"

#include <event2/buffer.h>

#define READ_SIZE 65536

static void conn_deliver(struct conn *conn, const char *data, size_t len)
{
    conn->tally->frames++;
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
    log_warn("connection %llu: frame too large (max_frame %u bytes)", (unsigned long long)conn->id,
             conn->framing.max_frame);
    conn_fail(conn, "frame too large");
}

/* ---- pushed: frames to on_data ---- */

/* Delivers the whole frames buffered in conn->in while the handler wants them. */
void conn_deliver_buffered(struct conn *conn)
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

/* What is left at EOF is one more frame if the framing says so (framing_at_eof). */
static void deliver_tail(struct conn *conn)
{
    size_t left = conn->in ? evbuffer_get_length(conn->in) : 0;
    if (framing_at_eof(&conn->framing, left) && conn_wants_frames(conn))
        conn_deliver(conn, (const char *)evbuffer_pullup(conn->in, -1), left);
    else if (left)
        log_debug("connection %llu: %zu bytes of an unfinished frame dropped at EOF",
                  (unsigned long long)conn->id, left);
    drop_input(conn);
}

/* The peer's FIN: the last frame, then on_eof for a handler that takes it
 * as half a close. Either way the peer still gets what is pending. */
static void conn_got_eof(struct conn *conn)
{
    conn->flags |= CONN_READ_EOF;
    conn_deliver_buffered(conn);
    deliver_tail(conn);
    if (conn->group->config.half_close && !(conn->flags & CONN_DEAD))
        conn->group->cb->on_eof(conn, conn->ud);
    if (!conn->out)
        conn_settle(conn);
    if (!(conn->flags & CONN_DEAD))
        conn_update_interest(conn);
}

/* ---- reading ---- */

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
ssize_t conn_recv_buffered(struct conn *conn)
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
    ssize_t n = conn_recv_buffered(conn);
    if (n > 0)
        conn_deliver_buffered(conn);
    return n;
}

/* After a read of n bytes into a buffer of READ_SIZE: a full buffer means the
 * socket may hold more, and an event that said the peer has ended its input
 * means its end is still to be read; no new edge will announce either, so
 * read again on the next turn of the loop, after the other connections'
 * events (passing the end on until it is read). */
void conn_read_more(struct conn *conn, ssize_t n, short what)
{
    if ((n == READ_SIZE || (what & EV_CLOSED)) && conn_wants_frames(conn))
        event_active(&conn->ev, EV_READ | (what & EV_CLOSED), 1);
}

static void conn_read(struct conn *conn, short what)
{
    if (conn->flags & CONN_PROXY)
        return conn_read_proxy_header(conn, what);
    conn_deliver_buffered(conn);
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

/* ---- the event ---- */

void conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    (void)fd;
    if (conn->flags & CONN_DEAD)
        return conn_destroy(conn);
    conn->flags |= CONN_DISPATCH;
    if (conn->flags & CONN_CONNECTING) {
        conn_connect_event(conn, what);
    } else if ((what & EV_TIMEOUT) && (conn->flags & CONN_PROXY)) {
        conn_proxy_timeout(conn);
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

/* ---- pulled: frames for a serve task, and control of the input ---- */

/* Frames may wait in conn->in while reading was stopped: look at them soon. */
void conn_redeliver(struct conn *conn)
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
