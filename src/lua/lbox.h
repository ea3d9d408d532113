/* lbox: checks for the userdata objects moonwire gives Lua (connections,
 * later timers and tasks), so a wrong or stale handle is a clear Lua error:
 * "bad argument #1 to 'write' (connection expected, got timer)". */
#ifndef MW_LBOX_H
#define MW_LBOX_H

#include <lua.h>

/* A new metatable registered under meta, its __name set to name; returns 0
 * when it already existed (nothing pushed), 1 with it on the stack. meta is
 * also a key by its address: give every call for one type the same static
 * array (static const char X_META[] = "..."), not a macro string. */
int lbox_newmetatable(lua_State *L, const char *meta, const char *name);
/* Pushes the metatable registered for meta (the same address), or nil. */
void lbox_pushmetatable(lua_State *L, const char *meta);
/* The userdata at idx if its metatable is meta's, else raises an argument
 * error naming `name` as the type expected. */
void *lbox_check(lua_State *L, int idx, const char *meta, const char *name);
/* The moonwire type name of the value at idx, or Lua's type name. */
const char *lbox_typename(lua_State *L, int idx);
/* Raises "bad argument #idx (<expected> expected, got <type>)". */
int lbox_typeerror(lua_State *L, int idx, const char *expected);

#endif
