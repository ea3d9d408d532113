/* lslots: the slot table and its allocator. A bitmap says which slots are
 * live; slots are taken lowest first, so live values gather at the bottom
 * and the table can be rebuilt smaller once a burst is over. */
#include "config.h"

#include "lslots.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_KEEP 16384 /* a slot table up to this size (128 KiB) is never rebuilt */
#define SLOTS_MIN 64     /* nor rebuilt smaller than this */

static struct {
    int ref;        /* registry ref of the table */
    uint64_t *used; /* bit i: slot i + 1 is live */
    size_t words;
    size_t hint; /* no free bit below this word */
    int top;     /* the highest live slot, 0 when none */
    int size;    /* what the table grew to since it was last rebuilt */
} slots = {LUA_NOREF, NULL, 0, 0, 0, 0};

void lslots_reset(lua_State *L)
{
    lua_newtable(L);
    slots.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    free(slots.used);
    slots.used = NULL;
    slots.words = slots.hint = 0;
    slots.top = slots.size = 0;
}

static int grow_bitmap(void)
{
    size_t words = slots.words ? slots.words * 2 : 16;
    uint64_t *used = realloc(slots.used, words * sizeof *used);
    if (!used)
        return -1;
    memset(used + slots.words, 0, (words - slots.words) * sizeof *used);
    slots.used = used;
    slots.words = words;
    return 0;
}

static int take_lowest_free(void)
{
    while (slots.hint < slots.words && slots.used[slots.hint] == UINT64_MAX)
        slots.hint++;
    if (slots.hint == slots.words && grow_bitmap() < 0)
        return 0;
    int bit = __builtin_ctzll(~slots.used[slots.hint]);
    slots.used[slots.hint] |= UINT64_C(1) << bit;
    int slot = (int)(slots.hint * 64) + bit + 1;
    if (slot > slots.top)
        slots.top = slot;
    if (slot > slots.size)
        slots.size = slot;
    return slot;
}

int lslots_put(lua_State *L)
{
    int slot = lua_isnil(L, -1) ? 0 : take_lowest_free();
    if (slot == 0 && !lua_isnil(L, -1))
        luaL_error(L, "out of memory");
    if (slot == 0) {
        lua_pop(L, 1);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_insert(L, -2);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    return slot;
}

void lslots_push(lua_State *L, int slot)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_rawgeti(L, -1, slot);
    lua_remove(L, -2);
}

static int highest_live(int below)
{
    for (size_t w = (size_t)(below + 63) / 64; w-- > 0;)
        if (slots.used[w])
            return (int)(w * 64) + 64 - __builtin_clzll(slots.used[w]);
    return 0;
}

/* A table's array part never shrinks by itself: when the live slots fit in
 * a quarter of it, they move to a fresh table of their size. */
static int shrink_l(lua_State *L)
{
    int size = SLOTS_MIN; /* a power of two: the same size whatever is left live */
    while (size < slots.top)
        size *= 2;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_createtable(L, size, 0);
    for (int i = 1; i <= slots.top; i++) {
        lua_rawgeti(L, -2, i);
        lua_rawseti(L, -2, i);
    }
    lua_rawseti(L, LUA_REGISTRYINDEX, slots.ref);
    slots.size = size;
    return 0;
}

/* Slots are freed from C outside any Lua call too: the new table is made
 * under protection, and on a full heap the old one is simply kept. */
static void shrink(lua_State *L)
{
    if (slots.size <= SLOTS_KEEP || slots.top > slots.size / 4)
        return;
    if (lua_cpcall(L, shrink_l, NULL) != 0)
        lua_pop(L, 1);
}

void lslots_free(lua_State *L, int slot)
{
    if (slot == 0)
        return;
    size_t w = (size_t)(slot - 1) / 64;
    slots.used[w] &= ~(UINT64_C(1) << ((slot - 1) % 64));
    if (w < slots.hint)
        slots.hint = w;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    if (slot == slots.top) {
        slots.top = highest_live(slot);
        shrink(L);
    }
}
