#include "config.h"

#include "bibop.h"
#include "check_main.h"
#include "lcall.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

/* lcall on a capped heap: what an entry pushes is pushed under protection,
 * so a full heap fails the entry and never panics; after a memory error the
 * next entry collects first. A panic fails the test. */

static struct bibop_heap *heap;
static lua_State *L;

static int on_panic(lua_State *S)
{
    ck_abort_msg("Lua panic: %s", lua_tostring(S, -1));
    return 0;
}

/* A state with 1 MiB of room past what its libraries take. */
static void setup(void)
{
    heap = bibop_heap_new(0);
    ck_assert_ptr_nonnull(heap);
    L = lua_newstate(bibop_lua_alloc, heap);
    ck_assert_ptr_nonnull(L);
    lua_atpanic(L, on_panic);
    luaL_openlibs(L);
    lcall_prepare(L);
    bibop_set_limit(heap, bibop_in_use(heap) + 1048576);
}

static void teardown(void)
{
    lua_close(L);
}

/* Pushes the chunk of code ud, loaded. */
static int push_chunk(lua_State *S, void *ud)
{
    if (luaL_loadstring(S, ud) != 0)
        lua_error(S);
    return 0;
}

/* Pushes the function in global ud (a lookup: no allocation). */
static int push_global(lua_State *S, void *ud)
{
    lua_getglobal(S, ud);
    return 0;
}

/* Pushes type, then a string of *ud bytes (at most 2 MiB) as its argument. */
static int push_string_of(lua_State *S, void *ud)
{
    static char bytes[2 * 1048576];
    size_t len = *(size_t *)ud;
    lua_getglobal(S, "type");
    lua_pushlstring(S, bytes, len);
    return 1;
}

static const char fill[] = "local t = {} while true do t[#t + 1] = string.rep('x', 64) .. #t end";

START_TEST(test_a_runaway_entry_fails_for_memory_then_the_next_runs)
{
    int top = lua_gettop(L);
    ck_assert_int_eq(lcall(L, push_chunk, (void *)fill), LCALL_ERRMEM);
    ck_assert_str_eq(lua_tostring(L, -1), "not enough memory");
    lua_pop(L, 1);
    size_t len = 65536; /* the runaway's table is garbage: collected first */
    ck_assert_int_eq(lcall(L, push_string_of, &len), 0);
    ck_assert_int_eq(lua_gettop(L), top);
    ck_assert_uint_lt(bibop_in_use(heap), bibop_limit(heap) / 2);
}
END_TEST

START_TEST(test_pushing_on_a_full_heap_fails_only_that_entry)
{
    ck_assert_int_eq(lcall(L, push_chunk, (void *)"function release() hog = nil end"), 0);
    ck_assert_int_eq(lcall(L, push_chunk,
                           (void *)"hog = {}\nlocal t = hog\n"
                                   "while true do t[#t + 1] = {} end"),
                     LCALL_ERRMEM);
    lua_pop(L, 1);
    int top = lua_gettop(L);
    size_t len = 262144; /* more than the heap has left: hog is still held */
    ck_assert_int_eq(lcall(L, push_string_of, &len), LCALL_ERRMEM);
    ck_assert_str_eq(lua_tostring(L, -1), "not enough memory");
    lua_pop(L, 1);
    ck_assert_int_eq(lua_gettop(L), top);
    ck_assert_int_eq(lcall(L, push_global, "release"), 0);
    lcall_collect_soon(); /* as lconn does once a connection that ran out is gone */
    ck_assert_int_eq(lcall(L, push_string_of, &len), 0);
    ck_assert_int_eq(lua_gettop(L), top);
}
END_TEST

START_TEST(test_an_error_in_the_push_is_the_entry_s_error)
{
    ck_assert_int_eq(lcall(L, push_chunk, (void *)"syntax error here"), -1);
    ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "syntax error"));
    ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "stack traceback:"));
    lua_pop(L, 1);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

START_TEST(test_a_coroutine_given_too_much_fails_for_memory)
{
    lua_State *co = lua_newthread(L);
    ck_assert_int_eq(luaL_loadstring(co, "while true do coroutine.yield() end"), 0);
    ck_assert_int_eq(lcall_resume(L, co, 0, NULL, NULL), 1);
    size_t len = 2 * 1048576;
    ck_assert_int_eq(lcall_resume(L, co, 0, push_string_of, &len), LCALL_ERRMEM);
    ck_assert_str_eq(lua_tostring(L, -1), "not enough memory");
    lua_pop(L, 2);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

/* Reads field "n" of the table given at 1 and leaves it as the result. */
static int get_n(lua_State *S, void *ud)
{
    (void)ud;
    lua_getfield(S, 1, "n");
    return 1;
}

START_TEST(test_protect_takes_values_and_leaves_a_result)
{
    lua_pushinteger(L, 99); /* below, untouched */
    lua_newtable(L);
    lua_pushinteger(L, 7);
    lua_setfield(L, -2, "n");
    ck_assert_int_eq(lcall_protect(L, 1, get_n, NULL), 0);
    ck_assert_int_eq(lua_tointeger(L, -1), 7);
    ck_assert_int_eq(lua_tointeger(L, -2), 99);
    ck_assert_int_eq(lua_gettop(L), 2);
}
END_TEST

static Suite *lcall_suite(void)
{
    Suite *s = suite_create("lcall");
    TCase *tc = tcase_create("capped heap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_runaway_entry_fails_for_memory_then_the_next_runs);
    tcase_add_test(tc, test_pushing_on_a_full_heap_fails_only_that_entry);
    tcase_add_test(tc, test_an_error_in_the_push_is_the_entry_s_error);
    tcase_add_test(tc, test_a_coroutine_given_too_much_fails_for_memory);
    tcase_add_test(tc, test_protect_takes_values_and_leaves_a_result);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(lcall_suite)
