#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "bibop.h"
#include "check_main.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GC64_LIMIT ((uintptr_t)1 << 47)

static struct bibop_heap *heap;

static void heap_setup(void)
{
    heap = bibop_heap_new(0);
    ck_assert_ptr_nonnull(heap);
}

static void heap_teardown(void)
{
    bibop_heap_free(heap);
    heap = NULL;
}

static void *lalloc(void *ptr, size_t osize, size_t nsize)
{
    return bibop_lua_alloc(heap, ptr, osize, nsize);
}

static void fill(void *p, size_t n, unsigned seed)
{
    memset(p, (int)(seed & 0xff), n);
}

/* True if the first n bytes at p all hold the byte fill() wrote for seed. */
static int holds(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed & 0xff))
            return 0;
    return 1;
}

START_TEST(test_every_class_allocs_reallocs_and_frees)
{
    for (unsigned i = 0; i < bibop_class_count(); i++) {
        size_t size = bibop_class_size(i);
        char *p = lalloc(NULL, 0, size);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(bibop_kind_of(p), BIBOP_KIND_SMALL);
        ck_assert_uint_eq((uintptr_t)p % (size % 8 == 0 ? 8 : 4), 0);
        fill(p, size, i);
        size_t least = i > 0 ? bibop_class_size(i - 1) + 1 : 1; /* least of this class */
        ck_assert_ptr_eq(lalloc(p, size, least), p);
        ck_assert_ptr_eq(lalloc(p, least, size), p);
        fill(p, size, i);
        size_t bigger = size + 1;
        char *q = lalloc(p, size, bigger);
        ck_assert_ptr_nonnull(q);
        ck_assert_ptr_ne(q, p);
        ck_assert(holds(q, size, i));
        ck_assert_uint_eq(bibop_in_use(heap), bigger);
        ck_assert_ptr_null(lalloc(q, bigger, 0));
        ck_assert_uint_eq(bibop_in_use(heap), 0);
    }
}
END_TEST

/* LuaJIT's objects with 8-byte fields have sizes that are multiples of 8: those must
 * come 8-byte aligned, whichever slot of a page they land in. */
START_TEST(test_multiples_of_8_come_8_aligned)
{
    for (size_t size = 8; size <= 2048; size += 8) {
        char *p[3];
        for (int i = 0; i < 3; i++) {
            p[i] = lalloc(NULL, 0, size);
            ck_assert_uint_eq((uintptr_t)p[i] % 8, 0);
        }
        for (int i = 0; i < 3; i++)
            lalloc(p[i], size, 0);
    }
    ck_assert_uint_eq(bibop_in_use(heap), 0);
}
END_TEST

/* A string of 16-19 bytes (44 with LuaJIT's header) takes 44 bytes, not 48. */
START_TEST(test_short_strings_pack_by_4)
{
#if defined(__x86_64__) || defined(__aarch64__)
    char *p = lalloc(NULL, 0, 44), *q = lalloc(NULL, 0, 44);
    ck_assert_uint_eq((size_t)(q > p ? q - p : p - q), 44);
    lalloc(p, 44, 0);
    lalloc(q, 44, 0);
#else
    ck_assert_uint_eq(bibop_class_size(5), 48);
#endif
}
END_TEST

START_TEST(test_large_blocks_grow_shrink_and_keep_contents)
{
    size_t held0 = bibop_held(heap);
    char *p = lalloc(NULL, 0, BIBOP_MAX_CLASS + 1);
    ck_assert_int_eq(bibop_kind_of(p), BIBOP_KIND_LARGE);
    fill(p, BIBOP_MAX_CLASS + 1, 7);
    p = lalloc(p, BIBOP_MAX_CLASS + 1, 1000000);
    ck_assert(holds(p, BIBOP_MAX_CLASS + 1, 7));
    fill(p, 1000000, 9);
    ck_assert_uint_ge(bibop_held(heap), held0 + 1000000);
    p = lalloc(p, 1000000, 100);
    ck_assert_int_eq(bibop_kind_of(p), BIBOP_KIND_SMALL);
    ck_assert(holds(p, 100, 9));
    lalloc(p, 100, 0);
    ck_assert_uint_eq(bibop_in_use(heap), 0);
    ck_assert_uint_le(bibop_held(heap), held0 + BIBOP_PAGE_SIZE);
}
END_TEST

