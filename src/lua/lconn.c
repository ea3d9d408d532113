/* lconn: the conn object as Lua sees it: its methods (conn:write, close,
 * pause, read* ...), its fields (id, state) and mw.connect. Validates,
 * converts and calls conn.c; the handler's callbacks are in lconn_dispatch.c. */
#include "config.h"

#include "lconn_int.h"

#include "bibop.h"
#include "conn.h"
#include "lbox.h"
#include "lcall.h"
#include "lhandler.h"
#include "log.h"
#include "ltask.h"
#include "resolve.h"

#include <errno.h>
#include <lauxlib.h>
#include <string.h>

static const char CONN_META[] = "moonwire.conn";
#define IOV_BATCH 64

static int no_state_ref = LUA_NOREF; /* the shared env of a conn without state */

static struct lconn_box *check_box(lua_State *L, int idx)
{
    return lbox_check(L, idx, CONN_META, "connection");
}

/* The live connection behind the object at idx; raises if it is closed. */
static struct conn *check_conn(lua_State *L, int idx)
{
    const char *why;
    struct conn *conn = lconn_box_conn(check_box(L, idx), &why);
    if (!conn)
        luaL_error(L, "%s", why);
    return conn;
}

static int push_failure(lua_State *L, const char *reason)
{
    lua_pushnil(L);
    lua_pushstring(L, reason ? reason : "closed");
    return 2;
}

/* conn:write(...): strings (or numbers) in order, in one writev per batch.
 * Returns the bytes still queued, or nil and why nothing more was written:
 * "closed" once the connection is gone (never an error: a task holding a
 * list of connections learns of a close from the write), else the reason
 * it failed or "closing". */
static int write_args(lua_State *L, struct conn *conn)
{
    int n = lua_gettop(L);
    long pending = (long)conn_pending(conn);
    for (int first = 2; first <= n; first += IOV_BATCH) {
        struct iovec iov[IOV_BATCH];
        int count = 0;
        for (int i = first; i <= n && count < IOV_BATCH; i++, count++) {
            size_t len;
            const char *s = lua_tolstring(L, i, &len);
            if (!s)
                return lbox_typeerror(L, i, "string");
            iov[count] = (struct iovec){(void *)s, len};
        }
        pending = conn_writev(conn, iov, count);
        if (pending < 0)
            return push_failure(L, conn_error(conn));
    }
    lua_pushnumber(L, (lua_Number)pending);
    return 1;
}

static int conn_write_l(lua_State *L)
{
    const char *why;
    struct conn *conn = lconn_box_conn(check_box(L, 1), &why);
    if (!conn) {
        for (int i = 2; i <= lua_gettop(L); i++) /* a wrong argument is still an error */
            if (!lua_isstring(L, i))
                return lbox_typeerror(L, i, "string");
        return push_failure(L, "closed");
    }
    return write_args(L, conn);
}

/* conn:close(): after pending output is flushed. Closing twice is harmless. */
static int conn_close_l(lua_State *L)
{
    const char *why;
    struct conn *conn = lconn_box_conn(check_box(L, 1), &why);
    if (conn)
        conn_close(conn);
    return 0;
}

/* conn:is_open(): true until the connection fails, is closed or is gone. */
static int conn_is_open_l(lua_State *L)
{
    const char *why;
    struct conn *conn = lconn_box_conn(check_box(L, 1), &why);
    lua_pushboolean(L, conn && conn_is_open(conn));
    return 1;
}

/* conn:shutdown([...]): our FIN after pending output; reading goes on.
 * Strings given are written first, and their end leaves with the FIN. */
static int conn_shutdown_l(lua_State *L)
{
    struct conn *conn = check_conn(L, 1);
    int results = 0;
    if (lua_gettop(L) > 1) {
        conn_cork(conn);
        results = write_args(L, conn);
    }
    conn_shutdown(conn);
    return results;
}

static int conn_pause_l(lua_State *L)
{
    conn_pause(check_conn(L, 1));
    return 0;
}

static int conn_resume_l(lua_State *L)
{
    conn_resume(check_conn(L, 1));
    return 0;
}

static int conn_pending_l(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)conn_pending(check_conn(L, 1)));
    return 1;
}

static int conn_peer_l(lua_State *L)
{
    char buf[160];
    if (conn_peer(check_conn(L, 1), buf, sizeof buf) < 0)
        return push_failure(L, strerror(errno));
    lua_pushstring(L, buf);
    return 1;
}

/* conn:framing(spec): how what arrives next is cut, from now on. */
static int conn_framing_l(lua_State *L)
{
    struct conn *conn = check_conn(L, 1);
    struct lconn_box *box = lua_touserdata(L, 1);
    struct framing f;
    luaL_checkany(L, 2);
    const char *why = lhandler_framing(L, 2, box->handler->h.config.framing.max_frame, &f);
    if (why)
        return luaL_argerror(L, 2, why);
    conn_set_framing(conn, &f);
    return 0;
}

