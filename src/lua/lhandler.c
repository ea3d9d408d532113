#include "config.h"

#include "lhandler.h"

#include "suggest.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_LIMIT 0x7fffffff

/* Every field lhandler_read reads: any other is a mistake, often a misspelling. */
static const char *const known_fields[] = {
    "on_connect",          "on_data",    "on_close",  "on_drain",  "on_eof",
    "on_shutdown",         "serve",      "framing",   "max_frame", "idle_timeout",
    "connect_timeout",     "high_water", "low_water", "timeout",   "keepalive",
    "pause_on_high_water", NULL};

static const char *framing_by_name(const char *name, struct framing *out)
{
    if (strcmp(name, "raw") == 0)
        out->kind = FRAMING_RAW;
    else if (strcmp(name, "line") == 0)
        out->kind = FRAMING_LINE, out->delim_len = 1;
    else
        return "expected \"raw\", \"line\" or a table";
    return NULL;
}

/* t[key] as an integer in 1..max, or 0 when absent; -1 when not such a number. */
static long field_count(lua_State *L, int idx, const char *key, long max)
{
    lua_getfield(L, idx, key);
    long v = 0;
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        v = lua_type(L, -1) == LUA_TNUMBER && n >= 1 && n <= max && n == (long)n ? (long)n : -1;
    }
    lua_pop(L, 1);
    return v;
}

static const char *framing_delimiter(lua_State *L, int idx, struct framing *out)
{
    size_t len;
    const char *d = lua_tolstring(L, idx, &len);
    if (lua_type(L, idx) != LUA_TSTRING || len == 0 || len > FRAMING_MAX_DELIMITER)
        return "delimiter must be a string of 1 to 64 bytes";
    out->kind = FRAMING_DELIMITER;
    out->delim_len = (uint8_t)len;
    out->delim = framing_intern(d, len);
    return out->delim ? NULL : "out of memory";
}

const char *lhandler_framing_delimiter(lua_State *L, int idx, uint32_t max_frame,
                                       struct framing *out)
{
    memset(out, 0, sizeof *out);
    out->max_frame = max_frame;
    return framing_delimiter(L, idx, out);
}

static const char *framing_prefix(lua_State *L, int idx, long prefix, struct framing *out)
{
    if (prefix != 1 && prefix != 2 && prefix != 4)
        return "prefix must be 1, 2 or 4";
    lua_getfield(L, idx, "endian");
    const char *endian = lua_isnil(L, -1) ? "big" : lua_tostring(L, -1);
    int big = endian && strcmp(endian, "big") == 0;
    int little = endian && strcmp(endian, "little") == 0;
    lua_pop(L, 1);
    if (!big && !little)
        return "endian must be \"big\" or \"little\"";
    out->kind = FRAMING_PREFIX;
    out->prefix = (uint8_t)prefix;
    out->big_endian = (uint8_t)big;
    return NULL;
}

static const char *framing_table(lua_State *L, int idx, struct framing *out)
{
    long length = field_count(L, idx, "length", MAX_LIMIT);
    long prefix = field_count(L, idx, "prefix", 4);
    lua_getfield(L, idx, "delimiter");
    int has_delim = !lua_isnil(L, -1);
    const char *why = NULL;
    if (has_delim + (length != 0) + (prefix != 0) != 1)
        why = "give exactly one of delimiter, length or prefix";
    else if (has_delim)
        why = framing_delimiter(L, lua_gettop(L), out);
    else if (length > 0)
        out->kind = FRAMING_LENGTH, out->length = (uint32_t)length;
    else if (length < 0)
        why = "length must be a whole number of bytes, at least 1";
    else
        why = framing_prefix(L, idx, prefix, out);
    lua_pop(L, 1);
    return why;
}

const char *lhandler_framing(lua_State *L, int idx, uint32_t max_frame, struct framing *out)
{
    memset(out, 0, sizeof *out);
    out->max_frame = max_frame;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (lua_isnil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING)
        return framing_by_name(lua_tostring(L, idx), out);
    if (!lua_istable(L, idx))
        return "expected \"raw\", \"line\" or a table";
    const char *why = framing_table(L, idx, out);
    if (!why && out->kind == FRAMING_LENGTH && out->length > max_frame)
        why = "length is larger than max_frame";
    return why;
}