/* The model of the randomised test: what should be live, where, and with what. */
#define MODEL_SLOTS 4096
struct model_block {
    char *p;
    size_t size;
    unsigned seed;
};
static struct model_block model[MODEL_SLOTS];

/* Mostly the small sizes Lua asks for, sometimes mid-sized, rarely large. */
static size_t random_size(void)
{
    unsigned r = (unsigned)rand();
    if (r % 1000 == 0)
        return BIBOP_MAX_CLASS - 4096 + (size_t)(rand() % 100000);
    if (r % 50 == 0)
        return 1 + (size_t)(rand() % 20000);
    return 1 + (size_t)(rand() % 400);
}

static int by_address(const void *a, const void *b)
{
    const struct model_block *x = a, *y = b;
    return (x->p > y->p) - (x->p < y->p);
}

/* Sorts a copy of the live blocks by address: each must end before the next begins. */
static void check_no_overlap(void)
{
    static struct model_block sorted[MODEL_SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < MODEL_SLOTS; i++)
        if (model[i].p != NULL)
            sorted[n++] = model[i];
    qsort(sorted, n, sizeof sorted[0], by_address);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(sorted[i - 1].p + sorted[i - 1].size <= sorted[i].p, "blocks overlap");
}

static void model_step(struct model_block *b, unsigned seed)
{
    size_t nsize = (rand() % 3 == 0) ? 0 : random_size();
    if (b->p != NULL)
        ck_assert_msg(holds(b->p, b->size, b->seed), "block %p changed", (void *)b->p);
    char *p = lalloc(b->p, b->size, nsize);
    if (nsize == 0) {
        ck_assert_ptr_null(p);
        b->p = NULL, b->size = 0;
        return;
    }
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_lt((uintptr_t)p + nsize, GC64_LIMIT);
    if (b->p != NULL)
        ck_assert(holds(p, b->size < nsize ? b->size : nsize, b->seed));
    fill(p, nsize, seed);
    *b = (struct model_block){p, nsize, seed};
}

START_TEST(test_million_random_operations_match_the_model)
{
    srand(4);
    memset(model, 0, sizeof model);
    for (unsigned op = 1; op <= 1000000; op++) {
        model_step(&model[(unsigned)rand() % MODEL_SLOTS], op);
        if (op % 100000 == 0)
            check_no_overlap();
    }
    size_t live = 0;
    for (size_t i = 0; i < MODEL_SLOTS; i++) {
        live += model[i].size;
        if (model[i].p != NULL)
            lalloc(model[i].p, model[i].size, 0);
    }
    ck_assert_uint_gt(live, 0);
    ck_assert_uint_eq(bibop_in_use(heap), 0);
    bibop_heap_trim(heap);
    ck_assert_uint_le(bibop_held(heap), BIBOP_RESERVE * BIBOP_PAGE_SIZE);
}
END_TEST

enum { EMPTIED_BLOCKS = 40000 };

/* Fills pages with 64-byte blocks, frees them all, and returns the bytes held full. */
static size_t fill_and_empty_pages(void)
{
    static void *blocks[EMPTIED_BLOCKS];
    for (size_t i = 0; i < EMPTIED_BLOCKS; i++)
        blocks[i] = lalloc(NULL, 0, 64);
    size_t full = bibop_held(heap);
    ck_assert_uint_ge(full, (size_t)EMPTIED_BLOCKS * 64);
    for (size_t i = 0; i < EMPTIED_BLOCKS; i++)
        lalloc(blocks[i], 64, 0);
    ck_assert_uint_eq(bibop_in_use(heap), 0);
    return full;
}

START_TEST(test_empty_pages_are_kept_for_reuse)
{
    size_t full = fill_and_empty_pages();
    ck_assert_uint_gt(bibop_held(heap), full / 2);
    fill_and_empty_pages();
    ck_assert_uint_eq(bibop_peak_held(heap), full);
}
END_TEST

