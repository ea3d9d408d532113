/* conn_write: output. Writes at once when nothing is queued, and queues only
 * what the socket did not take; the high-water mark (pending output that
 * stops reading), the low-water mark (that resumes it) and on_drain. */
#include "config.h"

#include "conn_int.h"

#include <event2/buffer.h>
#include <limits.h>
#include <sys/uio.h>

size_t conn_pending(const struct conn *conn)
{
    return conn->out ? evbuffer_get_length(conn->out) : 0;
}

/* ---- the watermarks ---- */

/* Past the high-water mark reading stops, so a peer that never reads cannot
 * make us hold more than about that much for it. Not for a relay, whose
 * input goes to another connection: stopping it would stop what drains the
 * peer of this one's peer, and two relays in a ring of full buffers wait
 * for each other for ever; it pauses the connection it reads from itself. */
static void check_high_water(struct conn *conn)
{
    if (!(conn->flags & CONN_ABOVE_HIGH) && conn_pending(conn) > conn->group->config.high_water) {
        conn->flags |= CONN_ABOVE_HIGH;
        if (conn->group->config.pause_on_high_water)
            conn->flags |= CONN_THROTTLED;
        conn_update_interest(conn);
    }
}

static void check_low_water(struct conn *conn)
{
    if (!(conn->flags & CONN_ABOVE_HIGH) || conn_pending(conn) > conn->group->config.low_water)
        return;
    conn->flags &= ~(CONN_ABOVE_HIGH | CONN_THROTTLED);
    conn_redeliver(conn);
    if (conn->group->cb->on_drain && !(conn->flags & CONN_DEAD))
        conn->group->cb->on_drain(conn, conn->ud);
}

/* ---- the queue ---- */

/* Writes queued output, until the socket takes no more (the next edge comes
 * when it has room again) or the queue empties, which frees it. */
void conn_flush(struct conn *conn)
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
        if (conn->flags & (CONN_CLOSING | CONN_READ_EOF | CONN_SHUTDOWN))
            conn_settle(conn);
        if (conn->flags & CONN_DEAD)
            return;
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

/* Queues iov from byte offset skip onwards. The queue is made only for a
 * byte to keep: an empty one would be flushed with nothing to write, whose
 * result is no answer (and errno someone else's, EINPROGRESS after a connect). */
static int conn_queue(struct conn *conn, const struct iovec *iov, int iovcnt, size_t skip)
{
    for (int i = 0; i < iovcnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        if (!conn->out && !(conn->out = evbuffer_new()))
            return -1;
        const char *from = (const char *)iov[i].iov_base + skip;
        if (evbuffer_add(conn->out, from, iov[i].iov_len - skip) < 0)
            return -1;
        skip = 0;
    }
    return 0;
}

/* ---- writing at once ---- */

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
    if (conn->flags & (CONN_DEAD | CONN_CLOSING | CONN_SHUTDOWN))
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
    if (!conn->out)
        return 0; /* empty strings, before the connect completed */
    if (was_empty)
        conn_update_interest(conn);
    check_high_water(conn);
    return (long)conn_pending(conn);
}
