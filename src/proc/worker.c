#include "config.h"

#include "worker.h"

#include "addr.h"
#include "conn.h"
#include "lconn.h"
#include "listener.h"
#include "lmoonwire.h"
#include "ltask.h"
#include "log.h"
#include "luaheap.h"
#include "luahost.h"
#include "metrics.h"
#include "mstime.h"
#include "options.h"
#include "resolve.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ERR_MAX 1024
#define WORKER_SIGNALS 3
#define METRICS_TICK_MS 100 /* how stale the master's sums may be */
/* How often an idle worker gives back the Lua heap's unneeded empty pages (a busy
 * one does it as pages empty). */
#define HEAP_TICK_MS 1000

/* What a listener's accepts need: its handler, and the worker to gate. */
struct worker_listener {
    struct worker *w;
    struct lconn_handler *handler;
    int proxied;
};

struct worker {
    struct event_base *base;
    lua_State *L;
    const struct options *opts;
    struct worker_handlers handlers;
    struct listener *listeners[OPTIONS_MAX_LISTEN];
    struct worker_listener accepts[OPTIONS_MAX_LISTEN];
    int nlisteners;
    struct event *signals[WORKER_SIGNALS];
    struct event *drain_deadline; /* while draining */
    struct event *metrics_tick;   /* with --metrics */
    struct event *heap_tick;
    int accept_full; /* paused at --max-conns */
};

int worker_check_script(const struct options *opts)
{
    struct worker_handlers hs;
    struct event_base *base = event_base_new();
    if (!base) {
        log_error("cannot create an event loop for the script check");
        return -1;
    }
    lconn_set_base(base);
    if (ltask_set_base(base) < 0) {
        event_base_free(base);
        return -1;
    }
    luaheap_set_limit(opts->memory_limit);
    lua_State *L = worker_load(opts, 1, &hs);
    if (L) {
        /* Connections the script opened as it loaded end here, as at a stop. */
        conn_abort_all("shutdown");
        resolve_shutdown();
        worker_unload(L, &hs);
    }
    ltask_set_base(NULL);
    event_base_free(base);
    return L ? 0 : -1;
}

/* At --max-conns accepting pauses (newcomers wait in the kernel's backlog)
 * and resumes when a connection closes. A draining worker, which no longer
 * accepts, ends with its last connection. */
static void gate_accepting(void *arg)
{
    struct worker *w = arg;
    long max = w->opts->max_conns;
    int full = max > 0 && (long)conn_count() >= max;
    if (w->drain_deadline) {
        if (conn_count() == 0)
            event_base_loopbreak(w->base);
        return;
    }
    if (full == w->accept_full)
        return;
    w->accept_full = full;
    for (int i = 0; i < w->nlisteners; i++)
        (full ? listener_pause : listener_resume)(w->listeners[i]);
    log_debug("%ld connections open: accepting %s", (long)conn_count(),
              full ? "paused" : "resumed");
}

static void on_accept(int fd, void *arg)
{
    struct worker_listener *wl = arg;
    lconn_accept(wl->handler, fd, wl->proxied);
    gate_accepting(wl->w);
}

/* Accepts on the sockets the master bound, each for the handler of its
 * script; each is this worker's to close. */
static int adopt_listeners(struct worker *w, const struct worker_socket *socks, int nsocks)
{
    char err[ERR_MAX];
    for (int i = 0; i < nsocks; i++) {
        struct worker_listener *wl = &w->accepts[i];
        *wl = (struct worker_listener){w, worker_handler_of(&w->handlers, socks[i].script),
                                       socks[i].proxy};
        if (!wl->handler) {
            log_error("%s: no script serves it (give SCRIPT, or --listen %s=SCRIPT)", socks[i].name,
                      socks[i].name);
            return -1;
        }
        struct listener *l =
            listener_adopt(w->base, socks[i].fd, socks[i].name, on_accept, wl, err, sizeof err);
        if (!l) {
            log_error("%s", err);
            return -1;
        }
        w->listeners[w->nlisteners++] = l;
    }
    return 0;
}

static void close_listeners(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        listener_close(w->listeners[i]);
    w->nlisteners = 0;
}

