/* lcall: the one C function through which the loop enters Lua.
 * Runs a function in protected mode with a traceback handler; later, also
 * where each call's deadline is armed and disarmed. */
#ifndef MW_LCALL_H
#define MW_LCALL_H

#include <lua.h>

/* Calls the function below nargs arguments on the stack, dropping results.
 * Returns 0, or -1 with "message + traceback" left on top of the stack. */
int lcall(lua_State *L, int nargs);
/* A lua_CFunction that turns an error into message + traceback. */
int lcall_traceback(lua_State *L);

#endif
