/* lcall: the one C function through which the loop enters Lua.
 * Runs a function in protected mode with a traceback handler, and arms and
 * disarms each entry's deadline (deadline.c, ldeadline.c). */
#ifndef MW_LCALL_H
#define MW_LCALL_H

#include <lua.h>

#define LCALL_ERRMEM (-2)   /* the Lua heap is full (--memory-limit) */
#define LCALL_DEADLINE (-3) /* the call ran past its deadline (--timeout) */

/* Calls the function below nargs arguments on the stack, dropping results.
 * Returns 0, or -1 (LCALL_ERRMEM when out of memory) with the message, and a
 * traceback unless out of memory, left on top of the stack. */
int lcall(lua_State *L, int nargs);
/* lcall under a deadline of timeout_ms (negative: --timeout; 0: none); what
 * names what runs, for the log if it overstays its grace (a string that
 * lives as long as the call). Returns LCALL_DEADLINE when it hit it. */
int lcall_timed(lua_State *L, int nargs, long timeout_ms, const char *what);
/* lcall_timed keeping nresults results on the stack, in place of the
 * function and its arguments, when it succeeds (a script's top level). */
int lcall_results(lua_State *L, int nargs, int nresults, long timeout_ms, const char *what);
/* Resumes the coroutine co (a thread of L) with the nargs values on top of
 * its stack. Returns 1 when it yielded (the yielded values on co's stack),
 * 0 when its function returned, or -1 with "message + traceback" pushed on
 * L when it raised (co is then dead). */
int lcall_resume(lua_State *L, lua_State *co, int nargs);
/* lcall_resume with a deadline for this slice, as lcall_timed; returns
 * LCALL_DEADLINE when the slice hit it (co is then dead). */
int lcall_resume_timed(lua_State *L, lua_State *co, int nargs, long timeout_ms, const char *what);
/* Entries into Lua (lcall, lcall_resume) running now; 0 from the loop. */
int lcall_depth(void);
/* A lua_CFunction that turns an error into message + traceback. */
int lcall_traceback(lua_State *L);

#endif