/* conn.state: the handler's own table, made on first use (an idle
 * connection that never asks for it costs no table). It is the object's env. */
static void push_state(lua_State *L, int idx)
{
    lua_getfenv(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, no_state_ref);
    int fresh = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (fresh) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfenv(L, idx);
    } else {
        lua_getfenv(L, idx);
    }
}

/* The fields that are not methods: id and state; nil for any other key. */
static int conn_field_l(lua_State *L)
{
    struct lconn_box *box = check_box(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "id") == 0)
        lua_pushnumber(L, box->id);
    else if (key && strcmp(key, "state") == 0)
        push_state(L, 1);
    else
        lua_pushnil(L);
    return 1;
}

/* __index, written in Lua so that conn:write and the other methods are found
 * by a table lookup the JIT compiles into the caller's trace; a C __index
 * would cost a call into C, and a break in the trace, on every method call. */
static const char conn_index_lua[] = "local methods, field = ...\n"
                                     "return function(conn, key)\n"
                                     "  local m = methods[key]\n"
                                     "  if m ~= nil then return m end\n"
                                     "  return field(conn, key)\n"
                                     "end\n";

/* Pushes the __index function over the methods table at the top (popped). */
static void push_conn_index(lua_State *L)
{
    if (luaL_loadbuffer(L, conn_index_lua, sizeof conn_index_lua - 1, "=conn.__index") != 0)
        lua_error(L); /* only when out of memory: the text is fixed */
    lua_insert(L, -2);
    lua_pushcfunction(L, conn_field_l);
    lua_call(L, 2, 1);
}

static int conn_tostring_l(lua_State *L)
{
    const char *why;
    struct lconn_box *box = check_box(L, 1);
    lua_pushfstring(L, "connection %d%s", (int)box->id,
                    lconn_box_conn(box, &why) ? "" : " (closed)");
    return 1;
}

/* ---- reading from a coroutine task (serve) ---- */

/* A frame cut with f for the task calling: at once when one is buffered,
 * else the task parks until on_data_cb or on_close_cb wakes it. */
static int read_frame(lua_State *L, const struct framing *f)
{
    const char *why, *data;
    size_t len, total;
    struct lconn_box *box = check_box(L, 1);
    struct conn *conn = lconn_box_conn(box, &why);
    if (!conn || !conn_is_open(conn))
        return push_failure(L, "closed");
    struct ltask *task = ltask_current(L);
    if (!task)
        return luaL_error(L, "conn:read needs a coroutine task (serve or mw.go)");
    if (box->reader && box->reader != task)
        return luaL_error(L, "another task is reading this connection");
    conn_set_framing(conn, f);
    int r = conn_next_frame(conn, &data, &len, &total);
    if (r != 0) {
        if (r < 0)
            return push_failure(L, "frame too large");
        lua_pushlstring(L, data, len);
        conn_consume(conn, total);
        return 1;
    }
    if (conn_read_ended(conn))
        return push_failure(L, "eof"); /* half-closed: nothing more will come */
    box->reader = task;
    conn_resume(conn);
    return ltask_park(L);
}

static uint32_t box_max_frame(lua_State *L)
{
    return ((struct lconn_box *)lua_touserdata(L, 1))->handler->h.config.framing.max_frame;
}

/* conn:read([n]): n bytes, or with no n whatever arrives next. */
static int conn_read_l(lua_State *L)
{
    check_box(L, 1);
    struct framing f = {.kind = FRAMING_RAW, .max_frame = box_max_frame(L)};
    if (!lua_isnoneornil(L, 2)) {
        lua_Number n = luaL_checknumber(L, 2);
        luaL_argcheck(L, n >= 1 && n <= f.max_frame && n == (uint32_t)n, 2,
                      "a whole number of bytes from 1 to max_frame expected");
        f.kind = FRAMING_LENGTH;
        f.length = (uint32_t)n;
    }
    return read_frame(L, &f);
}

/* conn:read_line(): the next line, without its LF or CRLF. */
static int conn_read_line_l(lua_State *L)
{
    check_box(L, 1);
    struct framing f = {.kind = FRAMING_LINE, .delim_len = 1, .max_frame = box_max_frame(L)};
    return read_frame(L, &f);
}

/* conn:read_until(delim): what comes before the next delim (dropped). */
static int conn_read_until_l(lua_State *L)
{
    check_box(L, 1);
    struct framing f;
    const char *why = lhandler_framing_delimiter(L, 2, box_max_frame(L), &f);
    if (why)
        return luaL_argerror(L, 2, why);
    return read_frame(L, &f);
}

