/* ldeadline: deadlines as the Lua state sees them. The scheduler thread
 * (deadline.c) fires by setting a count hook; the hook, on the loop thread,
 * raises "moonwire: deadline exceeded (N ms)" where the code runs, and keeps
 * raising at each instruction while the entry stays expired. */
#ifndef MW_LDEADLINE_H
#define MW_LDEADLINE_H

#include <lua.h>
#include <stddef.h>

/* Starts deadlines for the worker's state L (its main thread: hooks are
 * per VM). Returns 0, or -1 with err set. */
int ldeadline_start(lua_State *L, long timeout_ms, long grace_ms, char *err, size_t errlen);
/* Joins the thread; before the state is closed. */
void ldeadline_stop(void);
/* After an entry into Lua returned: disarms it when outer (the outermost
 * entry) and takes the hook away if it was set. Returns 1 when the running
 * entry hit its deadline. */
int ldeadline_leave(lua_State *L, int outer);

/* Where the hook last raised a deadline error ("file:line"), or NULL when
 * the running code had no line; *ms is that entry's deadline. */
const char *ldeadline_raised_at(long *ms);

#endif
