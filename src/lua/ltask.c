/* ltask: the bindings of tasks: mw.spawn, mw.task, mw.go, mw.sleep,
 * mw.receive, mw.self and the task object's methods. They validate, convert
 * and call ltask_run.c (spawn, mailboxes, ending) or ltask_co.c (coroutines). */
#include "config.h"

#include "lbox.h"
#include "lslots.h"
#include "ltask_int.h"
#include "task.h"
#include "timer.h"

#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <string.h>

static const char TASK_META[] = "moonwire.task";

static unsigned last_id;

/* mw.spawn(fn, ...): fn(...) runs once from the loop, after the current
 * callback. Without arguments the function alone is held: no table. */
static int mw_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 1;
    luaL_argcheck(L, nargs <= LTASK_SPAWN_MAX_ARGS, LTASK_SPAWN_MAX_ARGS + 2, "too many arguments");
    if (nargs > 0) {
        lua_createtable(L, nargs + 1, 0);
        lua_insert(L, 1);
        for (int i = nargs + 1; i >= 1; i--)
            lua_rawseti(L, 1, i);
    }
    int slot = lslots_put(L);
    if (ltask_spawn(slot, nargs) < 0) {
        lslots_free(L, slot);
        return luaL_error(L, "spawn: %s", strerror(errno));
    }
    return 0;
}

/* mw.sleep(ms): yields for ms; 0 or nothing just lets the others run. */
static int mw_sleep(lua_State *L)
{
    double ms = luaL_optnumber(L, 1, 0);
    luaL_argcheck(L, ms >= 0, 1, "must not be negative");
    return ltask_co_sleep(L, ms);
}

/* The optional timeout of a receive at idx, in ms; -1 when none. */
static double opt_timeout(lua_State *L, int idx)
{
    double ms = luaL_optnumber(L, idx, -1);
    luaL_argcheck(L, lua_isnoneornil(L, idx) || ms >= 0, idx, "must not be negative");
    return ms;
}

/* mw.receive([timeout]): the next message; nil, "timeout" when timeout ms pass first. */
static int mw_receive(lua_State *L)
{
    struct ltask *b = ltask_co_running(L, "receive");
    return ltask_co_receive(L, b, opt_timeout(L, 1));
}

static int mw_self(lua_State *L)
{
    if (ltask_active && ltask_active->self_slot)
        lslots_push(L, ltask_active->self_slot);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- task objects ---- */

struct ltask *ltask_new(lua_State *L, lua_State *co)
{
    struct ltask *b = lua_newuserdata(L, sizeof *b);
    *b = (struct ltask){.co = co, .id = ++last_id, .timeout_ms = -1};
    lbox_pushmetatable(L, TASK_META);
    lua_setmetatable(L, -2);
    b->task = task_new(co ? ltask_co_ready : ltask_mailbox_ready, b);
    if (!b->task)
        luaL_error(L, "task: out of memory");
    lua_pushvalue(L, -1);
    b->self_slot = lslots_put(L);
    return b;
}

static int check_callback(lua_State *L, int idx, const char *name, int required)
{
    lua_getfield(L, idx, name);
    int ok = lua_isfunction(L, -1) || (!required && lua_isnil(L, -1));
    lua_pop(L, 1);
    if (!ok)
        return luaL_argerror(L, idx, lua_pushfstring(L, "field '%s' must be a function", name));
    return 0;
}

/* mw.task{on_message = fn, on_stop = fn}: a mailbox task; the table is its
 * state, read and written through the task object. */
static int mw_task(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    check_callback(L, 1, "on_message", 1);
    check_callback(L, 1, "on_stop", 0);
    struct ltask *b = ltask_new(L, NULL);
    lua_pushvalue(L, 1);
    lua_setfenv(L, -2);
    if (task_listen(b->task, 1) < 0)
        return luaL_error(L, "task: %s", strerror(errno));
    return 1;
}

/* mw.go(fn, ...): fn(...) in a coroutine task; returns the task. */
static int mw_go(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    ltask_go(L, lua_gettop(L) - 1);
    return 1;
}

struct ltask *ltask_check(lua_State *L, int idx)
{
    return lbox_check(L, idx, TASK_META, "task");
}

static int task_send_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (!b->task || b->dying)
        return luaL_error(L, "send: task %d is stopped", (int)b->id);
    lua_settop(L, 2);
    int slot = lslots_put(L);
    if (task_send(b->task, (uintptr_t)slot) < 0) {
        lslots_free(L, slot);
        return luaL_error(L, "send: %s", strerror(errno));
    }
    return 0;
}

