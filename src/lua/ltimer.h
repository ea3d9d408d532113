/* ltimer: timers as Lua sees them: mw.after, mw.every and timer:cancel().
 * Validates, converts and calls timer.c; callbacks enter Lua through lcall.
 * A repeating timer whose callback raises is cancelled, and the log says so. */
#ifndef MW_LTIMER_H
#define MW_LTIMER_H

#include <lua.h>
#include <stddef.h>

/* Adds after and every to the module table on top of the stack and
 * registers the timer type; L becomes the state callbacks run in. */
void ltimer_register(lua_State *L);
/* Timers started from Lua and still pending: mw.stats().timers. */
size_t ltimer_count(void);

#endif
