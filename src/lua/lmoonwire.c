#include "config.h"

#include "lmoonwire.h"

#include "conn.h"
#include "deadline.h"
#include "lcall.h"
#include "lconn.h"
#include "lmetrics.h"
#include "ltask.h"
#include "ltimer.h"
#include "log.h"
#include "luaheap.h"
#include "metrics.h"

#include <event2/event.h>
#include <lauxlib.h>
#include <string.h>
#include <sys/time.h>

static struct event_base *loop_base;
static int worker_id;
static int stopping;

void lmoonwire_set_base(struct event_base *base)
{
    loop_base = base;
}

/* The name of the field whose key, at -2, is not a string: "[1]", "[true]", "[table]". */
static const char *bad_key_name(lua_State *L)
{
    int type = lua_type(L, -2);
    if (type == LUA_TNUMBER)
        return lua_pushfstring(L, "[%f]", lua_tonumber(L, -2));
    if (type == LUA_TBOOLEAN)
        return lua_toboolean(L, -2) ? "[true]" : "[false]";
    return lua_pushfstring(L, "[%s]", luaL_typename(L, -2));
}

/* The value at -1 into f: 0, or -1 when it is not a string, number or boolean. */
static int field_value(lua_State *L, struct log_field *f)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        f->kind = LOG_STRING;
        f->string = lua_tolstring(L, -1, &f->len);
        return 0;
    case LUA_TNUMBER:
        f->kind = LOG_NUMBER;
        f->number = lua_tonumber(L, -1);
        return 0;
    case LUA_TBOOLEAN:
        f->kind = LOG_BOOLEAN;
        f->boolean = lua_toboolean(L, -1);
        return 0;
    default:
        return -1;
    }
}

/* The fields table at t into f (pointing into its strings); raises naming a bad field. */
static size_t check_fields(lua_State *L, int t, struct log_field *f)
{
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1), n++) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, t,
                          lua_pushfstring(L, "field %s: a %s key, expected a string",
                                          bad_key_name(L), luaL_typename(L, -2)));
        const char *key = lua_tostring(L, -2), *why = log_field_key_error(key);
        if (why)
            luaL_argerror(L, t, lua_pushfstring(L, "field '%s': %s", key, why));
        if (n == LOG_MAX_FIELDS)
            luaL_argerror(L, t, lua_pushfstring(L, "more than %d fields", LOG_MAX_FIELDS));
        f[n] = (struct log_field){.key = key};
        if (field_value(L, &f[n]) < 0)
            luaL_argerror(L, t,
                          lua_pushfstring(L,
                                          "field '%s': a %s, expected a string, number or "
                                          "boolean",
                                          key, luaL_typename(L, -1)));
    }
    return n;
}

/* mw.log(level, ...): the values joined by spaces, at the given level; a
 * table after at least one value, last, is the line's fields. */
static int mw_log(lua_State *L)
{
    int level = log_level_parse(luaL_checkstring(L, 1));
    luaL_argcheck(L, level >= 0, 1, "expected error, warn, info or debug");
    int last = lua_gettop(L);
    struct log_field fields[LOG_MAX_FIELDS];
    size_t nfields = 0;
    if (last >= 3 && lua_type(L, last) == LUA_TTABLE)
        nfields = check_fields(L, last--, fields);
    if (!log_enabled(level))
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= last; i++) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (i > 2)
            luaL_addchar(&b, ' ');
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    log_fields(level, lua_tostring(L, -1), fields, nfields);
    return 0;
}

/* mw.now(): the loop's cached time in milliseconds. */
static int mw_now(lua_State *L)
{
    struct timeval tv;
    if (!loop_base || event_base_gettimeofday_cached(loop_base, &tv) < 0)
        gettimeofday(&tv, NULL);
    lua_pushnumber(L, (double)tv.tv_sec * 1000.0 + (double)(tv.tv_usec / 1000));
    return 1;
}

void lmoonwire_set_worker_id(int id)
{
    worker_id = id;
}

