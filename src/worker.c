#include "config.h"

#include "worker.h"

#include "addr.h"
#include "conn.h"
#include "lconn.h"
#include "listener.h"
#include "lmoonwire.h"
#include "ltask.h"
#include "log.h"
#include "luahost.h"
#include "options.h"
#include "resolve.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ERR_MAX 1024
#define STOP_SIGNALS 2

struct worker {
    struct event_base *base;
    lua_State *L;
    struct listener *listeners[OPTIONS_MAX_LISTEN];
    int nlisteners;
    struct event *signals[STOP_SIGNALS];
};

/* Loads the script and takes its handler; logs why when it cannot. */
static lua_State *load_handler(const char *script)
{
    char err[ERR_MAX];
    lua_State *L = luahost_open(script, err, sizeof err);
    if (!L) {
        log_error("%s", err);
        return NULL;
    }
    if (lconn_set_handler(L, -1, err, sizeof err) < 0) {
        log_error("%s: %s", script, err);
        luahost_close(L);
        return NULL;
    }
    lua_pop(L, 1);
    return L;
}

int worker_check(const struct options *opts)
{
    struct event_base *base = event_base_new();
    if (!base)
        return 1;
    lconn_set_base(base);
    if (ltask_set_base(base) < 0) {
        event_base_free(base);
        return 1;
    }
    lua_State *L = load_handler(opts->script);
    if (L) {
        luahost_close(L);
        printf("%s: ok\n", opts->script);
    }
    ltask_set_base(NULL);
    event_base_free(base);
    return L ? 0 : 1;
}

static void on_accept(int fd, void *arg)
{
    (void)arg;
    lconn_accept(fd);
}

static int open_listeners(struct worker *w, const struct options *opts)
{
    char err[ERR_MAX];
    for (int i = 0; i < opts->nlisten; i++) {
        struct addr addr;
        if (addr_parse(opts->listen[i], &addr, err, sizeof err) < 0) {
            log_error("%s", err);
            return -1;
        }
        struct listener *l = listener_open(w->base, &addr, on_accept, w, err, sizeof err);
        if (!l) {
            log_error("%s", err);
            return -1;
        }
        w->listeners[w->nlisteners++] = l;
        log_info("listening on %s", listener_name(l));
    }
    return 0;
}

static void close_listeners(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        listener_close(w->listeners[i]);
    w->nlisteners = 0;
}

static void on_stop_signal(evutil_socket_t signum, short what, void *arg)
{
    struct worker *w = arg;
    (void)what;
    log_info("%s: stopping (%zu connections open)", strsignal((int)signum), conn_count());
    close_listeners(w);
    conn_abort_all("shutdown");
    event_base_loopbreak(w->base);
}

static int watch_signals(struct worker *w)
{
    static const int signums[STOP_SIGNALS] = {SIGINT, SIGTERM};
    for (int i = 0; i < STOP_SIGNALS; i++) {
        w->signals[i] = evsignal_new(w->base, signums[i], on_stop_signal, w);
        if (!w->signals[i] || evsignal_add(w->signals[i], NULL) < 0) {
            log_error("cannot watch signal %d", signums[i]);
            return -1;
        }
    }
    return 0;
}

static void worker_free(struct worker *w)
{
    close_listeners(w);
    conn_abort_all("shutdown");
    for (int i = 0; i < STOP_SIGNALS; i++)
        if (w->signals[i])
            event_free(w->signals[i]);
    resolve_shutdown();
    if (w->L)
        luahost_close(w->L);
    ltask_set_base(NULL);
    if (w->base)
        event_base_free(w->base);
}

int worker_run(const struct options *opts)
{
    struct worker w = {0};
    int status = 1;
    w.base = event_base_new();
    if (!w.base)
        goto done;
    lmoonwire_set_base(w.base);
    lconn_set_base(w.base);
    if (ltask_set_base(w.base) < 0)
        goto done;
    w.L = load_handler(opts->script);
    if (!w.L || watch_signals(&w) < 0 || open_listeners(&w, opts) < 0)
        goto done;
    if (event_base_dispatch(w.base) < 0)
        log_error("event loop failed");
    else
        status = 0;
done:
    worker_free(&w);
    return status;
}
