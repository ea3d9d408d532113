/* lhandler: a handler table, read once into what the C core needs: the
 * connection config (framing, limits) and references to the callbacks.
 * Errors name the field: "handler field 'framing': ...". */
#ifndef MW_LHANDLER_H
#define MW_LHANDLER_H

#include <lua.h>
#include <stddef.h>

#include "conn.h"

struct lhandler {
    /* registry refs, or LUA_NOREF */
    int on_connect, on_data, on_close, on_drain, on_eof, on_shutdown, serve;
    struct conn_config config;
    long timeout; /* ms, the deadline of each callback; LHANDLER_TIMEOUT_DEFAULT: --timeout */
};

#define LHANDLER_TIMEOUT_DEFAULT (-2)

/* Reads the handler table at idx into h. Returns 0, or -1 with err set. */
int lhandler_read(lua_State *L, int idx, struct lhandler *h, char *err, size_t errlen);
/* Called for each unknown field with its warning ("handler field 'on_dta'
 * is not known (did you mean 'on_data'?)") and the field's value on top of
 * the stack, which it must leave as it was. */
typedef void (*lhandler_warn_fn)(lua_State *L, const char *warning, void *arg);
/* Calls warn for each string key of the table at idx that is no handler
 * field; returns how many there were. */
int lhandler_unknown_fields(lua_State *L, int idx, lhandler_warn_fn warn, void *arg);
/* Whether h has on_data, serve or on_connect: without one, a connection's
 * bytes are read and dropped. */
int lhandler_serves(const struct lhandler *h);
/* Drops the callback references. */
void lhandler_unref(lua_State *L, struct lhandler *h);
/* Reads a framing spec ("raw", "line", { delimiter = s }, { length = n },
 * { prefix = 1|2|4, endian = "big"|"little" }) at idx. Returns NULL, or why
 * the spec is wrong. */
const char *lhandler_framing(lua_State *L, int idx, uint32_t max_frame, struct framing *out);

/* A delimiter framing from the string at idx; NULL, or why it is wrong. */
const char *lhandler_framing_delimiter(lua_State *L, int idx, uint32_t max_frame,
                                       struct framing *out);

#endif
