/* conn: one stream connection, accepted or outbound.
 * Cuts input into frames, writes at once when nothing is queued and buffers
 * only what the socket did not take, pauses reading past a high-water mark,
 * closes idle connections. Knows nothing of Lua: the layer above registers
 * callbacks. Its rooms: conn.c (life and death, the two ends of a half-close,
 * the access line), conn_group.c (groups, idle_timeout), conn_read.c (input,
 * framing, delivery, the event, the peer's EOF), conn_write.c (output, the
 * watermarks, on_drain), conn_proxy.c (the PROXY header and its deadline),
 * conn_connect.c (outbound, connect_timeout). */
#ifndef MW_CONN_H
#define MW_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "framing.h"

struct event_base;
struct conn;
struct conn_group;

struct conn_callbacks {
    /* An outbound connection is established (not called for accepted ones). */
    void (*on_open)(struct conn *conn, void *ud);
    void (*on_data)(struct conn *conn, const char *data, size_t len, void *ud);
    /* Output fell to the low-water mark after passing the high-water mark. */
    void (*on_drain)(struct conn *conn, void *ud);
    /* The peer ended its input (for a group with half_close): the last frame
     * has been delivered, and the connection can still be written to. */
    void (*on_eof)(struct conn *conn, void *ud);
    /* Called once; the conn is gone when it returns. reason: "closed", "eof", ... */
    void (*on_close)(struct conn *conn, const char *reason, void *ud);
};

#define CONN_DEFAULT_HIGH_WATER (1024 * 1024)

/* What the connections of one handler share. */
struct conn_config {
    struct framing framing;   /* the framing a new connection starts with */
    uint32_t idle_timeout_ms; /* no input for this long closes it; 0 = never */
    uint32_t connect_timeout_ms;
    size_t high_water, low_water; /* pending output that pauses / resumes reading */
    int keepalive;                /* SO_KEEPALIVE on new connections */
    /* 0: past high_water this connection is still read (a relay pauses the
     * connection it reads from itself, until on_drain); on_drain as ever. */
    int pause_on_high_water;
    /* The peer's end of input is half a close: on_eof is called and the
     * connection stays open for output, until it is closed or shut down.
     * Without it the connection closes ("eof") once its output is flushed. */
    int half_close;
};

/* A group is the set of connections made with one config and callbacks;
 * it keeps them in order of last input, so idle ones are found at the front. */
struct conn_group *conn_group_new(struct event_base *base, const struct conn_config *config,
                                  const struct conn_callbacks *cb);
/* Frees the group once its last connection is gone (at once if it has none). */
void conn_group_release(struct conn_group *group);

struct conn *conn_new(struct conn_group *group, int fd, void *ud);
/* An outbound connection in two steps, so a name can be resolved between
 * them: conn_connect makes it (writes are queued) and starts the connect
 * timeout; conn_connect_to starts the non-blocking connect. on_open, or
 * on_close with the reason, follows. */
struct conn *conn_connect(struct conn_group *group, void *ud);
int conn_connect_to(struct conn *conn, const struct sockaddr *sa, socklen_t len);
void conn_set_ud(struct conn *conn, void *ud);
uint64_t conn_id(const struct conn *conn);
/* Switches the framing for what arrives next, including what is buffered. */
void conn_set_framing(struct conn *conn, const struct framing *framing);
/* A whole frame already buffered, cut with the current framing, for a reader
 * that pulls (conn:read in a serve task): 1 with the frame in data/len, valid
 * until conn_consume(conn, total); 0 when none is (or a frame is being
 * delivered right now: the delivery loop hands out the next one); -1 when
 * it is too large (the connection fails with "frame too large"). */
int conn_next_frame(struct conn *conn, const char **data, size_t *len, size_t *total);
void conn_consume(struct conn *conn, size_t total);
/* Not failed and not closing. */
int conn_is_open(const struct conn *conn);
/* Queues or writes the buffers in order; returns bytes still pending, or -1
 * when the connection has failed or is closing (reason from conn_error). */
long conn_writev(struct conn *conn, const struct iovec *iov, int iovcnt);
size_t conn_pending(const struct conn *conn);
const char *conn_error(const struct conn *conn);
/* Closes after pending output is flushed; on_close gets "closed". */
void conn_close(struct conn *conn);
/* Closes now, dropping pending output, with the given reason. */
void conn_abort(struct conn *conn, const char *reason);
/* Ends our output: no more writes, and the FIN once pending output is
 * flushed; input is still read. With the peer's input ended as well the
 * connection closes, "eof". */
void conn_shutdown(struct conn *conn);
/* Before a last write and conn_shutdown: the two leave together (a client
 * that sees the end of a reply sees the end of the connection with it). */
void conn_cork(struct conn *conn);
/* The peer has ended its input (its FIN was read). */
int conn_read_ended(const struct conn *conn);
/* Stops and restarts reading; output still flows while paused. */
void conn_pause(struct conn *conn);
void conn_resume(struct conn *conn);
/* "ip:port" of the peer: the client a PROXY header named, else the socket's. */
int conn_peer(const struct conn *conn, char *buf, size_t len);
/* An accepted connection whose input starts with a PROXY protocol header
 * (v1 or v2): it is read and taken off first, then on_open is called and
 * what follows is framed; a bad or missing header closes the connection
 * with "bad PROXY header" and a logged reason. */
void conn_expect_proxy_header(struct conn *conn);
int conn_awaits_proxy_header(const struct conn *conn);
/* Aborts every open connection with reason; used when the worker stops. */
void conn_abort_all(const char *reason);
/* Calls fn once for each connection open now (not failed, not closing),
 * with its ud, for a worker that begins to drain. Returns 0, or -1 when
 * memory is short. */
int conn_each_open(void (*fn)(struct conn *conn, void *ud, void *arg), void *arg);
size_t conn_count(void);
/* Figures of connections since the process started: open now, accepted,
 * bytes read and written, frames handed to handlers. */
struct conn_stats {
    uint64_t open, accepted, bytes_in, bytes_out, frames;
};
/* The totals of this process, over every connection. */
void conn_get_stats(struct conn_stats *out);
/* Calls fn with the figures of the connections of each listener that has
 * accepted one (listener: its name, as listener_accepting gave it), and of
 * those no listener accepted (outbound: listener NULL). */
void conn_each_listener_stats(void (*fn)(const char *listener, const struct conn_stats *s,
                                         void *arg),
                              void *arg);
/* Called after a connection is gone, e.g. to resume accepting. */
void conn_set_close_observer(void (*fn)(void *), void *arg);

#endif
