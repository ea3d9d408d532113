/* config_file: the --config file, a Lua file that returns a table of settings and
 * listeners, run in a sandbox of its own (no require, no io, no loading of
 * code; os.getenv only; 1 s of CPU at most) before the command line is
 * taken. Each setting is turned into the command-line option of the same
 * name and taken by options.c, so a value means the same in both places;
 * the command line is taken after it, and wins. */
#include "config.h"

#include "config_file.h"

#include "options.h"
#include "suggest.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_CPU_LIMIT_NS 1000000000L
#define KEPT_MAX 256

/* What opts points at once the Lua state is gone: kept for the process's
 * life, reachable from here. */
static char *kept[KEPT_MAX];
static int nkept;

static const char *keep(const char *s)
{
    if (nkept == KEPT_MAX)
        return NULL;
    kept[nkept] = strdup(s);
    return kept[nkept] ? kept[nkept++] : NULL;
}

struct config {
    const char *path;
    char *source; /* the file's text, to find the line a key is on */
    char dir[512];
    struct options *opts;
    char *err;
    size_t errlen;
};

static int is_name_char(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* Where text appears first; as a key (key_only), only where it is a whole
 * name followed by "=", so "timeout" is not found in "shutdown_timeout = 1". */
static const char *find_text(const char *source, const char *text, int key_only)
{
    size_t len = strlen(text);
    for (const char *at = strstr(source, text); at; at = strstr(at + 1, text)) {
        const char *after = at + len;
        while (*after == ' ' || *after == '\t')
            after++;
        if (!key_only || ((at == source || !is_name_char(at[-1])) && *after == '='))
            return at;
    }
    return NULL;
}

/* The line of the file where text first appears (1 when nowhere). */
static int line_of(const struct config *c, const char *text, int key_only)
{
    const char *at = c->source && text && *text ? find_text(c->source, text, key_only) : NULL;
    int line = 1;
    for (const char *p = c->source; at && p < at; p++)
        line += *p == '\n';
    return line;
}

/* An error about key (a path: "listen[2].script") whose value is the string
 * value (or NULL), at the line that shows it. */
static int fail(struct config *c, const char *key, const char *value, const char *why)
{
    char needle[300];
    const char *leaf = strrchr(key, '.');
    leaf = leaf ? leaf + 1 : key;
    if (value)
        snprintf(needle, sizeof needle, "%s", value);
    else
        snprintf(needle, sizeof needle, "%.*s", (int)strcspn(leaf, "["), leaf);
    snprintf(c->err, c->errlen, "%s:%d: %s: %s", c->path, line_of(c, needle, value == NULL), key,
             why);
    return -1;
}

/* A path relative to the config file's directory. */
static const char *resolve(const struct config *c, const char *path)
{
    char full[1024];
    if (path[0] == '/' || !c->dir[0])
        return keep(path);
    snprintf(full, sizeof full, "%s/%s", c->dir, path);
    return keep(full);
}

/* Takes "--name=value" through options.c, naming key on failure. */
static int take(struct config *c, const char *key, const char *name, const char *value)
{
    char arg[1200];
    int at;
    snprintf(arg, sizeof arg, "--%s=%s", name, value);
    const char *kept_arg = keep(arg);
    if (!kept_arg)
        return fail(c, key, NULL, "out of memory");
    char *argv[] = {"moonwire", (char *)kept_arg, NULL};
    char why[512];
    if (options_take(2, argv, c->opts, &at, why, sizeof why) != OPTIONS_RUN)
        return fail(c, key, value, why);
    return 0;
}

/* The value on top of the stack as option text: a string, or a number. */
static const char *scalar(lua_State *L, char *buf, size_t len)
{
    if (lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER)
        return NULL;
    lua_Number n = lua_tonumber(L, -1);
    snprintf(buf, len, n == (lua_Number)(long long)n ? "%.0f" : "%g", (double)n);
    return buf;
}

/* A setting: the key of the file, the option it is, and whether its value is
 * a path (taken relative to the file). */
struct setting {
    const char *key, *option;
    int path;
};

static const struct setting top_settings[] = {
    {"workers", "workers", 0},
    {"timeout", "timeout", 0},
    {"grace", "grace", 0},
    {"shutdown_timeout", "shutdown-timeout", 0},
    {"memory_limit", "memory-limit", 0},
    {"max_conns", "max-conns", 0},
    {"user", "user", 0},
    {"pid_file", "pid-file", 1},
    {"metrics", "metrics", 0},
    {NULL, NULL, 0},
};
static const struct setting log_settings[] = {
    {"level", "log-level", 0},
    {"file", "log-file", 1},
    {"format", "log-format", 0},
    {NULL, NULL, 0},
};
static const char *const top_keys[] = {
    "workers",  "timeout", "grace", "shutdown_timeout", "memory_limit", "max_conns", "user",
    "pid_file", "metrics", "log",   "listen",           "script",       NULL};
static const char *const log_keys[] = {"level", "file", "format", NULL};
static const char *const listen_keys[] = {"addr", "script", "proxy", NULL};

/* Every key of the table at idx is one of known; where (a key path) names it. */
static int known_keys(struct config *c, lua_State *L, int idx, const char *where,
                      const char *const *known)
{
    char key[200], why[200];
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            if (!where[0] || strcmp(where, "listen") != 0)
                return fail(c, where[0] ? where : "(top level)", NULL, "a key that is not a name");
            continue;
        }
        const char *name = lua_tostring(L, -1);
        int found = 0;
        for (int i = 0; known[i] && !found; i++)
            found = strcmp(known[i], name) == 0;
        if (!found) {
            const char *near = suggest_closest(name, known);
            snprintf(key, sizeof key, "%s%s%s", where, where[0] ? "." : "", name);
            if (near)
                snprintf(why, sizeof why, "not a known key (did you mean '%s'?)", near);
            else
                snprintf(why, sizeof why, "not a known key");
            lua_pop(L, 1);
            return fail(c, key, NULL, why);
        }
    }
    return 0;
}

