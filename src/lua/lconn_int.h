/* lconn_int.h: what the two files of the lconn module share, and no one
 * else: the conn object's box, the handler behind it, the state and loop.
 * lconn.c is the conn object and mw.connect; lconn_dispatch.c the callbacks. */
#ifndef MW_LCONN_INT_H
#define MW_LCONN_INT_H

#include "lconn.h"

#include "bibop.h"
#include "lhandler.h"

#include <lua.h>

struct conn;
struct event_base;
struct ltask;
struct resolve_request;

/* The handler of a set of connections: the listeners' one, or one per
 * mw.connect call, freed with its connection. */
struct lconn_handler {
    struct lhandler h;
    struct conn_group *group;
    int outbound;
};

/* What a Lua conn object holds. The handle names the connection's slot and
 * generation in its BiBOP page: once the connection is gone the generation
 * no longer matches, so a stale object is an error and never reaches freed
 * memory or the connection that took the slot next. */
struct lconn_box {
    struct bibop_handle conn;
    struct lconn_handler *handler;
    struct resolve_request *resolving; /* outbound, while its name is looked up */
    struct ltask *serve;               /* the serve task, while it runs */
    struct ltask *reader;              /* a task parked in conn:read*, if any */
    double id;
    int ref; /* registry reference keeping the object alive while open */
};

extern lua_State *lconn_state;        /* the state the handler's callbacks run in */
extern struct event_base *lconn_loop; /* the loop new connections are registered with */

/* The connection behind a box, or NULL (with why) when it is gone. */
static inline struct conn *lconn_box_conn(const struct lconn_box *box, const char **why)
{
    return bibop_handle_get(&box->conn, BIBOP_KIND_CONN, why);
}

/* ---- lconn.c ---- */

/* Pushes a new Lua object for conn, kept alive until on_close. */
struct lconn_box *lconn_box_new(lua_State *L, struct conn *conn, struct lconn_handler *handler);

/* ---- lconn_dispatch.c ---- */

/* A handler read from the table at idx, with its connection group; NULL
 * with err set when a field is wrong or memory is short. */
struct lconn_handler *lconn_handler_new(lua_State *L, int idx, int outbound, char *err,
                                        size_t errlen);
/* Drops the handler's callbacks and its group, then the handler. */
void lconn_handler_free(struct lconn_handler *handler);
/* The end hook of serve tasks: their connection closes after them. */
void lconn_serve_ended(struct ltask *task, const char *reason, void *ud);

#endif
