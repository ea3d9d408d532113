#include "config.h"

#include "conn.h"

#include "addr.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUFFER_SIZE 65536

enum conn_flag {
    CONN_PAUSED = 1,    /* the handler asked not to read */
    CONN_CLOSING = 2,   /* close once output is flushed */
    CONN_DISPATCH = 4,  /* inside a callback: destroy later, not now */
    CONN_DEAD = 8,      /* failed or aborted; destroyed when the callback returns */
    CONN_READ_EOF = 16, /* the peer shut its side */
};

struct conn {
    struct event ev; /* one event: EV_READ, plus EV_WRITE while output is pending */
    struct conn *prev, *next;
    struct evbuffer *out; /* NULL unless output is pending */
    const struct conn_callbacks *cb;
    void *ud;
    uint64_t id;
    const char *reason; /* why it failed, once CONN_DEAD */
    int fd;
    unsigned flags;
};

static struct conn *open_conns;
static size_t open_count;
static uint64_t accepted_total;
static char read_buffer[READ_BUFFER_SIZE]; /* one loop per process: shared by all */

static void conn_event(evutil_socket_t fd, short what, void *arg);

/* Re-arms the one event with the interest the state calls for. */
static void conn_update_interest(struct conn *conn)
{
    short want = EV_PERSIST;
    if (conn->flags & CONN_DEAD)
        return; /* its event is already activated to destroy it */
    if (!(conn->flags & (CONN_PAUSED | CONN_CLOSING | CONN_READ_EOF)))
        want |= EV_READ;
    if (conn->out)
        want |= EV_WRITE;
    if (event_get_events(&conn->ev) == want && event_pending(&conn->ev, EV_READ | EV_WRITE, NULL))
        return;
    struct event_base *base = event_get_base(&conn->ev);
    event_del(&conn->ev);
    event_assign(&conn->ev, base, conn->fd, want, conn_event, conn);
    if (want & (EV_READ | EV_WRITE))
        event_add(&conn->ev, NULL);
}

static void conn_link(struct conn *conn)
{
    conn->next = open_conns;
    if (open_conns)
        open_conns->prev = conn;
    open_conns = conn;
    open_count++;
}

static void conn_unlink(struct conn *conn)
{
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        open_conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    open_count--;
}

struct conn *conn_new(struct event_base *base, int fd, const struct conn_callbacks *cb,
                      void *ud)
{
    struct conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    conn->fd = fd;
    conn->cb = cb;
    conn->ud = ud;
    conn->id = ++accepted_total;
    event_assign(&conn->ev, base, fd, EV_READ | EV_PERSIST, conn_event, conn);
    if (event_add(&conn->ev, NULL) < 0) {
        free(conn);
        return NULL;
    }
    conn_link(conn);
    return conn;
}

static void conn_destroy(struct conn *conn, const char *reason)
{
    event_del(&conn->ev);
    if (close(conn->fd) < 0)
        log_debug("close connection %llu: %s", (unsigned long long)conn->id, strerror(errno));
    conn->flags |= CONN_DEAD;
    conn->reason = reason;
    conn->cb->on_close(conn, reason, conn->ud);
    if (conn->out)
        evbuffer_free(conn->out);
    conn_unlink(conn);
    free(conn);
}

/* Marks the conn failed. It is destroyed from its own event, never under the
 * caller's feet: a handler that closes another connection does not see that
 * connection's on_close run inside its own call. */
static void conn_fail(struct conn *conn, const char *reason)
{
    if (conn->flags & CONN_DEAD)
        return;
    conn->flags |= CONN_DEAD;
    conn->reason = reason;
    if (!(conn->flags & CONN_DISPATCH))
        event_active(&conn->ev, EV_WRITE, 1);
}

void conn_abort(struct conn *conn, const char *reason)
{
    conn_fail(conn, reason);
}

static int conn_flushed(const struct conn *conn)
{
    return conn->out == NULL;
}

