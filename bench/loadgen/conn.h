/* conn: one client connection of the load generator: non-blocking connect
 * from a chosen loopback source, requests kept `depth` deep, every byte of
 * every reply checked, a latency sample per reply.
 *   lg_conn_open  lg_conn_close */
#ifndef MW_BENCH_CONN_H
#define MW_BENCH_CONN_H

#include <stddef.h>
#include <stdint.h>

struct lg_run;
struct event;

enum lg_conn_state { LG_CONNECTING, LG_OPEN, LG_HELD, LG_DEAD };

struct lg_conn {
    struct lg_run *run;
    unsigned idx;
    int fd;
    enum lg_conn_state state;
    struct event *rev, *wev;
    uint64_t seed;
    uint64_t sent, done; /* requests sent, replies complete */
    uint64_t rpos;       /* bytes of the reply stream received */
    uint64_t *stamps;    /* send time of each request in flight: a ring of depth */
    unsigned char *out;  /* requests not yet taken by the socket */
    size_t out_off, out_len, out_cap;
};

/* Starts connection idx of run. Returns 0, or -1 with the system's reason in err. */
int lg_conn_open(struct lg_run *run, struct lg_conn *c, unsigned idx, char *err, size_t errlen);
void lg_conn_close(struct lg_conn *c);

#endif
