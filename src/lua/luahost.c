#include "config.h"

#include "luahost.h"

#include "bibop.h"
#include "lcall.h"
#include "lscript.h"
#include "lmoonwire.h"
#include "luaheap.h"
#include "log.h"

#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From the build tree, the project's lua/; once installed, $(pkgdatadir)/lua;
 * a binary copied elsewhere before any install still finds the source tree's. */
const char *luahost_lua_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (strcmp(exe, MW_BUILDDIR) == 0)
            return MW_SRC_LUADIR;
    }
    if (access(MW_LUADIR, F_OK) != 0 && access(MW_SRC_LUADIR, F_OK) == 0)
        return MW_SRC_LUADIR;
    return MW_LUADIR;
}

static void set_search_path(lua_State *L)
{
    const char *dir = luahost_lua_dir();
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* Runs the script; leaves its handler table on the stack. */
static int load_script(lua_State *L, const char *script, char *err, size_t errlen)
{
    lua_pushcfunction(L, lcall_traceback);
    if (lscript_load(L, script) != 0 || lua_pcall(L, 0, 1, -2) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: the script must return a handler table (got %s)", script,
                 luaL_typename(L, -1));
        return -1;
    }
    return 0;
}

/* An error outside any protected call (memory, in practice): say what it
 * was before the process ends, so the master's restart has a reason. */
static int on_panic(lua_State *L)
{
    log_error("Lua panic (unprotected error): %s", lua_tostring(L, -1));
    return 0;
}

/* The libraries, the search path and the moonwire module, under protection:
 * a heap too small for them fails the start with a message, not a panic. */
static int open_libraries(lua_State *L)
{
    luaL_openlibs(L);
    set_search_path(L);
    lmoonwire_open(L);
    return 0;
}

lua_State *luahost_open(const char *script, char *err, size_t errlen)
{
    struct bibop_heap *heap = luaheap();
    lua_State *L = heap ? lua_newstate(bibop_lua_alloc, heap) : NULL;
    if (!L) {
        snprintf(err, errlen, "cannot create the Lua state: out of memory");
        return NULL;
    }
    lua_atpanic(L, on_panic);
    if (lua_cpcall(L, open_libraries, NULL) != 0) {
        snprintf(err, errlen, "cannot open the Lua libraries: %s", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    if (load_script(L, script, err, errlen) < 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

void luahost_close(lua_State *L)
{
    lua_close(L);
}