void conn_close(struct conn *conn)
{
    if (conn->flags & (CONN_DEAD | CONN_CLOSING))
        return;
    conn->flags |= CONN_CLOSING;
    if (conn_flushed(conn))
        conn_fail(conn, "closed");
    else
        conn_update_interest(conn);
}

static const char *errno_reason(int err)
{
    return err == EPIPE || err == ECONNRESET ? "reset" : strerror(err);
}

static void conn_read(struct conn *conn)
{
    ssize_t n = read(conn->fd, read_buffer, sizeof read_buffer);
    if (n > 0) {
        conn->cb->on_data(conn, read_buffer, (size_t)n, conn->ud);
    } else if (n == 0) {
        conn->flags |= CONN_READ_EOF;
        /* A half-closed peer still gets what is pending. */
        if (conn_flushed(conn))
            conn_fail(conn, "eof");
        else
            conn_update_interest(conn);
    } else if (errno != EAGAIN && errno != EINTR) {
        conn_fail(conn, errno_reason(errno));
    }
}

/* Writes queued output; frees the queue when it empties. */
static void conn_flush(struct conn *conn)
{
    if (evbuffer_write(conn->out, conn->fd) < 0 && errno != EAGAIN && errno != EINTR) {
        conn_fail(conn, errno_reason(errno));
        return;
    }
    if (evbuffer_get_length(conn->out) > 0)
        return;
    evbuffer_free(conn->out);
    conn->out = NULL;
    if (conn->flags & CONN_CLOSING)
        conn_fail(conn, "closed");
    else if (conn->flags & CONN_READ_EOF)
        conn_fail(conn, "eof");
    else
        conn_update_interest(conn);
}

static void conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    (void)fd;
    if (conn->flags & CONN_DEAD) {
        conn_destroy(conn, conn->reason);
        return;
    }
    conn->flags |= CONN_DISPATCH;
    if ((what & EV_WRITE) && conn->out)
        conn_flush(conn);
    if ((what & EV_READ) && !(conn->flags & (CONN_DEAD | CONN_PAUSED | CONN_CLOSING)))
        conn_read(conn);
    conn->flags &= ~CONN_DISPATCH;
    if (conn->flags & CONN_DEAD)
        conn_destroy(conn, conn->reason);
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
        if (evbuffer_add(conn->out, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip) < 0)
            return -1;
        skip = 0;
    }
    return 0;
}

/* Writes at once; returns bytes taken by the socket, or -1 on a hard error. */
static ssize_t conn_write_now(struct conn *conn, const struct iovec *iov, int iovcnt)
{
    ssize_t n = writev(conn->fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);
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
    size_t total = iov_total(iov, iovcnt), taken = 0;
    if (!conn->out) {
        ssize_t n = conn_write_now(conn, iov, iovcnt);
        if (n < 0)
            return -1;
        taken = (size_t)n;
        if (taken == total)
            return 0;
    }
    int was_idle = conn->out == NULL;
    if (conn_queue(conn, iov, iovcnt, taken) < 0) {
        conn_fail(conn, "out of memory");
        return -1;
    }
    if (was_idle)
        conn_update_interest(conn);
    return (long)evbuffer_get_length(conn->out);
}

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

void conn_pause(struct conn *conn)
{
    conn->flags |= CONN_PAUSED;
    if (!(conn->flags & CONN_DEAD))
        conn_update_interest(conn);
}

void conn_resume(struct conn *conn)
{
    conn->flags &= ~CONN_PAUSED;
    if (!(conn->flags & CONN_DEAD))
        conn_update_interest(conn);
}

int conn_peer(const struct conn *conn, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getpeername(conn->fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -1;
    addr_format((struct sockaddr *)&ss, sslen, buf, len);
    return 0;
}

void conn_abort_all(const char *reason)
{
    while (open_conns)
        conn_destroy(open_conns, open_conns->flags & CONN_DEAD ? open_conns->reason : reason);
}

size_t conn_count(void)
{
    return open_count;
}

uint64_t conn_accepted_total(void)
{
    return accepted_total;
}
