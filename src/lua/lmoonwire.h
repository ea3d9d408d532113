/* lmoonwire: the `moonwire` Lua module (require "moonwire").
 * Binds the C modules below it; holds no logic of its own. */
#ifndef MW_LMOONWIRE_H
#define MW_LMOONWIRE_H

#include <lua.h>

struct event_base;
struct metrics_figures;

/* Opens the module in this state, as package.loaded.moonwire, so require
 * finds it and the object types it defines exist before any script runs. */
void lmoonwire_open(lua_State *L);
/* The loop whose cached time mw.now() reads; NULL under --check. */
void lmoonwire_set_base(struct event_base *base);
/* The number mw.worker_id() returns (0..N-1; 0 under --check). */
void lmoonwire_set_worker_id(int id);
/* From now on mw.stopping() is true: the worker drains. */
void lmoonwire_set_stopping(void);
int luaopen_moonwire(lua_State *L);
/* This process's figures, as mw.stats() returns them (for --metrics). */
void lmoonwire_figures(struct metrics_figures *f);

#endif