/* Takes handler[name] as a registry ref; it must be a function or absent. */
static int take_callback(lua_State *L, int idx, const char *name, int *ref, char *err,
                         size_t errlen)
{
    lua_getfield(L, idx, name);
    *ref = LUA_NOREF;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1)) {
        snprintf(err, errlen, "handler field '%s' must be a function (got %s)", name,
                 luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* handler[name] as a truth value; absent: dflt. */
static int take_flag(lua_State *L, int idx, const char *name, int dflt)
{
    lua_getfield(L, idx, name);
    int v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* handler[name] as a count in 0..max (absent: dflt), or -1 with err set. */
static long take_count(lua_State *L, int idx, const char *name, long dflt, long max, char *err,
                       size_t errlen)
{
    lua_getfield(L, idx, name);
    int absent = lua_isnil(L, -1);
    lua_Number n = lua_tonumber(L, -1);
    int ok = lua_type(L, -1) == LUA_TNUMBER && n >= 0 && n <= max && n == (long)n;
    lua_pop(L, 1);
    if (absent)
        return dflt;
    if (ok)
        return (long)n;
    snprintf(err, errlen, "handler field '%s' must be a whole number from 0 to %ld", name, max);
    return -1;
}

static int read_limits(lua_State *L, int idx, struct conn_config *c, char *err, size_t errlen)
{
    long max_frame =
        take_count(L, idx, "max_frame", FRAMING_DEFAULT_MAX_FRAME, MAX_LIMIT, err, errlen);
    long idle = take_count(L, idx, "idle_timeout", 0, MAX_LIMIT, err, errlen);
    long connect = take_count(L, idx, "connect_timeout", 10000, MAX_LIMIT, err, errlen);
    long high = take_count(L, idx, "high_water", CONN_DEFAULT_HIGH_WATER, MAX_LIMIT, err, errlen);
    long low = take_count(L, idx, "low_water", high / 4, MAX_LIMIT, err, errlen);
    if (max_frame < 0 || idle < 0 || connect < 0 || high < 0 || low < 0)
        return -1;
    if (low > high) {
        snprintf(err, errlen, "handler field 'low_water' must not be above high_water");
        return -1;
    }
    c->framing.max_frame = (uint32_t)max_frame;
    c->idle_timeout_ms = (uint32_t)idle;
    c->connect_timeout_ms = (uint32_t)connect;
    c->high_water = (size_t)high;
    c->low_water = (size_t)low;
    return 0;
}

/* timeout: the deadline of each callback in ms, 0 for none; absent: --timeout. */
static int read_timeout(lua_State *L, int idx, struct lhandler *h, char *err, size_t errlen)
{
    h->timeout = take_count(L, idx, "timeout", LHANDLER_TIMEOUT_DEFAULT, MAX_LIMIT, err, errlen);
    return h->timeout == -1 ? -1 : 0;
}

static int read_framing(lua_State *L, int idx, struct conn_config *c, char *err, size_t errlen)
{
    lua_getfield(L, idx, "framing");
    const char *why = lhandler_framing(L, -1, c->framing.max_frame, &c->framing);
    lua_pop(L, 1);
    if (why)
        snprintf(err, errlen, "handler field 'framing': %s", why);
    return why ? -1 : 0;
}

int lhandler_read(lua_State *L, int idx, struct lhandler *h, char *err, size_t errlen)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    memset(h, 0, sizeof *h);
    h->on_connect = h->on_data = h->on_close = h->on_drain = h->on_eof = h->on_shutdown = LUA_NOREF;
    h->serve = LUA_NOREF;
    if (!lua_istable(L, idx)) {
        snprintf(err, errlen, "handler must be a table (got %s)", luaL_typename(L, idx));
        return -1;
    }
    h->config.keepalive = take_flag(L, idx, "keepalive", 0);
    h->config.pause_on_high_water = take_flag(L, idx, "pause_on_high_water", 1);
    if (take_callback(L, idx, "on_connect", &h->on_connect, err, errlen) < 0 ||
        take_callback(L, idx, "on_data", &h->on_data, err, errlen) < 0 ||
        take_callback(L, idx, "on_close", &h->on_close, err, errlen) < 0 ||
        take_callback(L, idx, "on_drain", &h->on_drain, err, errlen) < 0 ||
        take_callback(L, idx, "on_eof", &h->on_eof, err, errlen) < 0 ||
        take_callback(L, idx, "on_shutdown", &h->on_shutdown, err, errlen) < 0 ||
        take_callback(L, idx, "serve", &h->serve, err, errlen) < 0 ||
        read_limits(L, idx, &h->config, err, errlen) < 0 ||
        read_timeout(L, idx, h, err, errlen) < 0 ||
        read_framing(L, idx, &h->config, err, errlen) < 0) {
        lhandler_unref(L, h);
        return -1;
    }
    h->config.half_close = h->on_eof != LUA_NOREF;
    return 0;
}

void lhandler_unref(lua_State *L, struct lhandler *h)
{
    int *refs[] = {&h->on_connect, &h->on_data,     &h->on_close, &h->on_drain,
                   &h->on_eof,     &h->on_shutdown, &h->serve};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        luaL_unref(L, LUA_REGISTRYINDEX, *refs[i]);
        *refs[i] = LUA_NOREF;
    }
}

static int known_field(const char *name)
{
    for (const char *const *f = known_fields; *f; f++)
        if (strcmp(name, *f) == 0)
            return 1;
    return 0;
}

/* The warning for the unknown field name. */
static void unknown_field(char *buf, size_t len, const char *name)
{
    const char *closest = suggest_closest(name, known_fields);
    if (closest)
        snprintf(buf, len, "handler field '%s' is not known (did you mean '%s'?)", name, closest);
    else
        snprintf(buf, len, "handler field '%s' is not known", name);
}

int lhandler_unknown_fields(lua_State *L, int idx, lhandler_warn_fn warn, void *arg)
{
    char warning[256];
    int n = 0;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (!lua_istable(L, idx))
        return 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || known_field(lua_tostring(L, -2)))
            continue;
        unknown_field(warning, sizeof warning, lua_tostring(L, -2));
        warn(L, warning, arg);
        n++;
    }
    return n;
}

int lhandler_serves(const struct lhandler *h)
{
    return h->on_data != LUA_NOREF || h->serve != LUA_NOREF || h->on_connect != LUA_NOREF;
}