static int take_settings(struct config *c, lua_State *L, int idx, const char *where,
                         const struct setting *settings)
{
    char key[200], num[64];
    for (const struct setting *s = settings; s->key; s++) {
        lua_getfield(L, idx, s->key);
        snprintf(key, sizeof key, "%s%s%s", where, where[0] ? "." : "", s->key);
        int rc = 0;
        if (!lua_isnil(L, -1)) {
            const char *v = scalar(L, num, sizeof num);
            if (!v)
                rc = fail(c, key, NULL, "expected a string or a number");
            else if (s->path && !(v = resolve(c, v)))
                rc = fail(c, key, NULL, "out of memory");
            else
                rc = take(c, key, s->option, v);
        }
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A string field of the table on top, or NULL (an error set when it is there
 * but not a string). */
static const char *string_field(struct config *c, lua_State *L, const char *key, const char *name,
                                int *bad)
{
    lua_getfield(L, -1, name);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!v && !lua_isnil(L, -1))
        *bad = fail(c, key, NULL, "expected a string");
    lua_pop(L, 1);
    return v;
}

/* A script must be there to be served: said now, with the key. */
static const char *script_path(struct config *c, const char *key, const char *script)
{
    const char *path = resolve(c, script);
    if (!path) {
        fail(c, key, NULL, "out of memory");
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        char why[700];
        snprintf(why, sizeof why, "%s '%s'", errno == ENOENT ? "no such file" : strerror(errno),
                 script);
        fail(c, key, script, why);
        return NULL;
    }
    return path;
}

/* listen[i] on top of the stack: { addr = ..., script = ..., proxy = true }. */
static int take_listener(struct config *c, lua_State *L, int i)
{
    char where[64], key[96], spec[1400];
    int bad = 0;
    snprintf(where, sizeof where, "listen[%d]", i);
    if (!lua_istable(L, -1))
        return fail(c, where, NULL, "expected a table { addr = ..., script = ... }");
    if (known_keys(c, L, lua_gettop(L), where, listen_keys) < 0)
        return -1;
    snprintf(key, sizeof key, "%s.addr", where);
    const char *addr = string_field(c, L, key, "addr", &bad);
    if (bad)
        return -1;
    if (!addr)
        return fail(c, where, NULL, "no addr");
    snprintf(key, sizeof key, "%s.script", where);
    const char *script = string_field(c, L, key, "script", &bad);
    if (bad)
        return -1;
    lua_getfield(L, -1, "proxy");
    int proxy = lua_toboolean(L, -1);
    lua_pop(L, 1);
    char local[600];
    snprintf(local, sizeof local, "%s", addr);
    if (strncmp(addr, "unix:", 5) == 0 && addr[5] != '/' && c->dir[0])
        snprintf(local, sizeof local, "unix:%s/%s", c->dir, addr + 5);
    const char *path = script ? script_path(c, key, script) : NULL;
    if (script && !path)
        return -1;
    snprintf(spec, sizeof spec, "%s%s%s%s", local, proxy ? ",proxy" : "", path ? "=" : "",
             path ? path : "");
    snprintf(key, sizeof key, "%s", where);
    return take(c, key, "listen", spec);
}

static int take_listeners(struct config *c, lua_State *L, int idx)
{
    lua_getfield(L, idx, "listen");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1))
        return fail(c, "listen", NULL, "expected a list of { addr = ..., script = ... }");
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int rc = take_listener(c, L, i);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    lua_pop(L, 1);
    c->opts->listen_from_config = n > 0;
    return 0;
}