static const luaL_Reg conn_methods[] = {
    {"write", conn_write_l},
    {"close", conn_close_l},
    {"shutdown", conn_shutdown_l},
    {"is_open", conn_is_open_l},
    {"pause", conn_pause_l},
    {"resume", conn_resume_l},
    {"peer", conn_peer_l},
    {"framing", conn_framing_l},
    {"pending", conn_pending_l},
    {"read", conn_read_l},
    {"read_line", conn_read_line_l},
    {"read_until", conn_read_until_l},
    {NULL, NULL},
};

/* ---- making connections ---- */

/* Pushes a new Lua object for conn, kept alive until on_close. */
struct lconn_box *lconn_box_new(lua_State *L, struct conn *conn, struct lconn_handler *handler)
{
    struct lconn_box *box = lua_newuserdata(L, sizeof *box);
    *box = (struct lconn_box){.conn = bibop_handle_of(conn),
                              .handler = handler,
                              .id = (double)conn_id(conn),
                              .ref = LUA_NOREF};
    lbox_pushmetatable(L, CONN_META);
    lua_setmetatable(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, no_state_ref);
    lua_setfenv(L, -2);
    lua_pushvalue(L, -1);
    box->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    conn_set_ud(conn, box);
    return box;
}

static void resolved(const struct sockaddr *sa, socklen_t len, const char *err, void *arg)
{
    struct lconn_box *box = arg;
    const char *why;
    struct conn *conn = lconn_box_conn(box, &why);
    box->resolving = NULL;
    if (err)
        conn_abort(conn, err);
    else
        conn_connect_to(conn, sa, len);
}

/* What mw_connect makes under protection: the object of conn. */
struct new_box {
    struct conn *conn;
    struct lconn_handler *handler;
    struct lconn_box *box;
};

static int make_box(lua_State *L, void *ud)
{
    struct new_box *nb = ud;
    nb->box = lconn_box_new(L, nb->conn, nb->handler);
    return 1;
}

static int field_warnings = 1;
static char warned_key; /* its address keys the registry's set of warnings given */

void lconn_set_field_warnings(int on)
{
    field_warnings = on;
}

/* Logs "FILE:LINE: mw.connect: WARNING" once per process: a connect made for
 * each client would say it for each. arg: the place of the call. */
static void warn_connect_field(lua_State *L, const char *warning, void *arg)
{
    lua_pushlightuserdata(L, &warned_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushlightuserdata(L, &warned_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_pushfstring(L, "%smw.connect: %s", (const char *)arg, warning);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
        log_warn("%s", lua_tostring(L, -2));
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, -5);
    }
    lua_pop(L, 3);
}

/* The unknown fields of the handler at idx, where mw.connect was called. */
static void warn_connect_fields(lua_State *L, int idx)
{
    if (!field_warnings)
        return;
    luaL_where(L, 1); /* "FILE:LINE: ", or nothing from a C function */
    lhandler_unknown_fields(L, idx, warn_connect_field, (void *)lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* mw.connect(host, port, handler): the connection object at once; on_connect
 * when it is established, or on_close(conn, reason) when it cannot be. The
 * object is made under protection: on a full heap the connection, which
 * would have no object to report to, is dropped before the error is raised. */
static int mw_connect(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_optinteger(L, 2, 0);
    char err[256] = "";
    luaL_argcheck(L, port >= 0 && port <= 65535, 2, "port must be from 0 to 65535");
    luaL_checktype(L, 3, LUA_TTABLE);
    warn_connect_fields(L, 3);
    struct lconn_handler *handler = lconn_handler_new(L, 3, 1, err, sizeof err);
    if (!handler)
        return luaL_argerror(L, 3, err);
    struct conn *conn = conn_connect(handler->group, NULL);
    if (!conn) {
        lconn_handler_free(handler);
        return luaL_error(L, "connect: out of memory");
    }
    struct new_box nb = {conn, handler, NULL};
    if (lcall_protect(L, 0, make_box, &nb) < 0) {
        conn_abort(conn, "out of memory");
        lconn_handler_free(handler);
        return lua_error(L);
    }
    nb.box->resolving = resolve_start(lconn_loop, host, port, resolved, nb.box);
    return 1;
}

void lconn_register(lua_State *L)
{
    ltask_set_end_hook(lconn_serve_ended);
    lua_pushcfunction(L, mw_connect);
    lua_setfield(L, -2, "connect");
    if (!lbox_newmetatable(L, CONN_META, "connection"))
        return; /* registered in this state already */
    lua_newtable(L);
    luaL_register(L, NULL, conn_methods);
    push_conn_index(L);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, conn_tostring_l);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_newtable(L);
    no_state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lconn_state = L;
}
