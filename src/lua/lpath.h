/* lpath: where require looks. package.path is moonwire's Lua library, the
 * directory of each script, then LUA_PATH or LuaJIT's default path (./ first)
 * and the Lua 5.1 module directories of Debian and LuaRocks it lacks. */
#ifndef MW_LPATH_H
#define MW_LPATH_H

#include <lua.h>

/* The library's directory: the source tree's lua/ for a binary run from its
 * build tree (or copied elsewhere before any install), else the installed one. */
const char *lpath_lua_dir(void);
/* Sets package.path and package.cpath of a new state (after luaL_openlibs);
 * raises on a memory error. */
void lpath_open(lua_State *L);
/* Puts the directory of script on package.path after the library, before
 * the directories of scripts added earlier, unless it is there already; a
 * directory whose name holds ';' or '?' cannot be a path entry, and is left
 * out with a warning. For each script a state loads, before its top level
 * runs; raises on a memory error. The modules it finds are shared with the
 * other scripts of the state, as package.loaded is. */
void lpath_add_script(lua_State *L, const char *script);

#endif
