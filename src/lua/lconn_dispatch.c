/* lconn_dispatch: the callbacks from conn.c into the handler: on_connect,
 * on_data, on_drain, on_eof, on_close and the serve task, each through lcall; the
 * accepted connections and their handler; waking a task parked in conn:read;
 * on_shutdown, when the worker begins to drain. */
#include "config.h"

#include "lconn_int.h"

#include "conn.h"
#include "lcall.h"
#include "lhandler.h"
#include "ltask.h"
#include "ltimer.h"
#include "log.h"
#include "resolve.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lua_State *lconn_state;
struct event_base *lconn_loop;
static uint64_t handler_errors;

/* A handler callback and what it is called with: the conn object, then a
 * string when data is not NULL (a frame, a reason). */
struct callback {
    int ref;
    const struct lconn_box *box;
    const char *data;
    size_t len;
};

/* The object is pushed below the function too: a nested on_close (a write
 * that failed) may let go of it during the call, and invoke reads the box
 * after it; this copy, in the entry's own frame, keeps it alive till then. */
static int push_callback(lua_State *L, void *ud)
{
    const struct callback *c = ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->box->ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lua_pushvalue(L, -2);
    if (!c->data)
        return 1;
    lua_pushlstring(L, c->data, c->len);
    return 2;
}

/* Calls handler callback ref with the conn object (and data, if not NULL).
 * Returns 0, or lcall's error code after logging the error. */
static int invoke(struct lconn_box *box, int ref, const char *what, const char *data, size_t len)
{
    lua_State *L = lconn_state;
    if (ref == LUA_NOREF)
        return 0;
    struct callback c = {ref, box, data, len};
    int rc = lcall_timed(L, push_callback, &c, box->handler->h.timeout, what);
    if (rc == 0)
        return 0;
    handler_errors++;
    log_error("connection %.0f: %s: %s", box->id, what, lua_tostring(L, -1));
    lua_pop(L, 1);
    return rc;
}

/* Why a connection whose handler raised is closed: LuaJIT's memory error
 * (the heap hit --memory-limit) and a missed deadline are told apart. */
static const char *error_reason(int rc)
{
    return rc == LCALL_ERRMEM ? "out of memory" : rc == LCALL_DEADLINE ? "deadline" : "error";
}

/* ---- the serve task ---- */

/* The serve task ended: so does its connection (after its output, unless
 * the task failed: "error", "deadline" or "out of memory"). */
void lconn_serve_ended(struct ltask *task, const char *reason, void *ud)
{
    const char *why;
    struct lconn_box *box = ud;
    struct conn *conn = lconn_box_conn(box, &why);
    int failed = strcmp(reason, "done") != 0 && strcmp(reason, "stopped") != 0;
    (void)task;
    box->serve = NULL;
    if (failed)
        handler_errors++;
    if (conn && failed)
        conn_abort(conn, reason);
    else if (conn)
        conn_close(conn);
}

/* Starts serve(conn) as a coroutine task; the task object stays alive in
 * the task's own slot. */
static int push_serve(lua_State *L, void *ud)
{
    struct lconn_box *box = ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->handler->h.serve);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->ref);
    box->serve = ltask_go(L, 1);
    return 0;
}

/* One coroutine task per connection runs serve(conn); the connection reads
 * only when the task asks (conn:read*), unless there is an on_data too. */
