/* Allocation-size histogram of a Lua workload under LuaJIT.
 * Runs each script given on the command line in a fresh state whose allocator
 * counts every request by its new size, then prints the sizes by frequency,
 * so the size classes in src/bibop.h are chosen from what LuaJIT asks for. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZES_MAX 65536

static unsigned long sizes_count[SIZES_MAX + 1];
static unsigned long sizes_big;
static unsigned long sizes_total;

/* Counts requests that need a (new or larger) block, then defers to libc. */
static void *sizes_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (ptr == NULL || nsize != osize) {
        sizes_total++;
        if (nsize <= SIZES_MAX)
            sizes_count[nsize]++;
        else
            sizes_big++;
    }
    return realloc(ptr, nsize);
}

static int sizes_run(const char *script)
{
    lua_State *L = lua_newstate(sizes_alloc, NULL);
    if (L == NULL) {
        fprintf(stderr, "lua_newstate failed\n");
        return 1;
    }
    luaL_openlibs(L);
    int rc = luaL_dofile(L, script);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", script, lua_tostring(L, -1));
    lua_close(L);
    return rc;
}

/* Prints every size that makes at least 0.05% of requests, most frequent first. */
static void sizes_print(void)
{
    printf("total requests %lu, above %d bytes %lu\n", sizes_total, SIZES_MAX, sizes_big);
    printf("%8s %10s %7s\n", "size", "count", "share");
    for (;;) {
        size_t best = 0;
        for (size_t s = 1; s <= SIZES_MAX; s++)
            if (sizes_count[s] > sizes_count[best])
                best = s;
        if (sizes_count[best] * 2000 < sizes_total || sizes_count[best] == 0)
            break;
        printf("%8zu %10lu %6.2f%%\n", best, sizes_count[best],
               100.0 * (double)sizes_count[best] / (double)sizes_total);
        sizes_count[best] = 0;
    }
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= sizes_run(argv[i]);
    sizes_print();
    return rc;
}
