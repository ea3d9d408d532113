/* lmetrics: the script's own metrics as Lua sees them: mw.metrics.counter,
 * gauge and histogram, declared at a script's top level, and their :inc,
 * :dec, :set and :observe. Validates, converts and calls metrics.h, which
 * checks the names and keeps the limits. */
#ifndef MW_LMETRICS_H
#define MW_LMETRICS_H

#include <lua.h>

/* Adds the metrics table to the module table on top of the stack and
 * registers the three types. */
void lmetrics_register(lua_State *L);

#endif
