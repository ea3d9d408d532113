#include "config.h"

#include "lpath.h"

#include "log.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Lua 5.1 module directories of Debian's lua5.1 (its default paths) and
 * of LuaRocks' system tree (/usr/local), where LuaJIT's default paths lack
 * them: Debian's lacks /usr/local/lib/lua/5.1's Lua files and /usr/lib/lua/5.1;
 * one built from source lacks Debian's. */
static const char *const lua_dirs[] = {
    "/usr/local/share/lua/5.1/?.lua",
    "/usr/local/share/lua/5.1/?/init.lua",
    "/usr/local/lib/lua/5.1/?.lua",
    "/usr/local/lib/lua/5.1/?/init.lua",
    "/usr/share/lua/5.1/?.lua",
    "/usr/share/lua/5.1/?/init.lua",
    NULL,
};
static const char *const c_dirs[] = {
    "/usr/local/lib/lua/5.1/?.so",
#ifdef MW_MULTIARCH
    "/usr/lib/" MW_MULTIARCH "/lua/5.1/?.so",
#endif
    "/usr/lib/lua/5.1/?.so",
    NULL,
};

const char *lpath_lua_dir(void)
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

/* Whether entry is one of the ';'-separated entries of path. */
static int on_path(const char *path, const char *entry)
{
    size_t len = strlen(entry);
    for (const char *p = path;; p++) {
        if (strncmp(p, entry, len) == 0 && (p[len] == ';' || p[len] == '\0'))
            return 1;
        p = strchr(p, ';');
        if (!p)
            return 0;
    }
}

/* Appends to package[field] (the package table on top) the entries it
 * lacks, unless the variable env replaced Lua's default path: set without
 * ";;", it is the whole path, as in Lua. */
static void add_missing(lua_State *L, const char *field, const char *env,
                        const char *const *entries)
{
    const char *given = getenv(env);
    if (given && !strstr(given, ";;"))
        return;
    for (; *entries; entries++) {
        lua_getfield(L, -1, field);
        const char *path = lua_tostring(L, -1);
        size_t len = strlen(path);
        if (!on_path(path, *entries)) {
            lua_pushfstring(L, "%s%s%s", path, len && path[len - 1] != ';' ? ";" : "", *entries);
            lua_setfield(L, -3, field);
        }
        lua_pop(L, 1);
    }
}

/* Pushes "DIR/?.lua;DIR/?/init.lua;", the entries of a directory, and returns it. */
static const char *push_entries(lua_State *L, const char *dir)
{
    return lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
}

void lpath_open(lua_State *L)
{
    const char *dir = lpath_lua_dir();
    lua_getglobal(L, "package");
    add_missing(L, "path", "LUA_PATH", lua_dirs);
    add_missing(L, "cpath", "LUA_CPATH", c_dirs);
    push_entries(L, dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

/* Whether path holds the two entries of a directory as push_entries makes
 * them: a script in ./ still gets its own, before LUA_PATH's, though LuaJIT's
 * default path has "./?.lua". */
static int has_entries(const char *path, const char *entries)
{
    for (const char *p = path; (p = strstr(p, entries)) != NULL; p++)
        if (p == path || p[-1] == ';')
            return 1;
    return 0;
}

void lpath_add_script(lua_State *L, const char *script)
{
    /* "app/main.lua": app; "/main.lua": the root, whose entries are "/?.lua". */
    const char *slash = strrchr(script, '/');
    size_t len = slash ? (size_t)(slash - script) : 1;
    if (slash && (memchr(script, ';', len) || memchr(script, '?', len))) {
        log_warn("%s: require does not look in its directory (a ';' or '?' in its name)", script);
        return;
    }
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    const char *path = lua_tostring(L, -1);
    lua_pushlstring(L, slash ? script : ".", len);
    const char *dir = lua_tostring(L, -1);
    if (!has_entries(path, push_entries(L, dir))) {
        const char *lib = push_entries(L, lpath_lua_dir());
        size_t skip = strncmp(path, lib, strlen(lib)) == 0 ? strlen(lib) : 0;
        lua_pushlstring(L, path, skip);
        push_entries(L, dir);
        lua_pushstring(L, path + skip);
        lua_concat(L, 3);
        lua_setfield(L, top + 1, "path");
    }
    lua_settop(L, top);
}
