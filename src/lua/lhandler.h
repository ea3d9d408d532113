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
