/* lscript: compiles the handler script into a Lua state, from the text the
 * master read (script_use) when there is one, so a worker runs exactly what
 * was checked. */
#ifndef MW_LSCRIPT_H
#define MW_LSCRIPT_H

#include <lua.h>

/* Compiles the script as luaL_loadfile would (a first line starting with '#'
 * is skipped, line numbers stay right), from the text in use when it is of
 * this path, else from the file. */
int lscript_load(lua_State *L, const char *path);

#endif