static int take_table(struct config *c, lua_State *L)
{
    int top = lua_gettop(L);
    if (known_keys(c, L, top, "", top_keys) < 0 || take_settings(c, L, top, "", top_settings) < 0)
        return -1;
    lua_getfield(L, top, "log");
    if (!lua_isnil(L, -1) &&
        (!lua_istable(L, -1) ? fail(c, "log", NULL, "expected a table") < 0
                             : known_keys(c, L, top + 1, "log", log_keys) < 0 ||
                                   take_settings(c, L, top + 1, "log", log_settings) < 0))
        return -1;
    lua_pop(L, 1);
    int bad = 0;
    const char *script = string_field(c, L, "script", "script", &bad);
    if (bad)
        return -1;
    if (script && !(c->opts->script = script_path(c, "script", script)))
        return -1;
    return take_listeners(c, L, top);
}

/* ---- the sandbox ---- */

static struct timespec started;

static long cpu_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (now.tv_sec - started.tv_sec) * 1000000000L + (now.tv_nsec - started.tv_nsec);
}

/* Past the limit, the error names the line that was running. */
static void on_count(lua_State *L, lua_Debug *ar)
{
    if (cpu_ns() <= CONFIG_CPU_LIMIT_NS)
        return;
    if (lua_getstack(L, 0, ar) && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        luaL_error(L, "%s:%d: the file ran past 1 s of CPU (a loop?)", ar->short_src,
                   ar->currentline);
    luaL_error(L, "the file ran past 1 s of CPU (a loop?)");
}

/* Base, string, table and math; of os, getenv; nothing that loads code. */
static int open_sandbox(lua_State *L)
{
    static const lua_CFunction libs[] = {luaopen_base, luaopen_string, luaopen_table, luaopen_math};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i]);
        lua_call(L, 0, 0);
    }
    static const char *const unsafe[] = {"dofile",  "loadfile", "load", "loadstring",
                                         "require", "module",   NULL};
    for (int i = 0; unsafe[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, unsafe[i]);
    }
    lua_newtable(L);
    lua_pushcfunction(L, luaopen_os);
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "getenv");
    lua_setfield(L, -3, "getenv");
    lua_pop(L, 1);
    lua_setglobal(L, "os");
    return 0;
}

/* Runs the file; leaves its table on top of the stack. */
static int run_file(struct config *c, lua_State *L)
{
    if (lua_cpcall(L, open_sandbox, NULL) != 0 ||
        !luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF))
        return fail(c, "(sandbox)", NULL, "cannot set up the sandbox");
    if (luaL_loadfile(L, c->path) != 0) {
        snprintf(c->err, c->errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &started);
    lua_sethook(L, on_count, LUA_MASKCOUNT, 1000);
    if (lua_pcall(L, 0, 1, 0) != 0) {
        snprintf(c->err, c->errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    lua_sethook(L, NULL, 0, 0);
    if (!lua_istable(L, -1)) {
        snprintf(c->err, c->errlen, "%s: the file must return a table (got %s)", c->path,
                 luaL_typename(L, -1));
        return -1;
    }
    return 0;
}

static char *read_source(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (len = (size_t)ftell(f)) < (1u << 24) &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc(len + 1)) && fread(text, 1, len, f) == len)
        text[len] = '\0';
    else
        free(text), text = NULL;
    fclose(f);
    return text;
}

int config_apply(const char *path, struct options *opts, char *err, size_t errlen)
{
    struct config c = {.path = path, .opts = opts, .err = err, .errlen = errlen};
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(c.dir, sizeof c.dir, "%.*s", (int)(slash - path), path);
    if (!(c.source = read_source(path))) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    lua_State *L = luaL_newstate();
    int rc = L ? run_file(&c, L) : fail(&c, "(sandbox)", NULL, "out of memory");
    if (rc == 0)
        rc = take_table(&c, L);
    if (L)
        lua_close(L);
    free(c.source);
    return rc;
}
