/* One run of a Lua workload under one allocator, in a fresh process, so the peak
 * resident size (VmHWM) belongs to that allocator alone. Prints one line:
 *   variant wall_seconds cpu_seconds hwm_delta_bytes peak_held_bytes
 * where cpu is user + system time of the process (steadier than wall time on a
 * shared machine), hwm_delta is VmHWM at the end minus VmRSS before the state was
 * made, and peak_held is the most the allocator held from the system (for the
 * built-in allocator when mapped.c is preloaded, else 0; malloc: 0), or for the
 * variant "requested" the most bytes Lua asked for at once. */
#include "bibop.h"

#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The system allocator, as Lua's manual writes it. */
static void *bench_malloc_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* A field of /proc/self/status in bytes, or 0. */
static size_t bench_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0, len = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kib = strtoul(line + len + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kib * 1024;
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The "requested" variant: LuaJIT's allocator, with the peak of the bytes Lua asked
 * for (live and not yet swept) counted on the way. No allocator can hold less. */
static struct {
    lua_Alloc f;
    void *ud;
    size_t bytes, peak;
} requested;

static void *bench_counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    void *p = requested.f(requested.ud, ptr, osize, nsize);
    if (nsize == 0 || p != NULL) {
        requested.bytes = requested.bytes - (ptr ? osize : 0) + nsize;
        if (requested.bytes > requested.peak)
            requested.peak = requested.bytes;
    }
    return p;
}

static lua_State *bench_counting_state(void)
{
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return NULL;
    requested.f = lua_getallocf(L, &requested.ud);
    requested.bytes = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
    requested.peak = requested.bytes;
    lua_setallocf(L, bench_counting_alloc, NULL);
    return L;
}

static lua_State *bench_state(const char *variant, struct bibop_heap **heap)
{
    if (strcmp(variant, "bibop") == 0) {
        *heap = bibop_heap_new(0);
        return *heap ? lua_newstate(bibop_lua_alloc, *heap) : NULL;
    }
    if (strcmp(variant, "builtin") == 0)
        return luaL_newstate();
    if (strcmp(variant, "malloc") == 0)
        return lua_newstate(bench_malloc_alloc, NULL);
    if (strcmp(variant, "requested") == 0)
        return bench_counting_state();
    return NULL;
}

/* Runs script with its arguments in arg[1..], returns 0 or prints the error. */
static int bench_run(lua_State *L, int argc, char **argv)
{
    luaL_openlibs(L);
    lua_createtable(L, argc, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    if (luaL_dofile(L, argv[0]) == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
    return 1;
}

/* What the allocator held at most: the BiBOP heap's count, the built-in allocator's
 * mappings when mapped.c is preloaded, or what Lua asked for; else 0. */
static size_t bench_peak_held(const struct bibop_heap *heap)
{
    if (heap != NULL)
        return bibop_peak_held(heap);
    if (requested.f != NULL)
        return requested.peak;
    size_t (*peak)(void) = (size_t(*)(void))dlsym(RTLD_DEFAULT, "mapped_peak_bytes");
    return peak ? peak() : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: allocbench bibop|builtin|malloc|requested SCRIPT [ARG...]\n");
        return 2;
    }
    struct bibop_heap *heap = NULL;
    size_t rss0 = bench_status_bytes("VmRSS");
    double t0 = bench_now(), c0 = bench_cpu();
    lua_State *L = bench_state(argv[1], &heap);
    if (L == NULL) {
        fprintf(stderr, "allocbench: cannot make a %s state\n", argv[1]);
        return 1;
    }
    int rc = bench_run(L, argc - 2, argv + 2);
    lua_close(L);
    double t1 = bench_now(), c1 = bench_cpu();
    size_t hwm = bench_status_bytes("VmHWM");
    printf("%s %.3f %.3f %zu %zu\n", argv[1], t1 - t0, c1 - c0, hwm - rss0,
           bench_peak_held(heap));
    bibop_heap_free(heap);
    return rc;
}