static void stop_now(struct worker *w, const char *why)
{
    log_info("%s: stopping now (%zu connections open)", why, conn_count());
    close_listeners(w);
    conn_abort_all("shutdown");
    event_base_loopbreak(w->base);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    stop_now(arg, "shutdown timeout");
}

/* Stops accepting (the master's copy of each socket stays open for the next
 * worker) and keeps serving the connections it has, idle ones included,
 * until they end or --shutdown-timeout passes: each is told (on_shutdown),
 * so that a handler that knows its protocol's boundaries can close there. */
static void start_drain(struct worker *w)
{
    log_info("%s: stopping (%zu connections open)", strsignal(SIGTERM), conn_count());
    close_listeners(w);
    lmoonwire_set_stopping();
    struct timeval limit = ms_timeval(w->opts->shutdown_timeout * 1000);
    w->drain_deadline = evtimer_new(w->base, on_drain_deadline, w);
    if (!w->drain_deadline || evtimer_add(w->drain_deadline, &limit) < 0) {
        stop_now(w, "cannot set the drain's timer");
        return;
    }
    if (lconn_shutdown_all() < 0)
        log_error("cannot tell the connections of the drain: out of memory");
    gate_accepting(w);
}

/* SIGTERM drains (a second one stops at once), SIGQUIT stops at once,
 * SIGUSR1 reopens the log file. */
static void on_signal(evutil_socket_t signum, short what, void *arg)
{
    struct worker *w = arg;
    char err[ERR_MAX];
    (void)what;
    if (signum == SIGUSR1) {
        if (log_reopen(err, sizeof err) < 0)
            log_error("%s", err);
    } else if (signum == SIGTERM && !w->drain_deadline) {
        start_drain(w);
    } else {
        stop_now(w, strsignal((int)signum));
    }
}

/* The master blocks these signals before forking; they are delivered here
 * once handled. SIGINT and SIGHUP reach the whole process group from a
 * terminal: they are the master's to act on. */