START_TEST(test_empty_pages_go_back_on_trim)
{
    size_t full = fill_and_empty_pages();
    bibop_heap_trim(heap);
    ck_assert_uint_le(bibop_held(heap), BIBOP_RESERVE * BIBOP_PAGE_SIZE);
    ck_assert_uint_lt(bibop_held(heap), full / 4);
    ck_assert_uint_eq(bibop_peak_held(heap), full);
}
END_TEST

/* Pages go back after they were not needed for a whole period: between one and two
 * periods after they emptied. */
START_TEST(test_unneeded_empty_pages_decay)
{
    size_t full = fill_and_empty_pages();
    for (int period = 0; period < 2; period++) {
        usleep((BIBOP_DECAY_MS + 20) * 1000);
        bibop_heap_decay(heap);
    }
    ck_assert_uint_le(bibop_held(heap), BIBOP_RESERVE * BIBOP_PAGE_SIZE);
    ck_assert_uint_lt(bibop_held(heap), full / 4);
}
END_TEST

START_TEST(test_large_block_takes_the_reserve_not_a_new_peak)
{
    size_t full = fill_and_empty_pages();
    char *p = lalloc(NULL, 0, full / 2);
    ck_assert_int_eq(bibop_kind_of(p), BIBOP_KIND_LARGE);
    fill(p, full / 2, 3);
    p = lalloc(p, full / 2, full - 4 * BIBOP_PAGE_SIZE);
    ck_assert(holds(p, full / 2, 3));
    ck_assert_uint_eq(bibop_peak_held(heap), full);
    ck_assert_uint_le(bibop_held(heap), full);
    lalloc(p, full - 4 * BIBOP_PAGE_SIZE, 0);
}
END_TEST

START_TEST(test_freed_page_reads_as_free)
{
    void *p = lalloc(NULL, 0, 24);
    void *q = lalloc(NULL, 0, 40);
    ck_assert_int_eq(bibop_kind_of(q), BIBOP_KIND_SMALL);
    lalloc(q, 40, 0);
    bibop_heap_free(heap);
    heap = bibop_heap_new(0);
    ck_assert_int_eq(bibop_kind_of(p), BIBOP_KIND_FREE);
    ck_assert_int_eq(bibop_kind_of(NULL), BIBOP_KIND_FREE);
}
END_TEST

START_TEST(test_limit_refuses_growth_but_not_frees_or_shrinks)
{
    bibop_set_limit(heap, 100000);
    ck_assert_uint_eq(bibop_limit(heap), 100000);
    void *a = lalloc(NULL, 0, 60000);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(lalloc(NULL, 0, 50000));
    ck_assert_ptr_null(lalloc(a, 60000, 100001));
    ck_assert_uint_eq(bibop_in_use(heap), 60000);
    a = lalloc(a, 60000, 1000);
    ck_assert_ptr_nonnull(a);
    void *b = lalloc(NULL, 0, 99000);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(bibop_in_use(heap), 100000);
    ck_assert_ptr_null(lalloc(NULL, 0, 1));
    bibop_set_limit(heap, 0);
    void *c = lalloc(NULL, 0, 1);
    ck_assert_ptr_nonnull(c);
    lalloc(a, 1000, 0), lalloc(b, 99000, 0), lalloc(c, 1, 0);
}
END_TEST

START_TEST(test_boxes_are_not_refused_by_the_limit)
{
    bibop_set_limit(heap, 1);
    uint32_t gen;
    void *conn = bibop_box_new(heap, BIBOP_KIND_CONN, 200, &gen);
    ck_assert_ptr_nonnull(conn);
    ck_assert_uint_eq(bibop_in_use(heap), 200); /* the slot: 200 rounded to 8 */
    ck_assert_uint_ge(bibop_held(heap), BIBOP_PAGE_SIZE);
    bibop_box_free(conn);
    ck_assert_uint_eq(bibop_in_use(heap), 0);
}
END_TEST

static lua_State *lua_on_heap(void)
{
    lua_State *L = lua_newstate(bibop_lua_alloc, heap);
    ck_assert_ptr_nonnull(L);
    luaL_openlibs(L);
    return L;
}

/* The limit in a Lua state: the script that asks too much gets "not enough memory"
 * from pcall, and the state goes on working. */
