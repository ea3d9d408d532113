/* One LuaJIT state for a fuzz target of a Lua protocol library: package.path
 * is the source tree's lua/ and t/fuzz/, the JIT is off (hooks are not called
 * from compiled code), and a hook does two things: on every new line it
 * counts the edge from the last line in an extra-counters array libFuzzer
 * reads as coverage (it sees none of the Lua code otherwise: LuaJIT is not
 * instrumented), and every 10,000 instructions it aborts an input that has
 * run for more than a second of CPU time (more for an input that grows:
 * fuzz_allow). With MW_FUZZ_LINES=FILE set, the
 * lines run are written to FILE at exit, as "chunk:line", to see what a
 * corpus reaches (t/fuzz/RESULTS-fuzz.md). */
#include "fuzz_lua.h"

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

#define COUNTERS (1u << 14)
#define HANG_NS 1000000000L
/* What fuzz_allow grants per byte: the slowest linear pass seen under these
 * hooks, with the JIT off (resp.lua's quoted inline argument, char by
 * char), costs 1.4 us a byte; a quadratic one on 64 KiB would take minutes. */
#define ALLOW_NS_PER_BYTE 5000L

/* libFuzzer counts a feature for each counter set, and each new bucket of its value. */
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t counters[COUNTERS];

static lua_State *fuzz_L;
static int fuzz_ref;
static uint32_t last_line;
static struct timespec started;
static long limit_ns;

/* The lines run, for MW_FUZZ_LINES: a bit per line of a few chunks. */
#define SEEN_CHUNKS 16
#define SEEN_LINES 4096
static struct {
    char *name;
    uint8_t bits[SEEN_LINES / 8];
} seen[SEEN_CHUNKS];
static const char *seen_file;

static void seen_mark(const char *source, int line)
{
    if (line <= 0 || line >= SEEN_LINES)
        return;
    for (int i = 0; i < SEEN_CHUNKS; i++) {
        if (!seen[i].name && !(seen[i].name = strdup(source)))
            return;
        if (strcmp(seen[i].name, source) == 0) {
            seen[i].bits[line / 8] |= (uint8_t)(1u << (line % 8));
            return;
        }
    }
}

static void seen_write(void)
{
    FILE *f = fopen(seen_file, "w");
    if (!f) {
        perror(seen_file);
        return;
    }
    for (int i = 0; i < SEEN_CHUNKS && seen[i].name; i++)
        for (int line = 1; line < SEEN_LINES; line++)
            if (seen[i].bits[line / 8] & (1u << (line % 8)))
                fprintf(f, "%s:%d\n", seen[i].name + (seen[i].name[0] == '@'), line);
    if (fclose(f) != 0)
        perror(seen_file);
}

static long cpu_ns_since(const struct timespec *t0)
{
    struct timespec now;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) {
        perror("clock_gettime");
        abort();
    }
    return (now.tv_sec - t0->tv_sec) * 1000000000L + (now.tv_nsec - t0->tv_nsec);
}

/* FNV-1a of the chunk's file name (without its directory) and the line: the
 * same in every process and source tree, so a merge or a replay sees the
 * features the fuzzing run saw. */
static uint32_t line_hash(const char *source, int line)
{
    uint32_t h = 2166136261u;
    const char *slash = strrchr(source, '/');
    for (const char *c = slash ? slash + 1 : source; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    return (h ^ (uint32_t)line) * 16777619u;
}

static void hang(lua_State *L, long ns)
{
    luaL_traceback(L, L, NULL, 0);
    fprintf(stderr, "fuzz_lua: an input ran %ld ms of CPU time (limit %ld ms)\n%s\n", ns / 1000000,
            limit_ns / 1000000, lua_tostring(L, -1));
    abort();
}

static void on_hook(lua_State *L, lua_Debug *ar)
{
    if (ar->event == LUA_HOOKLINE) {
        if (!lua_getinfo(L, "S", ar))
            return;
        uint32_t here = line_hash(ar->source, ar->currentline);
        counters[(here ^ last_line) % COUNTERS]++;
        last_line = here >> 1;
        if (seen_file)
            seen_mark(ar->source, ar->currentline);
        return;
    }
    long ns = fuzz_L ? cpu_ns_since(&started) : 0; /* not while loading */
    if (ns > limit_ns)
        hang(L, ns);
}

/* fuzz_allow(bytes): the input expanded into that many bytes more (fakeconn's
 * inflate), which may take their time: the limit grows with them. */
static int fuzz_allow(lua_State *L)
{
    lua_Number bytes = luaL_checknumber(L, 1);
    luaL_argcheck(L, bytes >= 0 && bytes <= 1 << 24, 1, "0 to 16 MiB");
    limit_ns += (long)bytes * ALLOW_NS_PER_BYTE;
    return 0;
}

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

static void fail(lua_State *L, const char *what)
{
    fprintf(stderr, "fuzz_lua: %s: %s\n", what, lua_tostring(L, -1));
    abort();
}

/* package.path: MW_SRCDIR (else the configured source tree) lua/ and t/fuzz/. */
static void set_path(lua_State *L)
{
    const char *src = getenv("MW_SRCDIR");
    if (!src || !*src)
        src = FUZZ_SRCDIR;
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lua/?.lua;%s/t/fuzz/?.lua", src, src);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

void fuzz_lua_init(const char *glue)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fputs("fuzz_lua: no memory for a Lua state\n", stderr);
        exit(1);
    }
    luaL_openlibs(L);
    if (!luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF))
        fail(L, "turning the JIT off");
    set_path(L);
    lua_register(L, "fuzz_allow", fuzz_allow);
    if ((seen_file = getenv("MW_FUZZ_LINES")) && atexit(seen_write) != 0)
        seen_file = NULL;
    lua_sethook(L, on_hook, LUA_MASKLINE | LUA_MASKCOUNT, 10000);
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushstring(L, glue);
    if (lua_pcall(L, 1, 1, -3) != 0 || !lua_isfunction(L, -1)) {
        fprintf(stderr, "fuzz_lua: require \"%s\" gave no function: %s\n", glue,
                lua_tostring(L, -1));
        exit(1);
    }
    fuzz_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    fuzz_L = L;
}

void fuzz_lua_run(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_L;
    last_line = 0;
    limit_ns = HANG_NS;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &started) != 0) {
        perror("clock_gettime");
        abort();
    }
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, -3) != 0)
        fail(L, "error");
    lua_pop(L, 1);
    /* Time spent in C functions (string.find, string.match) sees no hook. */
    long ns = cpu_ns_since(&started);
    if (ns > limit_ns)
        hang(L, ns);
}
