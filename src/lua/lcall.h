/* lcall: the one door through which the loop enters Lua. Everything an
 * entry pushes (the function, its arguments, a coroutine's values) is pushed
 * by the caller's push function inside a protected call, so that a full heap
 * fails that entry and never the process; each entry runs with a traceback
 * handler and its deadline (deadline.c, ldeadline.c) armed and disarmed.
 * After an entry fails for memory a full collection runs before the next. */
#ifndef MW_LCALL_H
#define MW_LCALL_H

#include <lua.h>

#define LCALL_ERRMEM (-2)   /* the Lua heap is full (--memory-limit) */
#define LCALL_DEADLINE (-3) /* the call ran past its deadline (--timeout) */

/* Pushes what an entry needs, under protection: it may allocate, and what
 * it raises (out of memory) fails the entry as the call itself would. For
 * lcall: the function, then its arguments; returns how many arguments (or
 * -1: nothing to call, the entry succeeds doing nothing more). For
 * lcall_resume: values for the coroutine; returns how many. For
 * lcall_protect: does its work; returns how many results it left (0 or 1).
 * It is called once per entry, unless the state had no room to make its door
 * (lcall_prepare), and finds the stack empty (but for lcall_protect's values). */
typedef int (*lcall_push_fn)(lua_State *L, void *ud);

/* Calls what push pushes, dropping results. Returns 0, or -1 (LCALL_ERRMEM
 * when out of memory) with the message, a string with a traceback unless out
 * of memory, left on top of the stack. */
int lcall(lua_State *L, lcall_push_fn push, void *ud);
/* lcall under a deadline of timeout_ms (negative: --timeout; 0: none); what
 * names what runs, for the log if it overstays its grace (a string that
 * lives as long as the call). Returns LCALL_DEADLINE when it hit it. */
int lcall_timed(lua_State *L, lcall_push_fn push, void *ud, long timeout_ms, const char *what);
/* lcall_timed of the function on top of the stack, with no arguments; on
 * success its one result replaces it (a script's top level and its handler
 * table). */
int lcall_top(lua_State *L, long timeout_ms, const char *what);
/* Resumes the coroutine co (a thread of L) with the nvalues values on top of
 * its stack, then those push pushes (push may be NULL). Returns 1 when it
 * yielded (the yielded values on co's stack), 0 when its function returned,
 * or -1 (LCALL_ERRMEM) with "message + traceback" pushed on L when it
 * raised or the values could not be pushed (co is then of no more use: what
 * it holds goes when it is let go of, lcall_collect_soon after a memory
 * error). */
int lcall_resume(lua_State *L, lua_State *co, int nvalues, lcall_push_fn push, void *ud);
/* lcall_resume with a deadline for this slice, as lcall_timed; returns
 * LCALL_DEADLINE when the slice hit it (co is then dead). */
int lcall_resume_timed(lua_State *L, lua_State *co, int nvalues, lcall_push_fn push, void *ud,
                       long timeout_ms, const char *what);
/* Runs fn under protection, for C that must make Lua values outside any
 * call (a connection's object at accept), with the nargs values on top of
 * the stack (popped) at 1..nargs of its own. Returns 0 with fn's result (if
 * it left one) on top, or -1 (LCALL_ERRMEM) with the message on top. */
int lcall_protect(lua_State *L, int nargs, lcall_push_fn fn, void *ud);
/* Makes the door and the traceback handler of L's entries; raises when out
 * of memory. Done at the first entry if not before (luahost does it when it
 * opens the state, while the heap has room). */
void lcall_prepare(lua_State *L);
/* Something large may have just become garbage (a connection that ran out
 * of memory is gone): a full collection runs before the next entry. */
void lcall_collect_soon(void);
/* Entries into Lua (lcall, lcall_resume, lcall_protect) running now; 0 from
 * the loop. */
int lcall_depth(void);
/* A lua_CFunction that turns an error into message + traceback. */
int lcall_traceback(lua_State *L);

#endif