START_TEST(test_lua_memory_error_at_the_limit)
{
    lua_State *L = lua_on_heap();
    bibop_set_limit(heap, bibop_in_use(heap) + 2000000);
    const char *script = "local ok, err = pcall(function() local t = {} "
                         "for i = 1, 1e7 do t[i] = {i} end end) "
                         "collectgarbage() return ok, err, #string.rep('x', 1000)";
    ck_assert_int_eq(luaL_dostring(L, script), 0);
    ck_assert(!lua_toboolean(L, -3));
    ck_assert_str_eq(lua_tostring(L, -2), "not enough memory");
    ck_assert_int_eq(lua_tointeger(L, -1), 1000);
    ck_assert_uint_le(bibop_in_use(heap), bibop_limit(heap));
    lua_close(L);
}
END_TEST

/* in_use is exactly what Lua counts, and a closed state leaves nothing in use. */
START_TEST(test_lua_state_accounting_matches_lua)
{
    lua_State *L = lua_on_heap();
    const char *script = "local t = {} for i = 1, 100000 do t[i] = 'k' .. i end "
                         "local f = {} for i = 1, 1000 do f[i] = function() return i end end "
                         "return #t";
    ck_assert_int_eq(luaL_dostring(L, script), 0);
    size_t lua_bytes = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + lua_gc(L, LUA_GCCOUNTB, 0);
    ck_assert_uint_eq(bibop_in_use(heap), lua_bytes);
    ck_assert_uint_ge(bibop_held(heap), bibop_in_use(heap));
    lua_close(L);
    ck_assert_uint_eq(bibop_in_use(heap), 0);
}
END_TEST

START_TEST(test_kind_of_every_kind)
{
    static const int kinds[] = {BIBOP_KIND_CONN, BIBOP_KIND_LISTENER, BIBOP_KIND_TIMER,
                                BIBOP_KIND_TASK};
    static const char *const names[] = {"connection", "listener", "timer", "task"};
    void *small = lalloc(NULL, 0, 40), *large = lalloc(NULL, 0, 200000);
    ck_assert_int_eq(bibop_kind_of(small), BIBOP_KIND_SMALL);
    ck_assert_int_eq(bibop_kind_of(large), BIBOP_KIND_LARGE);
    for (size_t i = 0; i < 4; i++) {
        void *box = bibop_box_new(heap, kinds[i], 64 + 32 * i, NULL);
        ck_assert_int_eq(bibop_kind_of(box), kinds[i]);
        ck_assert_str_eq(bibop_kind_name(kinds[i]), names[i]);
        bibop_box_free(box);
    }
    lalloc(small, 40, 0), lalloc(large, 200000, 0);
}
END_TEST

