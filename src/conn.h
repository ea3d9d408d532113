/* conn: one accepted (or later, outbound) stream connection.
 * Reads into a shared buffer and reports data through callbacks; writes at
 * once when nothing is queued and buffers only what the socket did not take.
 * Knows nothing of Lua: the layer above registers callbacks. */
#ifndef MW_CONN_H
#define MW_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct event_base;
struct conn;

struct conn_callbacks {
    void (*on_data)(struct conn *conn, const char *data, size_t len, void *ud);
    /* Called once; the conn is gone when it returns. reason: "closed", "eof", ... */
    void (*on_close)(struct conn *conn, const char *reason, void *ud);
};

struct conn *conn_new(struct event_base *base, int fd, const struct conn_callbacks *cb,
                      void *ud);
void conn_set_ud(struct conn *conn, void *ud);
uint64_t conn_id(const struct conn *conn);
/* Queues or writes the buffers in order; returns bytes still pending, or -1
 * when the connection has failed or is closing (reason from conn_error). */
long conn_writev(struct conn *conn, const struct iovec *iov, int iovcnt);
const char *conn_error(const struct conn *conn);
/* Closes after pending output is flushed; on_close gets "closed". */
void conn_close(struct conn *conn);
/* Closes now, dropping pending output, with the given reason. */
void conn_abort(struct conn *conn, const char *reason);
/* Stops and restarts reading; output still flows while paused. */
void conn_pause(struct conn *conn);
void conn_resume(struct conn *conn);
int conn_peer(const struct conn *conn, char *buf, size_t len);
/* Aborts every open connection with reason; used when the worker stops. */
void conn_abort_all(const char *reason);
size_t conn_count(void);
uint64_t conn_accepted_total(void);

#endif
