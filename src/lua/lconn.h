/* lconn: connections as Lua sees them (the conn object, mw.connect, and the
 * handler's connection callbacks). Validates, converts, calls conn.c; the
 * handler's callbacks are called from here through lcall. Its rooms: lconn.c
 * the conn object and mw.connect, lconn_dispatch.c the handler's callbacks. */
#ifndef MW_LCONN_H
#define MW_LCONN_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Adds connect to the module table on top of the stack and registers the
 * conn metatable; called when the moonwire module opens. */
void lconn_register(lua_State *L);
/* The loop new connections are registered with; set before any handler. */
void lconn_set_base(struct event_base *base);
/* Takes the handler table at idx for accepted connections. Returns 0, or
 * -1 with err set when a field is wrong. */
int lconn_set_handler(lua_State *L, int idx, char *err, size_t errlen);
/* Wraps an accepted descriptor in a connection and calls on_connect; when
 * proxied, only once a PROXY protocol header has named the client. */
void lconn_accept(int fd, int proxied);
/* The worker begins to drain: on_shutdown(conn) is called for each open
 * connection whose handler has one. Returns 0, or -1 when memory is short. */
int lconn_shutdown_all(void);
/* Errors raised by the handler's callbacks and serve tasks, in this process. */
uint64_t lconn_handler_errors(void);

#endif