static int start_serve(struct conn *conn, struct lconn_box *box)
{
    lua_State *L = lconn_state;
    int rc = lcall_protect(L, 0, push_serve, box);
    if (rc < 0) {
        handler_errors++;
        log_error("connection %.0f: serve: %s", box->id, lua_tostring(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    if (box->handler->h.on_data == LUA_NOREF)
        conn_pause(conn);
    ltask_set_owner(box->serve, box);
    ltask_set_timeout(box->serve, box->handler->h.timeout);
    return 0;
}

/* ---- callbacks from conn.c into the handler ---- */

/* on_connect, then the serve task if there is one (accepted connections). */
static void on_open_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_connect, "on_connect", NULL, 0);
    if (rc == 0 && !box->handler->outbound && box->handler->h.serve != LUA_NOREF)
        rc = start_serve(conn, box);
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

/* What a reader is woken with: a frame, or (data NULL) nil and why there is
 * none: "closed", or "eof" once the peer ended its input. */
struct frame {
    const char *data;
    size_t len;
    const char *why;
};

static int push_frame(lua_State *L, void *ud)
{
    const struct frame *f = ud;
    if (f->data) {
        lua_pushlstring(L, f->data, f->len);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, f->why);
    return 2;
}

/* Hands a frame to the task parked in conn:read*. A connection with no
 * on_data reads only while someone is reading. */
static void wake_reader(struct conn *conn, struct lconn_box *box, const char *data, size_t len)
{
    struct ltask *reader = box->reader;
    struct frame f = {data, len, NULL};
    box->reader = NULL;
    if (box->handler->h.on_data == LUA_NOREF)
        conn_pause(conn);
    ltask_wake(lconn_state, reader, push_frame, &f);
}

static void on_data_cb(struct conn *conn, const char *data, size_t len, void *ud)
{
    struct lconn_box *box = ud;
    if (box->reader)
        return wake_reader(conn, box, data, len);
    int rc = invoke(box, box->handler->h.on_data, "on_data", data, len);
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

static void on_drain_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_drain, "on_drain", NULL, 0);
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

/* The peer ended its input and the handler has an on_eof: it is called,
 * and a task parked in conn:read* gets nil, "eof" (it may still write). */
static void on_eof_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_eof, "on_eof", NULL, 0);
    if (rc < 0)
        return conn_abort(conn, error_reason(rc));
    struct ltask *reader = box->reader;
    struct frame eof = {NULL, 0, "eof"};
    box->reader = NULL;
    if (reader)
        ltask_wake(lconn_state, reader, push_frame, &eof);
}

/* The connection is gone: a parked reader gets nil, "closed"; a serve task
 * busy elsewhere (sleeping, say) is stopped, as it has no one to serve. */
static void end_readers(struct lconn_box *box)
{
    struct ltask *reader = box->reader, *serve = box->serve;
    struct frame closed = {NULL, 0, "closed"};
    box->reader = box->serve = NULL;
    if (serve)
        ltask_set_owner(serve, NULL);
    if (reader)
        ltask_wake(lconn_state, reader, push_frame, &closed);
    else if (serve)
        ltask_stop(serve);
}

/* Lets go of the object (and of an outbound connection's handler). */
static int release_box(lua_State *L, void *ud)
{
    struct lconn_box *box = ud;
    luaL_unref(L, LUA_REGISTRYINDEX, box->ref);
    box->ref = LUA_NOREF;
    if (box->handler->outbound)
        lconn_handler_free(box->handler);
    return 0;
}

/* A connection whose object could not be made (ud NULL) has nothing to
 * tell. One that ran out of memory leaves what it held (its state, its
 * serve task) to be collected before the next entry. */
static void on_close_cb(struct conn *conn, const char *reason, void *ud)
{
    struct lconn_box *box = ud;
    if (!box)
        return;
    if (box->resolving)
        resolve_cancel(box->resolving);
    end_readers(box);
    /* The handler never saw a connection that failed its PROXY header. */
    if (!conn_awaits_proxy_header(conn))
        invoke(box, box->handler->h.on_close, "on_close", reason, strlen(reason));
    if (lcall_protect(lconn_state, 0, release_box, box) < 0) {
        log_error("connection %.0f: cannot release its object: %s", box->id,
                  lua_tostring(lconn_state, -1));
        lua_pop(lconn_state, 1);
    }
    if (strcmp(reason, "out of memory") == 0)
        lcall_collect_soon();
}

static const struct conn_callbacks lconn_callbacks = {.on_open = on_open_cb,
                                                      .on_data = on_data_cb,
                                                      .on_drain = on_drain_cb,
                                                      .on_eof = on_eof_cb,
                                                      .on_close = on_close_cb};

/* ---- handlers and accepted connections ---- */

struct lconn_handler *lconn_handler_new(lua_State *L, int idx, int outbound, char *err,
                                        size_t errlen)
{
    struct lconn_handler *handler = calloc(1, sizeof *handler);
    if (!handler) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    handler->outbound = outbound;
    if (lhandler_read(L, idx, &handler->h, err, errlen) < 0 ||
        !(handler->group = conn_group_new(lconn_loop, &handler->h.config, &lconn_callbacks))) {
        if (handler->group == NULL && !err[0])
            snprintf(err, errlen, "out of memory");
        lhandler_unref(L, &handler->h);
        free(handler);
        return NULL;
    }
    return handler;
}

