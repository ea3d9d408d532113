/* lconn_dispatch: the callbacks from conn.c into the handler: on_connect,
 * on_data, on_drain, on_eof, on_close and the serve task, each through lcall; the
 * accepted connections and their handler; waking a task parked in conn:read. */
#include "config.h"

#include "lconn_int.h"

#include "conn.h"
#include "lcall.h"
#include "lhandler.h"
#include "ltask.h"
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
static struct lconn_handler *listen_handler;

/* Calls handler callback ref with the conn object and nargs values above it.
 * Returns 0, or lcall's error code after logging the error. */
static int invoke(struct lconn_box *box, int ref, int nargs, const char *what)
{
    lua_State *L = lconn_state;
    if (ref == LUA_NOREF) {
        lua_pop(L, nargs);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->ref);
    if (nargs > 0) {
        lua_insert(L, -2 - nargs);
        lua_insert(L, -2 - nargs);
    }
    int rc = lcall_timed(L, nargs + 1, box->handler->h.timeout, what);
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

/* The serve task ended: so does its connection (after its output). */
void lconn_serve_ended(struct ltask *task, const char *reason, void *ud)
{
    const char *why;
    struct lconn_box *box = ud;
    struct conn *conn = lconn_box_conn(box, &why);
    (void)task;
    box->serve = NULL;
    if (strcmp(reason, "error") == 0 || strcmp(reason, "deadline") == 0)
        handler_errors++;
    if (conn && (strcmp(reason, "error") == 0 || strcmp(reason, "deadline") == 0))
        conn_abort(conn, reason);
    else if (conn)
        conn_close(conn);
}

/* One coroutine task per connection runs serve(conn); the connection reads
 * only when the task asks (conn:read*), unless there is an on_data too. */
static void start_serve(struct conn *conn, struct lconn_box *box)
{
    lua_State *L = lconn_state;
    if (box->handler->h.on_data == LUA_NOREF)
        conn_pause(conn);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->handler->h.serve);
    lua_rawgeti(L, LUA_REGISTRYINDEX, box->ref);
    box->serve = ltask_go(L, 1);
    lua_pop(L, 1);
    ltask_set_owner(box->serve, box);
    ltask_set_timeout(box->serve, box->handler->h.timeout);
}

/* ---- callbacks from conn.c into the handler ---- */

/* on_connect, then the serve task if there is one (accepted connections). */
static void on_open_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_connect, 0, "on_connect");
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
    else if (!box->handler->outbound && box->handler->h.serve != LUA_NOREF)
        start_serve(conn, box);
}

/* Hands a frame to the task parked in conn:read*. A connection with no
 * on_data reads only while someone is reading. */
static void wake_reader(struct conn *conn, struct lconn_box *box, const char *data, size_t len)
{
    struct ltask *reader = box->reader;
    box->reader = NULL;
    if (box->handler->h.on_data == LUA_NOREF)
        conn_pause(conn);
    lua_pushlstring(lconn_state, data, len);
    ltask_wake(lconn_state, reader, 1);
}

static void on_data_cb(struct conn *conn, const char *data, size_t len, void *ud)
{
    struct lconn_box *box = ud;
    if (box->reader)
        return wake_reader(conn, box, data, len);
    lua_pushlstring(lconn_state, data, len);
    int rc = invoke(box, box->handler->h.on_data, 1, "on_data");
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

static void on_drain_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_drain, 0, "on_drain");
    if (rc < 0)
        conn_abort(conn, error_reason(rc));
}

/* The peer ended its input and the handler has an on_eof: it is called,
 * and a task parked in conn:read* gets nil, "eof" (it may still write). */
static void on_eof_cb(struct conn *conn, void *ud)
{
    struct lconn_box *box = ud;
    int rc = invoke(box, box->handler->h.on_eof, 0, "on_eof");
    if (rc < 0)
        return conn_abort(conn, error_reason(rc));
    struct ltask *reader = box->reader;
    box->reader = NULL;
    if (reader) {
        lua_pushnil(lconn_state);
        lua_pushliteral(lconn_state, "eof");
        ltask_wake(lconn_state, reader, 2);
    }
}

/* The connection is gone: a parked reader gets nil, "closed"; a serve task
 * busy elsewhere (sleeping, say) is stopped, as it has no one to serve. */
static void end_readers(struct lconn_box *box)
{
    struct ltask *reader = box->reader, *serve = box->serve;
    box->reader = box->serve = NULL;
    if (serve)
        ltask_set_owner(serve, NULL);
    if (reader) {
        lua_pushnil(lconn_state);
        lua_pushliteral(lconn_state, "closed");
        ltask_wake(lconn_state, reader, 2);
    } else if (serve) {
        ltask_stop(serve);
    }
}

static void on_close_cb(struct conn *conn, const char *reason, void *ud)
{
    struct lconn_box *box = ud;
    (void)conn;
    if (box->resolving)
        resolve_cancel(box->resolving);
    end_readers(box);
    lua_pushstring(lconn_state, reason);
    /* The handler never saw a connection that failed its PROXY header. */
    if (conn_awaits_proxy_header(conn))
        lua_pop(lconn_state, 1);
    else
        invoke(box, box->handler->h.on_close, 1, "on_close");
    luaL_unref(lconn_state, LUA_REGISTRYINDEX, box->ref);
    if (box->handler->outbound)
        lconn_handler_free(box->handler);
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

void lconn_accept(int fd, int proxied)
{
    struct conn *conn = conn_new(listen_handler->group, fd, NULL);
    if (!conn) {
        log_error("accept: cannot register connection: out of memory");
        close(fd);
        return;
    }
    struct lconn_box *box = lconn_box_new(lconn_state, conn, listen_handler);
    lua_pop(lconn_state, 1);
    if (proxied)
        conn_expect_proxy_header(conn); /* on_open_cb follows the header */
    else
        on_open_cb(conn, box);
}

uint64_t lconn_handler_errors(void)
{
    return handler_errors;
}

void lconn_set_base(struct event_base *base)
{
    lconn_loop = base;
}

int lconn_set_handler(lua_State *L, int idx, char *err, size_t errlen)
{
    lconn_state = L;
    listen_handler = lconn_handler_new(L, idx, 0, err, errlen);
    return listen_handler ? 0 : -1;
}
