#include "config.h"

#include "lcall.h"

#include <lauxlib.h>

int lcall_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* How many entries into Lua are running now: 0 from the loop itself. */
static int depth;

int lcall_depth(void)
{
    return depth;
}

int lcall(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lcall_traceback);
    lua_insert(L, base);
    depth++;
    int rc = lua_pcall(L, nargs, 0, base);
    depth--;
    lua_remove(L, rc == 0 ? base : -2);
    if (rc != LUA_ERRMEM)
        return rc == 0 ? 0 : -1;
    /* What the failed call built is garbage now: free it before the caller
     * pushes anything, outside protection, onto a full heap. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return LCALL_ERRMEM;
}

int lcall_resume(lua_State *L, lua_State *co, int nargs)
{
    depth++;
    int rc = lua_resume(co, nargs);
    depth--;
    if (rc == 0 || rc == LUA_YIELD)
        return rc == LUA_YIELD;
    const char *msg = lua_tostring(co, -1);
    int described = msg == NULL;
    if (described)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
    luaL_traceback(L, co, msg, 0);
    if (described)
        lua_remove(L, -2);
    return -1;
}
