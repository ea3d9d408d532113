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

/* Pushes the traceback handler. lua_pushcfunction would make a new closure,
 * garbage, on every entry; this one is made once per state and kept in the
 * registry under a key no Lua code can name. */
static void push_traceback(lua_State *L)
{
    static const char key;
    lua_pushlightuserdata(L, (void *)&key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isfunction(L, -1))
        return;
    lua_pop(L, 1);
    lua_pushcfunction(L, lcall_traceback);
    lua_pushlightuserdata(L, (void *)&key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* How many entries into Lua are running now: 0 from the loop itself. */
static int depth;

int lcall_depth(void)
{
    return depth;
}

int lcall(lua_State *L, int nargs)
{
    return lcall_timed(L, nargs, -1, NULL);
}

int lcall_timed(lua_State *L, int nargs, long timeout_ms, const char *what)
{
    return lcall_results(L, nargs, 0, timeout_ms, what);
}

/* Only the outermost entry arms a deadline: a nested one (an on_close run
 * from inside a write) runs under the deadline of the entry around it. */
int lcall_results(lua_State *L, int nargs, int nresults, long timeout_ms, const char *what)
{
    int base = lua_gettop(L) - nargs;
    push_traceback(L);
    lua_insert(L, base);
    if (depth == 0)
        deadline_arm(timeout_ms, what);
    depth++;
    int rc = lua_pcall(L, nargs, nresults, base);
    depth--;
    int hit = ldeadline_leave(L, depth == 0) && rc != 0;
    lua_remove(L, rc == 0 ? base : -2);
    if (rc != LUA_ERRMEM)
        return rc == 0 ? 0 : hit ? LCALL_DEADLINE : -1;
    /* What the failed call built is garbage now: free it before the caller
     * pushes anything, outside protection, onto a full heap. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return LCALL_ERRMEM;
}

int lcall_resume(lua_State *L, lua_State *co, int nargs)
{
    return lcall_resume_timed(L, co, nargs, -1, NULL);
}

int lcall_resume_timed(lua_State *L, lua_State *co, int nargs, long timeout_ms, const char *what)
{
    if (depth == 0)
        deadline_arm(timeout_ms, what);
    depth++;
    int rc = lua_resume(co, nargs);
    depth--;
    int hit = ldeadline_leave(L, depth == 0) && rc != 0 && rc != LUA_YIELD;
    if (rc == 0 || rc == LUA_YIELD)
        return rc == LUA_YIELD;
    const char *msg = lua_tostring(co, -1);
    int described = msg == NULL;
    if (described)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
    luaL_traceback(L, co, msg, 0);
    if (described)
        lua_remove(L, -2);
    return hit ? LCALL_DEADLINE : -1;
}
