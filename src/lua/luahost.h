/* luahost: the worker's Lua state and its handler scripts.
 * Creates the state on our allocator, makes require find the moonwire
 * module, the Lua library and each script's siblings (lpath.h), and runs the
 * scripts for their handler tables under the worker's deadlines. */
#ifndef MW_LUAHOST_H
#define MW_LUAHOST_H

#include <stddef.h>

#include <lua.h>

/* Creates the state, starts its deadlines (--timeout timeout_ms, --grace
 * grace_ms: ldeadline.c) and runs the script's top level under them, as a
 * call from the loop; on failure returns NULL with err set. On success the
 * handler table is left on top of the stack. */
lua_State *luahost_open(const char *script, long timeout_ms, long grace_ms, char *err,
                        size_t errlen);
/* Runs another script's top level in L as luahost_open ran the first, its
 * directory put on package.path before the others' (a module both require
 * is loaded once); leaves its handler table on top of the stack. Returns 0,
 * or -1 with err set. */
int luahost_load(lua_State *L, const char *script, char *err, size_t errlen);
/* Stops the deadlines and closes the state. */
void luahost_close(lua_State *L);

#endif
