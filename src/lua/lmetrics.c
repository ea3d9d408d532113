#include "config.h"

#include "lmetrics.h"

#include "lbox.h"
#include "metrics.h"

#include <float.h>
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#define ERR_MAX 512

static const char COUNTER_META[] = "moonwire.counter";
static const char GAUGE_META[] = "moonwire.gauge";
static const char HISTOGRAM_META[] = "moonwire.histogram";

struct lmetric {
    int metric;
    int series; /* the one series of a metric without labels; else -1 */
};

/* Metrics are declared as the script loads: a main chunk (the script's, or
 * that of a module it requires) is running. */
static int at_top_level(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++)
        if (lua_getinfo(L, "S", &ar) && strcmp(ar.what, "main") == 0)
            return 1;
    return 0;
}

/* The string at idx, which must hold no NUL. */
static const char *check_text(lua_State *L, int idx)
{
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    luaL_argcheck(L, strlen(s) == len, idx, "a text without NUL expected");
    return s;
}

/* The label names at idx (nil: none) into names; their number. */
static size_t check_label_names(lua_State *L, int idx, const char **names)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t n = lua_objlen(L, idx);
    luaL_argcheck(L, n <= METRICS_MAX_LABELS, idx,
                  lua_pushfstring(L, "at most %d labels", METRICS_MAX_LABELS));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (int)i + 1);
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, idx, "label names are strings");
        names[i] = lua_tostring(L, -1); /* the table keeps it */
        lua_pop(L, 1);
    }
    return n;
}

/* The bucket bounds at idx into bounds, a last +Inf left out (implied);
 * their number. */
static size_t check_buckets(lua_State *L, int idx, double *bounds)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t n = lua_objlen(L, idx), count = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER, idx, "buckets are numbers");
        double bound = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (i == n && bound == HUGE_VAL)
            break;
        luaL_argcheck(L, count < METRICS_MAX_BUCKETS, idx,
                      lua_pushfstring(L, "at most %d buckets", METRICS_MAX_BUCKETS));
        bounds[count++] = bound;
    }
    return count;
}

static int declare(lua_State *L, enum metrics_kind kind, const char *meta)
{
    const char *labels[METRICS_MAX_LABELS];
    double buckets[METRICS_MAX_BUCKETS];
    char err[ERR_MAX];
    struct metrics_decl d = {.kind = kind, .labels = labels, .buckets = buckets};
    d.name = check_text(L, 1);
    d.help = check_text(L, 2);
    if (kind == METRICS_HISTOGRAM)
        d.nbuckets = check_buckets(L, 3, buckets);
    d.nlabels = check_label_names(L, kind == METRICS_HISTOGRAM ? 4 : 3, labels);
    if (!at_top_level(L))
        return luaL_error(L, "metric '%s': metrics are declared at the script's top level", d.name);
    int m = metrics_declare(&d, err, sizeof err);
    if (m < 0)
        return luaL_error(L, "%s", err);
    struct lmetric *b = lua_newuserdata(L, sizeof *b);
    b->metric = m;
    b->series = d.nlabels ? -1 : metrics_series(m, NULL, NULL, err, sizeof err);
    lbox_pushmetatable(L, meta);
    lua_setmetatable(L, -2);
    return 1;
}

/* mw.metrics.counter(name, help [, label_names]) */
static int mw_counter(lua_State *L)
{
    return declare(L, METRICS_COUNTER, COUNTER_META);
}

/* mw.metrics.gauge(name, help [, label_names]) */
static int mw_gauge(lua_State *L)
{
    return declare(L, METRICS_GAUGE, GAUGE_META);
}

/* mw.metrics.histogram(name, help, buckets [, label_names]) */
static int mw_histogram(lua_State *L)
{
    return declare(L, METRICS_HISTOGRAM, HISTOGRAM_META);
}

/* Every key of the labels at idx is one of metric's n label names. */
static void check_label_keys(lua_State *L, int idx, int metric, size_t n)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t i = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, idx, "labels are named by strings");
        while (i < n && strcmp(lua_tostring(L, -1), metrics_label(metric, i)) != 0)
            i++;
        if (i == n)
            luaL_argerror(
                L, idx,
                lua_pushfstring(L, "label '%s' is not one of the metric's", lua_tostring(L, -1)));
    }
}