START_TEST(test_box_size_and_kind_are_checked)
{
    ck_assert_ptr_nonnull(bibop_box_new(heap, BIBOP_KIND_TIMER, 48, NULL));
    errno = 0;
    ck_assert_ptr_null(bibop_box_new(heap, BIBOP_KIND_TIMER, 96, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bibop_box_new(heap, BIBOP_KIND_SMALL, 48, NULL));
    ck_assert_ptr_null(bibop_box_new(heap, BIBOP_KIND_TASK, 0, NULL));
}
END_TEST

START_TEST(test_handle_of_live_box_gives_the_box)
{
    uint32_t gen;
    unsigned char *conn = bibop_box_new(heap, BIBOP_KIND_CONN, 300, &gen);
    ck_assert_uint_ne(gen, 0);
    ck_assert(holds(conn, 300, 0));
    struct bibop_handle h = bibop_handle_of(conn);
    ck_assert_uint_eq(h.gen, gen);
    ck_assert_int_eq(h.kind, BIBOP_KIND_CONN);
    const char *why = NULL;
    ck_assert_ptr_eq(bibop_handle_get(&h, BIBOP_KIND_CONN, &why), conn);
    ck_assert_ptr_null(why);
}
END_TEST

START_TEST(test_stale_handle_is_error)
{
    uint32_t gen;
    void *conn = bibop_box_new(heap, BIBOP_KIND_CONN, 300, &gen);
    struct bibop_handle old = bibop_handle_of(conn);
    bibop_box_free(conn);
    ck_assert_uint_eq(bibop_box_generation(conn), 0);
    const char *why = NULL;
    ck_assert_ptr_null(bibop_handle_get(&old, BIBOP_KIND_CONN, &why));
    ck_assert_str_eq(why, "connection is closed");
    uint32_t gen2;
    void *again = bibop_box_new(heap, BIBOP_KIND_CONN, 300, &gen2);
    ck_assert_ptr_eq(again, conn);
    ck_assert_uint_ne(gen2, gen);
    why = NULL;
    ck_assert_ptr_null(bibop_handle_get(&old, BIBOP_KIND_CONN, &why));
    ck_assert_str_eq(why, "connection is closed");
    struct bibop_handle now = bibop_handle_of(again);
    ck_assert_ptr_eq(bibop_handle_get(&now, BIBOP_KIND_CONN, &why), again);
}
END_TEST

/* A page given back to the system and reused for another kind still refuses the
 * handles of its former tenants. */
START_TEST(test_stale_handle_after_page_reuse_is_error)
{
    enum { N = 20000 };
    static struct bibop_handle handles[N];
    for (size_t i = 0; i < N; i++)
        handles[i] = bibop_handle_of(bibop_box_new(heap, BIBOP_KIND_TIMER, 64, NULL));
    for (size_t i = 0; i < N; i++)
        bibop_box_free(handles[i].box);
    for (size_t i = 0; i < N; i++)
        bibop_box_new(heap, BIBOP_KIND_CONN, 64, NULL);
    for (size_t i = 0; i < N; i++) {
        const char *why;
        ck_assert_ptr_null(bibop_handle_get(&handles[i], BIBOP_KIND_TIMER, &why));
        ck_assert_str_eq(why, "timer is closed");
    }
}
END_TEST

START_TEST(test_wrong_kind_handle_is_error)
{
    struct bibop_handle h = bibop_handle_of(bibop_box_new(heap, BIBOP_KIND_TIMER, 80, NULL));
    const char *why = NULL;
    ck_assert_ptr_null(bibop_handle_get(&h, BIBOP_KIND_CONN, &why));
    ck_assert_str_eq(why, "timer");
    struct bibop_handle none = {NULL, 0, BIBOP_KIND_CONN};
    ck_assert_ptr_null(bibop_handle_get(&none, BIBOP_KIND_CONN, &why));
    ck_assert_str_eq(why, "connection is closed");
}
END_TEST

static Suite *bibop_suite(void)
{
    Suite *s = suite_create("bibop");
    TCase *tc = tcase_create("pages");
    tcase_add_checked_fixture(tc, heap_setup, heap_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_every_class_allocs_reallocs_and_frees);
    tcase_add_test(tc, test_multiples_of_8_come_8_aligned);
    tcase_add_test(tc, test_short_strings_pack_by_4);
    tcase_add_test(tc, test_large_blocks_grow_shrink_and_keep_contents);
    tcase_add_test(tc, test_million_random_operations_match_the_model);
    tcase_add_test(tc, test_empty_pages_are_kept_for_reuse);
    tcase_add_test(tc, test_empty_pages_go_back_on_trim);
    tcase_add_test(tc, test_unneeded_empty_pages_decay);
    tcase_add_test(tc, test_large_block_takes_the_reserve_not_a_new_peak);
    tcase_add_test(tc, test_freed_page_reads_as_free);
    tcase_add_test(tc, test_limit_refuses_growth_but_not_frees_or_shrinks);
    tcase_add_test(tc, test_boxes_are_not_refused_by_the_limit);
    tcase_add_test(tc, test_lua_memory_error_at_the_limit);
    tcase_add_test(tc, test_lua_state_accounting_matches_lua);
    tcase_add_test(tc, test_kind_of_every_kind);
    tcase_add_test(tc, test_box_size_and_kind_are_checked);
    tcase_add_test(tc, test_handle_of_live_box_gives_the_box);
    tcase_add_test(tc, test_stale_handle_is_error);
    tcase_add_test(tc, test_stale_handle_after_page_reuse_is_error);
    tcase_add_test(tc, test_wrong_kind_handle_is_error);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(bibop_suite)
