/* luahost: the worker's Lua state and its handler script.
 * Creates the state on our allocator, makes require find the moonwire
 * module and the Lua library, and runs the script for its handler table. */
#ifndef MW_LUAHOST_H
#define MW_LUAHOST_H

#include <stddef.h>

#include <lua.h>

/* Creates the state and loads script; on failure returns NULL with err set.
 * On success the handler table is left on top of the stack. */
lua_State *luahost_open(const char *script, char *err, size_t errlen);
void luahost_close(lua_State *L);
/* The directory searched first by require. */
const char *luahost_lua_dir(void);

#endif
