/* conn_connect: outbound connections. Made before the name is resolved, so
 * that connect_timeout covers resolution and the connect both; then the
 * non-blocking connect, and on_open once it is established. */
#include "config.h"

#include "conn_int.h"

#include "mstime.h"

#include <sys/socket.h>
#include <unistd.h>

static void conn_established(struct conn *conn)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err)
        return conn_fail(conn, strerror(err));
    conn->flags &= ~CONN_CONNECTING;
    conn_set_socket_options(conn->fd, &conn->group->config);
    conn_touch(conn);
    event_del(&conn->ev); /* drop the connect timeout */
    conn_update_interest(conn);
    if (!conn->out)
        conn_settle(conn); /* a conn:shutdown() made while it connected */
    if (conn->group->cb->on_open && !(conn->flags & CONN_DEAD))
        conn->group->cb->on_open(conn, conn->ud);
}

void conn_connect_event(struct conn *conn, short what)
{
    if (what & EV_TIMEOUT)
        conn_fail(conn, conn->fd < 0 ? "resolve timeout" : "connect timeout");
    else if (what & EV_WRITE)
        conn_established(conn);
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
    if ((ms || conn->fd >= 0) && event_add(&conn->ev, ms ? &tv : NULL) < 0)
        conn_fail(conn, "out of memory");
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
    /* Failed while the name was resolved (timeout, conn:close): its end is
     * pending on its event, which arming the connect would cancel. */
    if (conn->flags & CONN_DEAD)
        return -1;
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
