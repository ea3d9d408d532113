/* run: one load generator run: the connections, the phases (set-up,
 * warm-up, measured window, or hold for the idle mode) and the figures.
 *   lg_run_init  lg_run_go  lg_run_free  and, for conn.c, the lg_run_on_* events */
#ifndef MW_BENCH_RUN_H
#define MW_BENCH_RUN_H

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "hist.h"
#include "msg.h"
#include "opts.h"
#include "proc.h"

struct event_base;
struct event;
struct lg_conn;

#define LG_RBUF (64 * 1024)

struct lg_run {
    const struct lg_opts *o;
    struct event_base *base;
    struct event *timer;
    struct msg_spec msg;
    struct hist hist;
    struct lg_conn *conns;
    unsigned opened, setting_up, established, failed;
    int measuring, phase;
    uint64_t msgs, mismatches, errors;
    uint64_t t0_ns, t1_ns; /* measured window */
    struct proc_set server;
    int have_server;
    uint64_t srv_cpu0, srv_cpu1, rss0, rss1;
    struct rusage ru0, ru1; /* the load generator's own CPU */
    unsigned char rbuf[LG_RBUF];
};

/* Returns 0, or -1 with a reason in err. */
int lg_run_init(struct lg_run *r, const struct lg_opts *o, char *err, size_t errlen);
/* Runs to the end; returns 0, or -1 with a reason in err when the run could not finish. */
int lg_run_go(struct lg_run *r, char *err, size_t errlen);
void lg_run_free(struct lg_run *r);

uint64_t lg_now_ns(void);
void lg_run_on_established(struct lg_run *r);
/* A connection failed; setting_up tells whether it still counted as being set up. */
void lg_run_on_failed(struct lg_run *r, unsigned idx, const char *why, int setting_up);

#endif