/* The series the labels at idx name: a value (string or number) for each
 * of the metric's labels, and no other. */
static int series_of(lua_State *L, const struct lmetric *b, int idx)
{
    const char *values[METRICS_MAX_LABELS];
    size_t lens[METRICS_MAX_LABELS], n = metrics_nlabels(b->metric);
    char err[ERR_MAX];
    if (n == 0 && lua_isnoneornil(L, idx))
        return b->series;
    if (!lua_istable(L, idx))
        lbox_typeerror(L, idx, n ? "table of labels" : "no labels");
    check_label_keys(L, idx, b->metric, n);
    for (size_t i = 0; i < n; i++) {
        const char *label = metrics_label(b->metric, i);
        lua_getfield(L, idx, label);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "label '%s' %s", label,
                                          lua_isnil(L, -1) ? "missing" : "is not a string"));
        values[i] = lua_tolstring(L, -1, &lens[i]); /* kept on the stack */
    }
    int series = n ? metrics_series(b->metric, values, lens, err, sizeof err) : b->series;
    if (series < 0)
        return luaL_error(L, "%s", err);
    lua_pop(L, (int)n);
    return series;
}

/* counter:inc([n [, labels]]): up by n (default 1), finite and not negative. */
static int counter_inc(lua_State *L)
{
    struct lmetric *b = lbox_check(L, 1, COUNTER_META, "counter");
    double n = luaL_optnumber(L, 2, 1);
    luaL_argcheck(L, n >= 0 && n <= DBL_MAX, 2, "a finite number not below 0 expected");
    metrics_add(series_of(L, b, 3), n);
    return 0;
}

/* gauge:set(v [, labels]) */
static int gauge_set(lua_State *L)
{
    struct lmetric *b = lbox_check(L, 1, GAUGE_META, "gauge");
    double v = luaL_checknumber(L, 2);
    metrics_set(series_of(L, b, 3), v);
    return 0;
}

/* gauge:inc([n [, labels]]) and gauge:dec([n [, labels]]): by n, default 1. */
static int gauge_move(lua_State *L, double sign)
{
    struct lmetric *b = lbox_check(L, 1, GAUGE_META, "gauge");
    double n = luaL_optnumber(L, 2, 1);
    metrics_add(series_of(L, b, 3), sign * n);
    return 0;
}

static int gauge_inc(lua_State *L)
{
    return gauge_move(L, 1);
}

static int gauge_dec(lua_State *L)
{
    return gauge_move(L, -1);
}

/* histogram:observe(v [, labels]) */
static int histogram_observe(lua_State *L)
{
    struct lmetric *b = lbox_check(L, 1, HISTOGRAM_META, "histogram");
    double v = luaL_checknumber(L, 2);
    luaL_argcheck(L, !isnan(v), 2, "a number expected, not NaN");
    metrics_observe(series_of(L, b, 3), v);
    return 0;
}

static const luaL_Reg counter_methods[] = {{"inc", counter_inc}, {NULL, NULL}};
static const luaL_Reg gauge_methods[] = {
    {"set", gauge_set}, {"inc", gauge_inc}, {"dec", gauge_dec}, {NULL, NULL}};
static const luaL_Reg histogram_methods[] = {{"observe", histogram_observe}, {NULL, NULL}};

static const luaL_Reg metrics_functions[] = {
    {"counter", mw_counter}, {"gauge", mw_gauge}, {"histogram", mw_histogram}, {NULL, NULL}};

static void register_type(lua_State *L, const char *meta, const char *name, const luaL_Reg *methods)
{
    if (lbox_newmetatable(L, meta, name)) {
        lua_newtable(L);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        lua_pop(L, 1);
    }
}

void lmetrics_register(lua_State *L)
{
    register_type(L, COUNTER_META, "counter", counter_methods);
    register_type(L, GAUGE_META, "gauge", gauge_methods);
    register_type(L, HISTOGRAM_META, "histogram", histogram_methods);
    lua_newtable(L);
    luaL_register(L, NULL, metrics_functions);
    lua_setfield(L, -2, "metrics");
}
