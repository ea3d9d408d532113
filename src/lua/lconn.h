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
struct lconn_handler;

/* Takes the handler table at idx for the connections some listeners accept
 * (one per script: the worker keeps it for its life). Returns it, or NULL
 * with err set when a field is wrong. */
struct lconn_handler *lconn_listen_handler(lua_State *L, int idx, char *err, size_t errlen);
/* Lets go of it, once its connections are gone (before the state closes). */
void lconn_listen_handler_free(struct lconn_handler *handler);
/* Warns, as the script's check does, of what in a listeners' handler (the
 * table at idx, taken by lconn_listen_handler) would go unnoticed: a field no
 * handler has, by the place its value (a function) was defined or by the
 * script's name; none of on_data, serve and on_connect, when the script has
 * started nothing else (a task, a timer, a connection). */
void lconn_warn_handler(lua_State *L, int idx, const struct lconn_handler *handler,
                        const char *script);
/* Whether mw.connect warns of unknown handler fields (on by default): off
 * while a worker loads the script, whose check has said it all. */
void lconn_set_field_warnings(int on);
/* Wraps an accepted descriptor in a connection of handler and calls
 * on_connect; when proxied, only once a PROXY protocol header has named the
 * client. */
void lconn_accept(struct lconn_handler *handler, int fd, int proxied);
/* The worker begins to drain: on_shutdown(conn) is called for each open
 * connection whose handler has one. Returns 0, or -1 when memory is short. */
int lconn_shutdown_all(void);
/* Errors raised by the handler's callbacks and serve tasks, in this process. */
uint64_t lconn_handler_errors(void);

#endif
