#include "config.h"

#include "check_main.h"
#include "lcall.h"
#include "lmoonwire.h"
#include "ltask.h"

#include <event2/event.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

/* The park/wake C API as the connection binding will use it: a C function
 * that parks the running coroutine task, woken later from C with values. */

static struct event_base *base;
static lua_State *S;
static struct ltask *parked;
static char ended[32];

static int park_l(lua_State *L)
{
    parked = ltask_current(L);
    luaL_argcheck(L, parked != NULL, 1, "not in a task");
    return ltask_park(L);
}

/* Pushes the string ud names. */
static int push_string(lua_State *L, void *ud)
{
    lua_pushstring(L, ud);
    return 1;
}

/* Pushes "data" and 7. */
static int push_data_7(lua_State *L, void *ud)
{
    (void)ud;
    lua_pushstring(L, "data");
    lua_pushinteger(L, 7);
    return 2;
}

/* wake_from_lua(s): ltask_wake called while Lua runs (must defer). */
static int wake_from_lua_l(lua_State *L)
{
    lua_pushboolean(L, ltask_wake(L, parked, push_string, (void *)luaL_checkstring(L, 1)) == 0);
    return 1;
}

static void on_end(struct ltask *t, const char *reason, void *owner)
{
    (void)t;
    ck_assert_ptr_eq(owner, ended);
    strcpy(ended, reason);
}

static void setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    S = luaL_newstate();
    luaL_openlibs(S);
    lmoonwire_open(S);
    ck_assert_int_eq(ltask_set_base(base), 0);
    lua_register(S, "park", park_l);
    lua_register(S, "wake_from_lua", wake_from_lua_l);
    parked = NULL;
    ended[0] = '\0';
}

static void teardown(void)
{
    lua_close(S);
    ltask_set_base(NULL);
    event_base_free(base);
}

static void run(const char *code)
{
    if (luaL_dostring(S, code) != 0)
        ck_abort_msg("%s", lua_tostring(S, -1));
}

/* Pushes the chunk of code ud, loaded. */
static int push_chunk(lua_State *L, void *ud)
{
    if (luaL_loadstring(L, ud) != 0)
        lua_error(L);
    return 0;
}

/* As the loop enters Lua: through lcall, so Lua is known to be running. */
static void run_entry(const char *code)
{
    if (lcall(S, push_chunk, (void *)code) != 0)
        ck_abort_msg("%s", lua_tostring(S, -1));
}

static void turn(void)
{
    ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
}

static const char *global(const char *name)
{
    lua_getglobal(S, name);
    const char *s = lua_tostring(S, -1);
    lua_pop(S, 1);
    return s ? s : "(nil)";
}

static const char *start = "local mw = require 'moonwire'\n"
                           "task = mw.go(function() got = table.concat({park()}, ',') end)\n";

START_TEST(test_park_then_wake_from_the_loop_resumes_at_once)
{
    run(start);
    turn();
    ck_assert_ptr_nonnull(parked);
    ltask_set_end_hook(on_end);
    ltask_set_owner(parked, ended);
    ck_assert_int_eq(ltask_wake(S, parked, push_data_7, NULL), 0);
    ck_assert_str_eq(global("got"), "data,7");
    ck_assert_str_eq(ended, "done");
    ck_assert_int_eq(lua_gettop(S), 0);
}
END_TEST

START_TEST(test_wake_from_inside_lua_waits_for_the_run_queue)
{
    run(start);
    turn();
    run_entry("woke = tostring(wake_from_lua('later'))");
    ck_assert_str_eq(global("woke"), "true");
    ck_assert_str_eq(global("got"), "(nil)");
    turn();
    ck_assert_str_eq(global("got"), "later");
}
END_TEST

START_TEST(test_wake_of_a_task_not_parked_is_refused)
{
    run(start);
    turn();
    ck_assert_int_eq(ltask_wake(S, parked, push_string, "once"), 0);
    ck_assert_int_eq(ltask_wake(S, parked, push_string, "twice"), -1); /* it has ended */
    ck_assert_int_eq(lua_gettop(S), 0);
}
END_TEST

START_TEST(test_stopped_while_parked_cannot_be_woken)
{
    run(start);
    turn();
    ltask_set_end_hook(on_end);
    ltask_set_owner(parked, ended);
    ltask_push(S, parked); /* a reference keeps the handle valid */
    int ref = luaL_ref(S, LUA_REGISTRYINDEX);
    ltask_stop(parked);
    ck_assert_str_eq(ended, "stopped");
    ck_assert_int_eq(ltask_wake(S, parked, push_string, "late"), -1);
    ck_assert_str_eq(global("got"), "(nil)");
    luaL_unref(S, LUA_REGISTRYINDEX, ref);
}
END_TEST

START_TEST(test_park_outside_a_task_is_an_error)
{
    ck_assert_int_ne(luaL_dostring(S, "park()"), 0);
    ck_assert_ptr_nonnull(strstr(lua_tostring(S, -1), "not in a task"));
}
END_TEST

static Suite *ltask_suite(void)
{
    Suite *s = suite_create("ltask");
    TCase *tc = tcase_create("park and wake");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_park_then_wake_from_the_loop_resumes_at_once);
    tcase_add_test(tc, test_wake_from_inside_lua_waits_for_the_run_queue);
    tcase_add_test(tc, test_wake_of_a_task_not_parked_is_refused);
    tcase_add_test(tc, test_stopped_while_parked_cannot_be_woken);
    tcase_add_test(tc, test_park_outside_a_task_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(ltask_suite)
