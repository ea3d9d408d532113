#include "config.h"

#include "lconn.h"

#include "conn.h"
#include "lcall.h"
#include "lbox.h"
#include "log.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CONN_META "moonwire.conn"
#define IOV_BATCH 64

/* What a Lua conn object holds. conn is NULL once the connection is gone, so
 * a stale handle is an error and never reaches freed memory. */
struct lconn_box {
    struct conn *conn;
    double id;
    int ref; /* registry reference keeping the object alive while open */
};

static struct {
    lua_State *L;
    int on_connect, on_data, on_close; /* registry refs, or LUA_NOREF */
    int no_state;                      /* the shared env of a conn without state */
} handler = {NULL, LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF};

static struct lconn_box *check_box(lua_State *L, int idx)
{
    return lbox_check(L, idx, CONN_META, "connection");
}

/* The live connection behind the handle at idx; raises if it is closed. */
static struct conn *check_conn(lua_State *L, int idx)
{
    struct lconn_box *box = check_box(L, idx);
    if (!box->conn)
        luaL_error(L, "connection is closed");
    return box->conn;
}

static int push_failure(lua_State *L, const char *reason)
{
    lua_pushnil(L);
    lua_pushstring(L, reason ? reason : "closed");
    return 2;
}

/* conn:write(...): strings (or numbers) in order, in one writev per batch.
 * Returns the bytes still queued, or nil and the reason the connection failed. */
static int conn_write_l(lua_State *L)
{
    struct conn *conn = check_conn(L, 1);
    int n = lua_gettop(L);
    long pending = 0;
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

/* conn:close(): after pending output is flushed. Closing twice is harmless. */
static int conn_close_l(lua_State *L)
{
    struct lconn_box *box = check_box(L, 1);
    if (box->conn)
        conn_close(box->conn);
    return 0;
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

static int conn_peer_l(lua_State *L)
{
    char buf[160];
    if (conn_peer(check_conn(L, 1), buf, sizeof buf) < 0)
        return push_failure(L, strerror(errno));
    lua_pushstring(L, buf);
    return 1;
}

/* conn.state: the handler's own table, made on first use (an idle
 * connection that never asks for it costs no table). It is the object's env. */
static void push_state(lua_State *L, int idx)
{
    lua_getfenv(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler.no_state);
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

/* __index: fields id and state, then the methods (upvalue 1). */
static int conn_index_l(lua_State *L)
{
    struct lconn_box *box = check_box(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "id") == 0)
        lua_pushnumber(L, box->id);
    else if (key && strcmp(key, "state") == 0)
        push_state(L, 1);
    else {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
    }
    return 1;
}

static int conn_tostring_l(lua_State *L)
{
    struct lconn_box *box = check_box(L, 1);
    lua_pushfstring(L, "connection %d%s", (int)box->id, box->conn ? "" : " (closed)");
    return 1;
}

static const luaL_Reg conn_methods[] = {
    {"write", conn_write_l},   {"close", conn_close_l}, {"pause", conn_pause_l},
    {"resume", conn_resume_l}, {"peer", conn_peer_l},   {NULL, NULL},
};

void lconn_register(lua_State *L)
{
    if (!lbox_newmetatable(L, CONN_META, "connection"))
        return; /* registered in this state already */
    lua_newtable(L);
    luaL_register(L, NULL, conn_methods);
    lua_pushcclosure(L, conn_index_l, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, conn_tostring_l);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_newtable(L);
    handler.no_state = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Takes handler[name] as a registry ref; it must be a function or absent. */
static int take_callback(lua_State *L, int idx, const char *name, int *ref, char *err,
                         size_t errlen)
{
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *ref = LUA_NOREF;
        return 0;
    }
    if (!lua_isfunction(L, -1)) {
        snprintf(err, errlen, "handler field '%s' must be a function (got %s)", name,
                 luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int check_framing(lua_State *L, int idx, char *err, size_t errlen)
{
    lua_getfield(L, idx, "framing");
    int ok = lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TSTRING &&
                                  strcmp(lua_tostring(L, -1), "raw") == 0);
    lua_pop(L, 1);
    if (!ok)
        snprintf(err, errlen, "handler field 'framing': only \"raw\" is supported so far");
    return ok ? 0 : -1;
}

int lconn_set_handler(lua_State *L, int idx, char *err, size_t errlen)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    handler.L = L;
    if (take_callback(L, idx, "on_connect", &handler.on_connect, err, errlen) < 0 ||
        take_callback(L, idx, "on_data", &handler.on_data, err, errlen) < 0 ||
        take_callback(L, idx, "on_close", &handler.on_close, err, errlen) < 0)
        return -1;
    return check_framing(L, idx, err, errlen);
}

/* Calls handler callback ref with the conn object and nargs values above it.
 * Returns 0, or -1 after logging the error. */
static int invoke(struct lconn_box *box, int ref, int nargs, const char *what)
{
    lua_State *L = handler.L;
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
    if (lcall(L, nargs + 1) == 0)
        return 0;
    log_error("connection %.0f: %s: %s", box->id, what, lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
}

static void on_data_cb(struct conn *conn, const char *data, size_t len, void *ud)
{
    struct lconn_box *box = ud;
    lua_pushlstring(handler.L, data, len);
    if (invoke(box, handler.on_data, 1, "on_data") < 0)
        conn_abort(conn, "error");
}

static void on_close_cb(struct conn *conn, const char *reason, void *ud)
{
    struct lconn_box *box = ud;
    (void)conn;
    lua_pushstring(handler.L, reason);
    invoke(box, handler.on_close, 1, "on_close");
    box->conn = NULL;
    luaL_unref(handler.L, LUA_REGISTRYINDEX, box->ref);
}

static const struct conn_callbacks lconn_callbacks = {on_data_cb, on_close_cb};

/* Makes the Lua object for conn and keeps it alive until on_close. */
static struct lconn_box *new_box(lua_State *L, struct conn *conn)
{
    struct lconn_box *box = lua_newuserdata(L, sizeof *box);
    box->conn = conn;
    box->id = (double)conn_id(conn);
    luaL_getmetatable(L, CONN_META);
    lua_setmetatable(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler.no_state);
    lua_setfenv(L, -2);
    box->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return box;
}

void lconn_accept(struct event_base *base, int fd)
{
    struct conn *conn = conn_new(base, fd, &lconn_callbacks, NULL);
    if (!conn) {
        log_error("accept: cannot register connection: out of memory");
        close(fd);
        return;
    }
    struct lconn_box *box = new_box(handler.L, conn);
    conn_set_ud(conn, box);
    if (invoke(box, handler.on_connect, 0, "on_connect") < 0)
        conn_abort(conn, "error");
}