static int task_receive_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b != ltask_active || b->co != L)
        return luaL_error(L, "receive: task %d is not the running coroutine task", (int)b->id);
    return ltask_co_receive(L, b, opt_timeout(L, 2));
}

/* t:stop(): true if it was live. A task stopping its own coroutine ends there. */
static int task_stop_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    int live = b->task && !b->dying;
    ltask_end(b, REASON_STOPPED);
    if (b->dying && b->co == L)
        return lua_yield(L, 0);
    lua_pushboolean(L, live);
    return 1;
}

static int task_alive_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushboolean(L, b->task && !b->dying);
    return 1;
}

/* __index: the methods (upvalue 1), then id, then a mailbox task's table. */
static int task_index_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "id") == 0)
        lua_pushinteger(L, (lua_Integer)b->id);
    else if (!b->co) {
        lua_getfenv(L, 1);
        lua_pushvalue(L, 2);
        lua_gettable(L, -2);
    } else
        lua_pushnil(L);
    return 1;
}

static int task_newindex_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b->co)
        return luaL_error(L, "a coroutine task has no fields to set");
    lua_getfenv(L, 1);
    lua_insert(L, 2);
    lua_settable(L, 2);
    return 0;
}

static int task_tostring_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushfstring(L, "task %d%s", (int)b->id, b->task ? "" : " (ended)");
    return 1;
}

/* Only at lua_close can a live task be collected: free its C side. */
static int task_gc_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b->timer)
        timer_cancel(b->timer);
    if (b->task)
        task_stop(b->task);
    b->timer = NULL;
    b->task = NULL;
    return 0;
}

/* ---- the C API for other bindings ---- */

void ltask_set_timeout(struct ltask *b, long timeout_ms)
{
    b->timeout_ms = timeout_ms > INT_MAX ? INT_MAX : timeout_ms < -1 ? -1 : (int)timeout_ms;
}

void ltask_set_owner(struct ltask *b, void *owner)
{
    b->owner = owner;
}

void ltask_push(lua_State *L, struct ltask *b)
{
    if (b->self_slot)
        lslots_push(L, b->self_slot);
    else
        lua_pushnil(L);
}

/* ---- registration ---- */

static const luaL_Reg task_methods[] = {
    {"send", task_send_l}, {"receive", task_receive_l},
    {"stop", task_stop_l}, {"alive", task_alive_l},
    {NULL, NULL},
};

static const luaL_Reg task_meta[] = {
    {"__newindex", task_newindex_l},
    {"__tostring", task_tostring_l},
    {"__gc", task_gc_l},
    {NULL, NULL},
};

static const luaL_Reg task_functions[] = {
    {"spawn", mw_spawn},     {"task", mw_task}, {"go", mw_go}, {"sleep", mw_sleep},
    {"receive", mw_receive}, {"self", mw_self}, {NULL, NULL},
};

static void register_type(lua_State *L)
{
    if (!lbox_newmetatable(L, TASK_META, "task"))
        return;
    luaL_register(L, NULL, task_meta);
    lua_newtable(L);
    luaL_register(L, NULL, task_methods);
    lua_pushcclosure(L, task_index_l, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void ltask_register(lua_State *L)
{
    ltask_state = L;
    register_type(L);
    lslots_reset(L);
    luaL_register(L, NULL, task_functions);
}
