#define _GNU_SOURCE
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "run.h"

static void lg_conn_on_read(evutil_socket_t fd, short what, void *arg);
static void lg_conn_on_write(evutil_socket_t fd, short what, void *arg);

static void lg_conn_fail(struct lg_conn *c, const char *what, int err)
{
    char why[160];
    int setting_up = c->state == LG_CONNECTING || (c->run->o->idle && c->state == LG_OPEN);
    snprintf(why, sizeof why, "%s: %s", what, err ? strerror(err) : "closed by server");
    lg_conn_close(c);
    lg_run_on_failed(c->run, c->idx, why, setting_up);
}

/* 127.1.x.y, a different address for every per_src connections, so that
 * each address has the whole ephemeral port range to itself. */
static int lg_conn_bind_source(const struct lg_opts *o, int fd, unsigned idx)
{
    if (o->per_src == 0 || o->addr.ss_family != AF_INET)
        return 0;
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0)
        return -1;
    unsigned a = idx / o->per_src;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((1 + a / 250) << 8) | (1 + a % 250));
    return bind(fd, (struct sockaddr *)&src, sizeof src);
}

static int lg_conn_socket(const struct lg_opts *o, unsigned idx, const char **what)
{
    int one = 1;
    *what = "socket";
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    *what = "setsockopt TCP_NODELAY";
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        goto fail;
    *what = "bind source address";
    if (lg_conn_bind_source(o, fd, idx) != 0)
        goto fail;
    *what = "connect";
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int lg_conn_alloc(struct lg_conn *c, const struct lg_opts *o, size_t req_len)
{
    unsigned depth = o->idle ? 1 : o->depth;
    c->out_cap = depth * req_len;
    c->stamps = calloc(depth, sizeof *c->stamps);
    c->out = malloc(c->out_cap);
    return c->stamps && c->out ? 0 : -1;
}

int lg_conn_open(struct lg_run *run, struct lg_conn *c, unsigned idx, char *err, size_t errlen)
{
    const char *what;
    memset(c, 0, sizeof *c);
    c->run = run;
    c->idx = idx;
    c->seed = 0x6d6f6f6e77697265ULL * (idx + 1);
    c->fd = lg_conn_socket(run->o, idx, &what);
    if (c->fd < 0) {
        snprintf(err, errlen, "%s: %s", what, strerror(errno));
        c->state = LG_DEAD;
        return -1;
    }
    c->state = LG_CONNECTING;
    c->rev = event_new(run->base, c->fd, EV_READ | EV_PERSIST, lg_conn_on_read, c);
    c->wev = event_new(run->base, c->fd, EV_WRITE | EV_PERSIST, lg_conn_on_write, c);
    if (c->rev == NULL || c->wev == NULL || lg_conn_alloc(c, run->o, run->msg.req_len) != 0 ||
        event_add(c->wev, NULL) != 0) {
        snprintf(err, errlen, "connection %u: out of memory", idx);
        lg_conn_close(c);
        return -1;
    }
    return 0;
}

void lg_conn_close(struct lg_conn *c)
{
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->fd >= 0 && close(c->fd) != 0)
        perror("loadgen: close");
    free(c->stamps);
    free(c->out);
    c->rev = c->wev = NULL;
    c->stamps = NULL;
    c->out = NULL;
    c->fd = -1;
    c->state = LG_DEAD;
}

/* Writes what is pending; keeps the write event armed only while some is left. */
static int lg_conn_flush(struct lg_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return event_add(c->wev, NULL);
        if (n < 0) {
            lg_conn_fail(c, "write", errno);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return event_del(c->wev);
}

/* Queues count more requests, stamped now, and writes them. */
static int lg_conn_send(struct lg_conn *c, uint64_t count, uint64_t now)
{
    const struct msg_spec *m = &c->run->msg;
    unsigned depth = c->run->o->idle ? 1 : c->run->o->depth;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    for (uint64_t i = 0; i < count && c->out_len + m->req_len <= c->out_cap; i++) {
        msg_fill_request(m, c->seed, c->sent, c->out + c->out_len);
        c->out_len += m->req_len;
        c->stamps[c->sent % depth] = now;
        c->sent++;
    }
    return lg_conn_flush(c);
}

static void lg_conn_connected(struct lg_conn *c)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        lg_conn_fail(c, "connect", soerr);
        return;
    }
    if (event_add(c->rev, NULL) != 0) {
        lg_conn_fail(c, "event_add", ENOMEM);
        return;
    }
    c->state = LG_OPEN;
    if (!c->run->o->idle)
        lg_run_on_established(c->run);
    lg_conn_send(c, c->run->o->idle ? 1 : c->run->o->depth, lg_now_ns());
}

static void lg_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct lg_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->state == LG_CONNECTING)
        lg_conn_connected(c);
    else
        lg_conn_flush(c);
}

/* Accounts for the replies completed by the bytes just read, then keeps
 * the pipeline full (echo) or holds the connection (idle). */
static void lg_conn_completed(struct lg_conn *c, uint64_t now)
{
    struct lg_run *r = c->run;
    uint64_t total = c->rpos / r->msg.rep_len, fresh = total - c->done;
    unsigned depth = r->o->idle ? 1 : r->o->depth;
    for (; c->done < total; c->done++) {
        if (r->measuring) {
            hist_record(&r->hist, now - c->stamps[c->done % depth]);
            r->msgs++;
        }
    }
    if (fresh == 0)
        return;
    if (!r->o->idle) {
        lg_conn_send(c, fresh, now);
    } else if (c->state == LG_OPEN) {
        c->state = LG_HELD;
        lg_run_on_established(r);
    }
}

static void lg_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct lg_conn *c = arg;
    struct lg_run *r = c->run;
    (void)what;
    ssize_t n;
    do {
        n = read(fd, r->rbuf, sizeof r->rbuf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            lg_conn_fail(c, "read", n < 0 ? errno : 0);
            return;
        }
        r->mismatches += msg_check_reply(&r->msg, c->seed, c->rpos, r->rbuf, (size_t)n);
        c->rpos += (uint64_t)n;
        if (c->rpos > c->sent * r->msg.rep_len) {
            lg_conn_fail(c, "read: more bytes than were sent", EPROTO);
            return;
        }
        lg_conn_completed(c, lg_now_ns());
    } while (n == (ssize_t)sizeof r->rbuf && c->state != LG_DEAD);
}