void lconn_handler_free(struct lconn_handler *handler)
{
    lhandler_unref(lconn_state, &handler->h);
    conn_group_release(handler->group);
    free(handler);
}

/* What lconn_accept makes under protection: the conn object for conn. */
struct new_box {
    struct conn *conn;
    struct lconn_handler *handler;
    struct lconn_box *box;
};

static int make_box(lua_State *L, void *ud)
{
    struct new_box *nb = ud;
    nb->box = lconn_box_new(L, nb->conn, nb->handler);
    return 0;
}

void lconn_accept(struct lconn_handler *handler, int fd, int proxied)
{
    struct conn *conn = conn_new(handler->group, fd, NULL);
    if (!conn) {
        log_error("accept: cannot register connection: out of memory");
        close(fd);
        return;
    }
    struct new_box nb = {conn, handler, NULL};
    if (lcall_protect(lconn_state, 0, make_box, &nb) < 0) {
        log_error("accept: cannot make the connection object: %s", lua_tostring(lconn_state, -1));
        lua_pop(lconn_state, 1);
        conn_abort(conn, "out of memory");
        return;
    }
    if (proxied)
        conn_expect_proxy_header(conn); /* on_open_cb follows the header */
    else
        on_open_cb(conn, nb.box);
}

/* A connection the handler has seen (not one still awaiting its PROXY
 * header) hears of the drain once. */
static void tell_shutdown(struct conn *conn, void *ud, void *arg)
{
    struct lconn_box *box = ud;
    (void)arg;
    if (!box || conn_awaits_proxy_header(conn))
        return;
    int rc = invoke(box, box->handler->h.on_shutdown, "on_shutdown", NULL, 0);
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

int lconn_shutdown_all(void)
{
    return conn_each_open(tell_shutdown, NULL);
}

uint64_t lconn_handler_errors(void)
{
    return handler_errors;
}

void lconn_set_base(struct event_base *base)
{
    lconn_loop = base;
}

/* What lconn_listen_handler reads under protection: the handler table at 1. */
struct handler_read {
    struct lconn_handler *handler;
    char *err;
    size_t errlen;
};

static int read_handler(lua_State *L, void *ud)
{
    struct handler_read *r = ud;
    r->handler = lconn_handler_new(L, 1, 0, r->err, r->errlen);
    return 0;
}

struct lconn_handler *lconn_listen_handler(lua_State *L, int idx, char *err, size_t errlen)
{
    struct handler_read r = {NULL, err, errlen};
    lconn_state = L;
    lua_pushvalue(L, idx);
    if (lcall_protect(L, 1, read_handler, &r) < 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return r.handler;
}

void lconn_listen_handler_free(struct lconn_handler *handler)
{
    lconn_handler_free(handler);
}

/* An unknown field is reported where its value, a function, was defined,
 * else against the script. */
static void warn_listener_field(lua_State *L, const char *warning, void *arg)
{
    lua_Debug ar;
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, -1);
        if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0) {
            log_warn("%s:%d: %s", ar.short_src, ar.linedefined, warning);
            return;
        }
    }
    log_warn("%s: %s", (const char *)arg, warning);
}

struct handler_warn {
    const struct lconn_handler *handler;
    const char *script;
};

static int warn_handler(lua_State *L, void *ud)
{
    const struct handler_warn *w = ud;
    lhandler_unknown_fields(L, 1, warn_listener_field, (void *)w->script);
    if (!lhandler_serves(&w->handler->h) && ltask_count() + ltimer_count() + conn_count() == 0)
        log_warn("%s: handler has none of on_data, serve, on_connect: its listeners would drop "
                 "every byte",
                 w->script);
    return 0;
}

void lconn_warn_handler(lua_State *L, int idx, const struct lconn_handler *handler,
                        const char *script)
{
    struct handler_warn w = {handler, script};
    lua_pushvalue(L, idx);
    if (lcall_protect(L, 1, warn_handler, &w) < 0) {
        log_error("%s: cannot check the handler's fields: %s", script, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}
