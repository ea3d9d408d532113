/* lconn: connections as Lua sees them (the conn object and the handler's
 * connection callbacks). Validates, converts, calls conn.c; the handler
 * table's on_connect/on_data/on_close are called from here through lcall. */
#ifndef MW_LCONN_H
#define MW_LCONN_H

#include <lua.h>
#include <stddef.h>

struct event_base;

/* Registers the conn metatable; called when the moonwire module opens. */
void lconn_register(lua_State *L);
/* Takes the connection callbacks from the handler table at idx. Returns 0,
 * or -1 with err set when a field has the wrong type. */
int lconn_set_handler(lua_State *L, int idx, char *err, size_t errlen);
/* Wraps an accepted descriptor in a connection and calls on_connect. */
void lconn_accept(struct event_base *base, int fd);

#endif
