#include "config.h"

#include "luahost.h"

#include "bibop.h"
#include "lcall.h"
#include "ldeadline.h"
#include "lpath.h"
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

/* What the deadline thread names if the top level overstays --grace; read
 * by that thread, so it must outlive the call. */
static char top_level[PATH_MAX + 32];

/* The top level ran past its deadline: "file:line: deadline exceeded while
 * loading (N ms)" where the hook raised (the script or a module it required),
 * and the traceback of that error. */
static void describe_deadline(lua_State *L, const char *script, char *err, size_t errlen)
{
    long ms;
    const char *where = ldeadline_raised_at(&ms);
    const char *trace = strchr(lua_tostring(L, -1) ? lua_tostring(L, -1) : "", '\n');
    snprintf(err, errlen, "%s: deadline exceeded while loading (%ld ms; see --timeout)%s",
             where ? where : script, ms, trace ? trace : "");
}

/* The script's directory on package.path (argument 1: the script), under
 * protection, as open_libraries. */
static int add_script_dir(lua_State *L)
{
    lpath_add_script(L, lua_touserdata(L, 1));
    return 0;
}

int luahost_load(lua_State *L, const char *script, char *err, size_t errlen)
{
    snprintf(top_level, sizeof top_level, "the top level of %s", script);
    if (lua_cpcall(L, add_script_dir, (void *)script) != 0) {
        snprintf(err, errlen, "%s: %s", script, lua_tostring(L, -1));
        return -1;
    }
    if (lscript_load(L, script) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    int rc = lcall_top(L, -1, top_level);
    if (rc == LCALL_DEADLINE) {
        describe_deadline(L, script, err, errlen);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
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
    lpath_open(L);
    lmoonwire_open(L);
    return 0;
}

lua_State *luahost_open(const char *script, long timeout_ms, long grace_ms, char *err,
                        size_t errlen)
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
    if (ldeadline_start(L, timeout_ms, grace_ms, err, errlen) < 0 ||
        luahost_load(L, script, err, errlen) < 0) {
        luahost_close(L);
        return NULL;
    }
    return L;
}

void luahost_close(lua_State *L)
{
    ldeadline_stop();
    lua_close(L);
}