void lmoonwire_set_stopping(void)
{
    stopping = 1;
}

/* mw.stopping(): true once this worker drains (a stop or a reload). */
static int mw_stopping(lua_State *L)
{
    lua_pushboolean(L, stopping);
    return 1;
}

/* mw.worker_id(): this worker's number, 0..N-1; a replacement keeps it. */
static int mw_worker_id(lua_State *L)
{
    lua_pushinteger(L, worker_id);
    return 1;
}

static void set_number(lua_State *L, const char *name, double value)
{
    lua_pushnumber(L, value);
    lua_setfield(L, -2, name);
}

/* The share of one listener's connections (of outbound ones: NULL). */
static void listener_figures(const char *listener, const struct conn_stats *s, void *arg)
{
    struct metrics_figures *f = arg;
    int row = listener ? metrics_listener_index(listener) : METRICS_OUTBOUND;
    if (row < 0)
        return;
    f->by_listener[row][METRICS_FIG_connections] += s->open;
    f->by_listener[row][METRICS_FIG_accepted] += s->accepted;
    f->by_listener[row][METRICS_FIG_bytes_in] += s->bytes_in;
    f->by_listener[row][METRICS_FIG_bytes_out] += s->bytes_out;
    f->by_listener[row][METRICS_FIG_frames] += s->frames;
}

void lmoonwire_figures(struct metrics_figures *f)
{
    struct conn_stats cs;
    conn_get_stats(&cs);
    *f = (struct metrics_figures){.connections = conn_count(),
                                  .accepted = cs.accepted,
                                  .bytes_in = cs.bytes_in,
                                  .bytes_out = cs.bytes_out,
                                  .frames = cs.frames,
                                  .handler_errors = lconn_handler_errors(),
                                  .deadline_hits = deadline_hits(),
                                  .heap_in_use = luaheap_in_use(),
                                  .heap_held = luaheap_held(),
                                  .tasks = ltask_count(),
                                  .timers = ltimer_count()};
    conn_each_listener_stats(listener_figures, f);
}

/* mw.stats(): this worker's figures, the ones --metrics sums over workers. */
static int mw_stats(lua_State *L)
{
    struct metrics_figures f;
    lmoonwire_figures(&f);
    lua_createtable(L, 0, METRICS_NFIGURES);
    for (size_t k = 0; k < METRICS_NFIGURES; k++)
        set_number(L, metrics_key(k), (double)metrics_figure(&f, k));
    return 1;
}

/* mw.deadline(ms): the running entry must end ms from now (0: no deadline).
 * mw.deadline(): the ms left, or nil when it has none. */
static int mw_deadline(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        long left = deadline_remaining_ms();
        if (left < 0)
            lua_pushnil(L);
        else
            lua_pushnumber(L, (lua_Number)left);
        return 1;
    }
    lua_Number ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 86400000, 1, "expected milliseconds from 0 to 86400000");
    if (deadline_set((long)ms) < 0)
        return luaL_error(L, "deadline: not inside a callback, or deadlines cannot start");
    return 0;
}

static const luaL_Reg moonwire_functions[] = {
    {"log", mw_log},     {"now", mw_now},           {"worker_id", mw_worker_id},
    {"stats", mw_stats}, {"deadline", mw_deadline}, {"stopping", mw_stopping},
    {NULL, NULL},
};

int luaopen_moonwire(lua_State *L)
{
    lcall_prepare(L); /* while the heap has room: every entry uses them */
    lua_newtable(L);
    luaL_register(L, NULL, moonwire_functions);
    lua_pushliteral(L, PACKAGE_VERSION);
    lua_setfield(L, -2, "version");
    lconn_register(L);
    ltask_register(L);
    ltimer_register(L);
    lmetrics_register(L);
    return 1;
}

void lmoonwire_open(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushcfunction(L, luaopen_moonwire);
    lua_call(L, 0, 1);
    lua_setfield(L, -2, "moonwire");
    lua_pop(L, 2);
}
