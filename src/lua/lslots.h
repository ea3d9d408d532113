/* lslots: values C holds for Lua (callbacks, task objects, messages) in one
 * table of numbered slots, lowest free slot first, rebuilt smaller when a
 * burst is over so its memory goes back. Used by ltask and ltimer. */
#ifndef MW_LSLOTS_H
#define MW_LSLOTS_H

#include <lua.h>

/* A fresh, empty slot table in L (once, when the moonwire module opens);
 * slots of an earlier state are forgotten. */
void lslots_reset(lua_State *L);
/* Pops the top value into the lowest free slot and returns the slot; nil
 * takes none and returns 0. Raises "out of memory". */
int lslots_put(lua_State *L);
/* Pushes the value in slot (nil for slot 0). */
void lslots_push(lua_State *L, int slot);
/* Frees slot so its value can be collected; slot 0 is ignored. */
void lslots_free(lua_State *L, int slot);

#endif
