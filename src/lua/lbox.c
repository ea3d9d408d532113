#include "config.h"

#include "lbox.h"

#include <lauxlib.h>

/* The registry keeps each metatable under its name (for luaL_checkudata and
 * tools) and under the address of that name, so that the check made on every
 * method call looks it up by a pointer instead of interning the name again. */
int lbox_newmetatable(lua_State *L, const char *meta, const char *name)
{
    if (!luaL_newmetatable(L, meta)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushlightuserdata(L, (void *)meta);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 1;
}

void lbox_pushmetatable(lua_State *L, const char *meta)
{
    lua_pushlightuserdata(L, (void *)meta);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

const char *lbox_typename(lua_State *L, int idx)
{
    const char *name = NULL;
    if (lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__name");
        name = lua_tostring(L, -1); /* interned in the metatable, which stays alive */
        lua_pop(L, 2);
    }
    return name ? name : luaL_typename(L, idx);
}

int lbox_typeerror(lua_State *L, int idx, const char *expected)
{
    const char *msg = lua_pushfstring(L, "%s expected, got %s", expected, lbox_typename(L, idx));
    return luaL_argerror(L, idx, msg);
}

void *lbox_check(lua_State *L, int idx, const char *meta, const char *name)
{
    void *box = lua_touserdata(L, idx);
    int ok = box && lua_getmetatable(L, idx);
    if (ok) {
        lbox_pushmetatable(L, meta);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!ok)
        lbox_typeerror(L, idx, name);
    return box;
}