static int watch_signals(struct worker *w)
{
    static const int signums[WORKER_SIGNALS] = {SIGTERM, SIGQUIT, SIGUSR1};
    for (int i = 0; i < WORKER_SIGNALS; i++) {
        w->signals[i] = evsignal_new(w->base, signums[i], on_signal, w);
        if (!w->signals[i] || evsignal_add(w->signals[i], NULL) < 0) {
            log_error("cannot watch signal %d", signums[i]);
            return -1;
        }
    }
    sigset_t none;
    sigemptyset(&none);
    if (signal(SIGINT, SIG_IGN) == SIG_ERR || signal(SIGHUP, SIG_IGN) == SIG_ERR ||
        sigprocmask(SIG_SETMASK, &none, NULL) < 0) {
        log_error("cannot set up signals: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void publish_metrics(evutil_socket_t fd, short what, void *arg)
{
    struct metrics_figures f;
    (void)fd, (void)what, (void)arg;
    lmoonwire_figures(&f);
    metrics_publish(&f);
}

/* With --metrics, the figures go to the master's shared slot every tick. */
static int start_metrics(struct worker *w)
{
    struct timeval tick = ms_timeval(METRICS_TICK_MS);
    if (!metrics_enabled())
        return 0;
    w->metrics_tick = event_new(w->base, -1, EV_PERSIST, publish_metrics, w);
    if (!w->metrics_tick || event_add(w->metrics_tick, &tick) < 0) {
        log_error("cannot start publishing metrics");
        return -1;
    }
    publish_metrics(-1, 0, w);
    return 0;
}

/* The Lua collector, stepped by the heap's timer (decay_heap): only allocation
 * drives it, so a worker gone quiet after making garbage (a 100 MB value just
 * deleted) would hold it, and the pages under it, until traffic came back. A
 * tick that saw traffic takes one step (a fraction of a millisecond on most
 * heaps; a table is traversed whole, so one of a million keys costs a few ms),
 * an idle one steps for HEAP_GC_IDLE_MS or to the end of a cycle (on a heap of
 * a million keys a cycle is about 100 ms of work). Two cycles ended since the
 * last traffic have collected all it left: the steps stop until traffic
 * comes, or for HEAP_GC_QUIET_TICKS, then one more cycle runs (for garbage
 * made with no traffic, as by a timer that drops a value). */
#define HEAP_GC_STEP_KB 256
#define HEAP_GC_IDLE_MS 5
#define HEAP_GC_QUIET_TICKS 60

static struct {
    uint64_t frames; /* delivered to handlers by the last tick */
    unsigned cycles; /* collection cycles ended since the last traffic */
    unsigned quiet;  /* ticks since the two cycles ended */
} heap_gc;

struct gc_steps {
    int64_t until; /* mono_ns() to step until; 0: one step */
    int ended;     /* set when a cycle ended */
};

static int step_collector(lua_State *L)
{
    struct gc_steps *g = lua_touserdata(L, 1);
    do
        g->ended = lua_gc(L, LUA_GCSTEP, HEAP_GC_STEP_KB);
    while (!g->ended && mono_ns() < g->until);
    return 0;
}

/* Each tick steps the collector while it has work, protected (a step can
 * raise: out of memory under --memory-limit), then gives back the empty
 * pages not needed lately. */
static void decay_heap(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct conn_stats now;
    (void)fd, (void)what;
    conn_get_stats(&now);
    int traffic = now.frames != heap_gc.frames;
    heap_gc.frames = now.frames;
    if (traffic) {
        heap_gc.cycles = heap_gc.quiet = 0;
    } else if (heap_gc.cycles >= 2 && ++heap_gc.quiet >= HEAP_GC_QUIET_TICKS) {
        heap_gc.cycles = 1;
        heap_gc.quiet = 0;
    }
    if (heap_gc.cycles < 2) {
        struct gc_steps g = {traffic ? 0 : mono_ns() + HEAP_GC_IDLE_MS * 1000000LL, 0};
        if (lua_cpcall(w->L, step_collector, &g) != 0)
            lua_pop(w->L, 1);
        heap_gc.cycles += (unsigned)g.ended;
    }
    luaheap_decay();
}

static int start_heap_decay(struct worker *w)
{
    struct timeval tick = ms_timeval(HEAP_TICK_MS);
    w->heap_tick = event_new(w->base, -1, EV_PERSIST, decay_heap, w);
    if (!w->heap_tick || event_add(w->heap_tick, &tick) < 0) {
        log_error("cannot start the heap's timer");
        return -1;
    }
    return 0;
}

static void worker_free(struct worker *w)
{
    close_listeners(w);
    conn_abort_all("shutdown");
    if (w->metrics_tick) {
        publish_metrics(-1, 0, w); /* the last counts, kept by the master */
        event_free(w->metrics_tick);
    }
    if (w->heap_tick)
        event_free(w->heap_tick);
    for (int i = 0; i < WORKER_SIGNALS; i++)
        if (w->signals[i])
            event_free(w->signals[i]);
    if (w->drain_deadline)
        event_free(w->drain_deadline);
    resolve_shutdown();
    if (w->L) /* its deadline thread too */
        worker_unload(w->L, &w->handlers);
    ltask_set_base(NULL);
    if (w->base)
        event_base_free(w->base);
}

int worker_run(const struct options *opts, int id, const struct worker_socket *socks, int nsocks)
{
    struct worker w = {.opts = opts};
    int status = 1;
    log_set_worker(id);
    lmoonwire_set_worker_id(id);
    w.base = event_base_new();
    if (!w.base)
        goto done;
    lmoonwire_set_base(w.base);
    lconn_set_base(w.base);
    if (ltask_set_base(w.base) < 0)
        goto done;
    luaheap_set_limit(opts->memory_limit);
    conn_set_close_observer(gate_accepting, &w);
    w.L = worker_load(opts, 0, &w.handlers);
    if (!w.L || adopt_listeners(&w, socks, nsocks) < 0 || watch_signals(&w) < 0 ||
        start_metrics(&w) < 0 || start_heap_decay(&w) < 0)
        goto done;
    if (event_base_dispatch(w.base) < 0)
        log_error("event loop failed");
    else
        status = 0;
done:
    worker_free(&w);
    return status;
}
