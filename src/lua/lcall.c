#include "config.h"

#include "lcall.h"

#include "deadline.h"
#include "ldeadline.h"

#include <lauxlib.h>

int lcall_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* What one entry is: a call, a coroutine's resume, or C run under protection. */
enum kind { KIND_CALL, KIND_RESUME, KIND_PROTECT };

struct entry {
    lcall_push_fn push;
    void *ud;
    lua_State *co; /* KIND_RESUME: the coroutine, with nvalues on its stack */
    int nvalues;
    enum kind kind;
    int status; /* KIND_RESUME: lua_resume's; KIND_PROTECT: the results left */
    int nargs;  /* values given from the caller's stack (KIND_CALL: the function) */
    int keep;   /* KIND_CALL: the call's one result is kept (a script's top level) */
    int raised; /* the entry was told its deadline had passed */
};

/* How many entries into Lua are running now: 0 from the loop itself. */
static int depth;
/* A memory error left garbage the heap is full of; the next entry collects
 * it first, as LuaJIT never collects by itself when an allocation fails. */
static int collect_owed;

int lcall_depth(void)
{
    return depth;
}

void lcall_collect_soon(void)
{
    collect_owed = 1;
}

/* The message of the coroutine co that raised (status), pushed on L: with a
 * traceback of co, except when it ran out of memory, when there is no room
 * for one. */
static void push_coroutine_error(lua_State *L, lua_State *co, int status)
{
    if (status == LUA_ERRMEM) {
        lua_xmove(co, L, 1);
        return;
    }
    const char *msg = lua_tostring(co, -1);
    int described = msg == NULL;
    if (described)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
    luaL_traceback(L, co, msg, 0);
    if (described)
        lua_remove(L, -2);
}

/* Moves the n values pushed on L to co and resumes it; returns its error
 * message (a result of the door) when it raised. */
static int resume_inside(lua_State *L, struct entry *e, int n)
{
    lua_xmove(L, e->co, n);
    e->status = lua_resume(e->co, e->nvalues + n);
    if (e->status == 0 || e->status == LUA_YIELD)
        return 0;
    push_coroutine_error(L, e->co, e->status);
    return 1;
}

/* The door: the C function every entry is a protected call of. It owes the
 * heap its collection first, then pushes what the entry needs and runs it;
 * whatever fails in here (a push on a full heap) fails only this entry. */
static int door(lua_State *L)
{
    struct entry *e = lua_touserdata(L, 1);
    lua_remove(L, 1);
    if (collect_owed) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        collect_owed = 0;
    }
    int n = e->push ? e->push(L, e->ud) : 0;
    switch (e->kind) {
    case KIND_CALL:
        if (n < 0)
            return 0;
        lua_call(L, n, e->keep);
        return e->keep;
    case KIND_PROTECT:
        e->status = n > 0;
        return e->status;
    default:
        return resume_inside(L, e, n);
    }
}

static const char door_key, traceback_key;

static int make_functions(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&door_key);
    lua_pushcfunction(L, door);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, (void *)&traceback_key);
    lua_pushcfunction(L, lcall_traceback);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Pushes the function registered under key; 0 when there is none yet. */
static int push_registered(lua_State *L, const char *key)
{
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

void lcall_prepare(lua_State *L)
{
    if (push_registered(L, &door_key))
        lua_pop(L, 1);
    else
        make_functions(L);
}

/* Pushes the traceback handler and the door. lua_pushcfunction would make
 * new closures, garbage (and an allocation outside protection), on every
 * entry; these are made once per state and kept in the registry, under keys
 * no Lua code can name. Returns 0, or LUA_ERRMEM with the message pushed. */
static int push_door(lua_State *L)
{
    if (!push_registered(L, &traceback_key)) {
        int rc = lua_cpcall(L, make_functions, NULL);
        if (rc != 0)
            return rc;
        push_registered(L, &traceback_key);
    }
    push_registered(L, &door_key);
    return 0;
}

/* Only the outermost entry arms a deadline: a nested one (an on_close run
 * from inside a write) runs under the deadline of the entry around it. An
 * error in the traceback handler can only be for memory, as it allocates
 * what it formats. Returns lua_pcall's status, with the stack as lcall
 * leaves it: nothing added but the door's result or the error message. */
static int enter(lua_State *L, struct entry *e, long timeout_ms, const char *what)
{
    int base = lua_gettop(L) + 1 - e->nargs;
    int rc = push_door(L);
    if (rc != 0) {
        lua_insert(L, base);
        lua_settop(L, base);
        return rc;
    }
    lua_pushlightuserdata(L, e);
    for (int i = 0; i < 3; i++)
        lua_insert(L, base); /* the door's arguments: e, then the values */
    int timed = e->kind != KIND_PROTECT;
    if (timed && depth == 0)
        deadline_arm(timeout_ms, what);
    depth++;
    rc = lua_pcall(L, 1 + e->nargs, 1, base);
    depth--;
    e->raised = timed && ldeadline_leave(L, depth == 0);
    lua_remove(L, base);
    if (rc == LUA_ERRERR)
        rc = LUA_ERRMEM;
    if (rc == LUA_ERRMEM)
        collect_owed = 1;
    return rc;
}

int lcall(lua_State *L, lcall_push_fn push, void *ud)
{
    return lcall_timed(L, push, ud, -1, NULL);
}

/* The error code of an entry that failed with status rc. */
static int failure(const struct entry *e, int rc)
{
    return rc == LUA_ERRMEM ? LCALL_ERRMEM : e->raised ? LCALL_DEADLINE : -1;
}

int lcall_timed(lua_State *L, lcall_push_fn push, void *ud, long timeout_ms, const char *what)
{
    struct entry e = {.push = push, .ud = ud, .kind = KIND_CALL};
    int rc = enter(L, &e, timeout_ms, what);
    if (rc != 0)
        return failure(&e, rc);
    lua_pop(L, 1);
    return 0;
}

int lcall_top(lua_State *L, long timeout_ms, const char *what)
{
    struct entry e = {.kind = KIND_CALL, .nargs = 1, .keep = 1};
    int rc = enter(L, &e, timeout_ms, what);
    return rc != 0 ? failure(&e, rc) : 0;
}

int lcall_resume(lua_State *L, lua_State *co, int nvalues, lcall_push_fn push, void *ud)
{
    return lcall_resume_timed(L, co, nvalues, push, ud, -1, NULL);
}

int lcall_resume_timed(lua_State *L, lua_State *co, int nvalues, lcall_push_fn push, void *ud,
                       long timeout_ms, const char *what)
{
    struct entry e = {.push = push, .ud = ud, .co = co, .nvalues = nvalues, .kind = KIND_RESUME};
    int rc = enter(L, &e, timeout_ms, what);
    if (rc == 0 && (e.status == 0 || e.status == LUA_YIELD)) {
        lua_pop(L, 1);
        return e.status == LUA_YIELD;
    }
    if (rc == 0)
        rc = e.status;
    if (rc == LUA_ERRMEM)
        collect_owed = 1;
    return failure(&e, rc);
}

int lcall_protect(lua_State *L, int nargs, lcall_push_fn fn, void *ud)
{
    struct entry e = {.push = fn, .ud = ud, .kind = KIND_PROTECT, .nargs = nargs};
    int rc = enter(L, &e, 0, NULL);
    if (rc != 0)
        return failure(&e, rc);
    if (!e.status)
        lua_pop(L, 1);
    return 0;
}
