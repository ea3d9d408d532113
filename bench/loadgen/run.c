#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* Phases: connections are set up (idle: and each echoes once), then echo
 * warms up and measures, idle holds and measures. */
enum { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_HOLD, PH_DONE, PH_TIMEOUT };

#define LG_MAX_REPORTED_ERRORS 5

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort(); /* CLOCK_MONOTONIC cannot fail on Linux */
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct timeval lg_tv(double sec)
{
    struct timeval tv = {(time_t)sec, (suseconds_t)((sec - (double)(time_t)sec) * 1e6)};
    return tv;
}

static void lg_run_arm(struct lg_run *r, int phase, double sec)
{
    struct timeval tv = lg_tv(sec);
    r->phase = phase;
    if (event_add(r->timer, &tv) != 0) {
        fputs("loadgen: event_add(timer) failed\n", stderr);
        exit(2);
    }
}

static void lg_run_note_error(struct lg_run *r, unsigned idx, const char *why)
{
    if (r->errors++ < LG_MAX_REPORTED_ERRORS)
        fprintf(stderr, "loadgen: connection %u: %s\n", idx, why);
}

/* Starts connections while fewer than batch are being set up; a failure to
 * start one is counted here, without recursion, so that thousands of them
 * (say, out of descriptors) cannot exhaust the stack. */
static void lg_run_open_more(struct lg_run *r)
{
    char err[256];
    while (r->opened < r->o->conns && r->setting_up < r->o->batch) {
        unsigned idx = r->opened++;
        if (lg_conn_open(r, &r->conns[idx], idx, err, sizeof err) == 0) {
            r->setting_up++;
        } else {
            lg_run_note_error(r, idx, err);
            r->failed++;
        }
    }
}

static int lg_run_sample_server(struct lg_run *r, uint64_t *cpu, uint64_t *rss)
{
    char err[256];
    if (!r->have_server)
        return 0;
    if ((cpu && proc_cpu_ns(&r->server, cpu, err, sizeof err) != 0) ||
        (rss && proc_rss_bytes(&r->server, rss, err, sizeof err) != 0)) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    return 0;
}

static void lg_run_begin_window(struct lg_run *r)
{
    hist_reset(&r->hist);
    r->msgs = 0;
    r->measuring = 1;
    if (getrusage(RUSAGE_SELF, &r->ru0) != 0)
        perror("loadgen: getrusage");
    if (lg_run_sample_server(r, &r->srv_cpu0, NULL) != 0)
        r->have_server = 0;
    r->t0_ns = lg_now_ns();
}

static void lg_run_end_window(struct lg_run *r)
{
    r->t1_ns = lg_now_ns();
    r->measuring = 0;
    if (getrusage(RUSAGE_SELF, &r->ru1) != 0)
        perror("loadgen: getrusage");
    if (lg_run_sample_server(r, &r->srv_cpu1, r->o->idle ? &r->rss1 : NULL) != 0)
        r->have_server = 0;
}

/* Every connection is up: start the clock of the next phase. */
static void lg_run_all_established(struct lg_run *r)
{
    if (event_del(r->timer) != 0)
        fputs("loadgen: event_del(timer) failed\n", stderr);
    if (r->o->idle) {
        lg_run_arm(r, PH_HOLD, r->o->hold);
    } else if (r->o->warmup > 0) {
        lg_run_arm(r, PH_WARMUP, r->o->warmup);
    } else {
        lg_run_begin_window(r);
        lg_run_arm(r, PH_MEASURE, r->o->duration);
    }
}

static void lg_run_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct lg_run *r = arg;
    (void)fd;
    (void)what;
    switch (r->phase) {
    case PH_SETUP:
        r->phase = PH_TIMEOUT;
        event_base_loopbreak(r->base);
        break;
    case PH_WARMUP:
        lg_run_begin_window(r);
        lg_run_arm(r, PH_MEASURE, r->o->duration);
        break;
    default: /* PH_MEASURE, PH_HOLD */
        lg_run_end_window(r);
        r->phase = PH_DONE;
        event_base_loopbreak(r->base);
    }
}

static void lg_run_check_setup(struct lg_run *r)
{
    if (r->phase == PH_SETUP && r->established + r->failed == r->o->conns)
        lg_run_all_established(r);
}

void lg_run_on_established(struct lg_run *r)
{
    r->established++;
    r->setting_up--;
    lg_run_open_more(r);
    lg_run_check_setup(r);
}

void lg_run_on_failed(struct lg_run *r, unsigned idx, const char *why, int setting_up)
{
    lg_run_note_error(r, idx, why);
    if (!setting_up)
        return;
    r->failed++;
    r->setting_up--;
    lg_run_open_more(r);
    lg_run_check_setup(r);
}

int lg_run_init(struct lg_run *r, const struct lg_opts *o, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    if (msg_spec_init(&r->msg, o->proto, o->size, err, errlen) != 0)
        return -1;
    if (o->server_pid > 0) {
        if (proc_tree(o->server_pid, &r->server, err, errlen) != 0)
            return -1;
        r->have_server = 1;
    }
    r->conns = calloc(o->conns, sizeof *r->conns);
    r->base = event_base_new();
    if (r->conns == NULL || r->base == NULL) {
        snprintf(err, errlen, "out of memory (or event_base_new failed)");
        return -1;
    }
    for (unsigned i = 0; i < o->conns; i++)
        r->conns[i].fd = -1;
    r->timer = evtimer_new(r->base, lg_run_on_timer, r);
    if (r->timer == NULL) {
        snprintf(err, errlen, "evtimer_new failed");
        return -1;
    }
    return 0;
}

int lg_run_go(struct lg_run *r, char *err, size_t errlen)
{
    if (r->o->idle && lg_run_sample_server(r, NULL, &r->rss0) != 0)
        r->have_server = 0;
    lg_run_arm(r, PH_SETUP, r->o->timeout);
    lg_run_open_more(r);
    lg_run_check_setup(r);
    if (event_base_dispatch(r->base) < 0) {
        snprintf(err, errlen, "event_base_dispatch failed");
        return -1;
    }
    if (r->phase == PH_TIMEOUT) {
        snprintf(err, errlen, "only %u of %u connections set up within %.0f s", r->established,
                 r->o->conns, r->o->timeout);
        return -1;
    }
    if (r->phase != PH_DONE) {
        snprintf(err, errlen, "the event loop ended early (every connection failed?)");
        return -1;
    }
    return 0;
}

void lg_run_free(struct lg_run *r)
{
    for (unsigned i = 0; r->conns && i < r->opened; i++)
        if (r->conns[i].state != LG_DEAD)
            lg_conn_close(&r->conns[i]);
    free(r->conns);
    if (r->timer)
        event_free(r->timer);
    if (r->base)
        event_base_free(r->base);
    msg_spec_free(&r->msg);
}
