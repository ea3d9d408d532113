#include "config.h"

#include "check_main.h"
#include "deadline.h"
#include "lcall.h"
#include "ldeadline.h"

#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int fired;
static char err[256];

static void count_fire(void *ud)
{
    (void)ud;
    atomic_fetch_add(&fired, 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void start(long timeout, long grace)
{
    atomic_store(&fired, 0);
    ck_assert_int_eq(deadline_start(timeout, grace, count_fire, NULL, err, sizeof err), 0);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (5 s at most) until the thread has fired n times; the count then. */
static int wait_fired(int n)
{
    long long until = now_ms() + 5000;
    while (atomic_load(&fired) < n && now_ms() < until)
        sleep_ms(1);
    return atomic_load(&fired);
}

/* Waits (5 s at most) until the thread has watched the running entry, armed
 * with a deadline of far_ms, for ms: it counts a relative deadline from its
 * first look, so this proves it went on looking (and firing, if it would)
 * that long after what came before; a sleep on a busy machine proves nothing. */
static void watched_for(long far_ms, long ms)
{
    long long until = now_ms() + 5000;
    while (deadline_remaining_ms() > far_ms - ms && now_ms() < until)
        sleep_ms(1);
    ck_assert_int_le(deadline_remaining_ms(), far_ms - ms);
}

START_TEST(test_entry_that_returns_in_time_never_fires)
{
    start(20, 0);
    int held = 0; /* entries a busy machine held past their 20 ms: they may fire */
    for (int i = 0; i < 1000; i++) {
        long long armed = now_ms();
        deadline_arm(-1, "test");
        int flags = deadline_disarm();
        if (now_ms() - armed >= 20)
            held++;
        else
            ck_assert_int_eq(flags, 0);
    }
    /* A fire that came late for any of them would come while the thread
     * looks on at the next entry, which has a deadline too far to fire. */
    deadline_arm(10000, "far");
    watched_for(10000, 60);
    ck_assert_int_eq(deadline_disarm(), 0);
    if (held == 0)
        ck_assert_int_eq(atomic_load(&fired), 0);
    deadline_stop();
}
END_TEST

START_TEST(test_entry_past_its_deadline_fires_until_it_returns)
{
    start(20, 0);
    deadline_arm(-1, "test");
    ck_assert_int_ge(wait_fired(2), 2); /* again at each tick while expired */
    ck_assert_int_eq(deadline_expired(), 1);
    ck_assert_int_eq(deadline_disarm() & DEADLINE_FIRED, DEADLINE_FIRED);
    ck_assert_int_eq(deadline_expired(), 0);
    /* Once the thread has seen the next entry it is done with this one:
     * from then on, 30 ms of its looks bring no fire. */
    deadline_arm(10000, "next");
    watched_for(10000, 1);
    int after = atomic_load(&fired);
    watched_for(10000, 31);
    ck_assert_int_eq(atomic_load(&fired), after);
    ck_assert_int_eq(deadline_disarm(), 0);
    deadline_stop();
}
END_TEST

START_TEST(test_zero_means_no_deadline)
{
    start(0, 0);
    deadline_arm(-1, "default is off");
    sleep_ms(40);
    deadline_disarm();
    start(10, 0);
    deadline_arm(0, "this entry has none");
    sleep_ms(40);
    deadline_disarm();
    ck_assert_int_eq(atomic_load(&fired), 0);
    ck_assert_int_eq(deadline_default_ms(), 10);
    deadline_stop();
}
END_TEST

START_TEST(test_set_changes_the_running_entry_only)
{
    start(0, 0);
    ck_assert_int_eq(deadline_set(10), -1); /* no entry runs */
    deadline_arm(-1, "test");
    ck_assert_int_eq(deadline_remaining_ms(), -1);
    ck_assert_int_eq(deadline_set(1000), 0);
    long left = deadline_remaining_ms();
    ck_assert(left > 900 && left <= 1000);
    ck_assert_int_eq(deadline_set(10), 0);
    ck_assert_int_ge(wait_fired(1), 1);
    deadline_disarm();
    deadline_arm(-1, "next");
    ck_assert_int_eq(deadline_remaining_ms(), -1);
    deadline_disarm();
    deadline_stop();
}
END_TEST

START_TEST(test_set_zero_lifts_the_deadline)
{
    start(20, 0);
    deadline_arm(-1, "test");
    ck_assert_int_eq(deadline_set(0), 0);
    sleep_ms(60);
    ck_assert_int_eq(atomic_load(&fired), 0);
    deadline_disarm();
    deadline_stop();
}
END_TEST

START_TEST(test_hits_count_once_per_entry)
{
    start(20, 0);
    uint64_t before = deadline_hits();
    deadline_arm(50, "test");
    ck_assert_int_eq(deadline_raise(), 50);
    ck_assert_int_eq(deadline_raise(), 50);
    ck_assert_int_eq(deadline_raised(), 1);
    ck_assert_int_eq(deadline_disarm() & DEADLINE_RAISED, DEADLINE_RAISED);
    ck_assert_int_eq(deadline_raised(), 0);
    ck_assert_uint_eq(deadline_hits(), before + 1);
    deadline_stop();
}
END_TEST

/* Past deadline + grace the thread ends the process; check sees SIGKILL. */
START_TEST(test_overstaying_the_grace_kills_the_worker)
{
    start(10, 20);
    deadline_arm(-1, "a compiled loop");
    sleep_ms(2000);
}
END_TEST

/* ---- with a Lua state ---- */

static lua_State *L;

static void open_lua(long timeout)
{
    L = luaL_newstate();
    ck_assert_ptr_nonnull(L);
    luaL_openlibs(L);
    ck_assert_int_eq(ldeadline_start(L, timeout, 0, err, sizeof err), 0);
}

static void close_lua(void)
{
    ldeadline_stop();
    lua_close(L);
}

/* Pushes the chunk of code ud, loaded. */
static int push_chunk(lua_State *S, void *ud)
{
    if (luaL_loadstring(S, ud) != 0)
        lua_error(S);
    return 0;
}

/* Runs chunk through lcall; returns lcall's result, the message on top. */
static int run(const char *chunk)
{
    return lcall(L, push_chunk, (void *)chunk);
}

START_TEST(test_interpreted_loop_is_stopped_at_its_line)
{
    open_lua(30);
    ck_assert_int_eq(run("jit.off()\nlocal x = 0\nwhile true do\n x = x + 1\nend"), LCALL_DEADLINE);
    const char *msg = lua_tostring(L, -1);
    ck_assert_ptr_nonnull(strstr(msg, "moonwire: deadline exceeded (30 ms)"));
    ck_assert(strstr(msg, ":3: moonwire") || strstr(msg, ":4: moonwire"));
    ck_assert_ptr_nonnull(strstr(msg, "stack traceback:"));
    lua_pop(L, 1);
    ck_assert_int_eq(run("ran = true"), 0); /* the next entry runs clean */
    lua_getglobal(L, "ran");
    ck_assert(lua_toboolean(L, -1));
    close_lua();
}
END_TEST

START_TEST(test_pcall_that_swallows_it_is_raised_again)
{
    open_lua(30);
    ck_assert_int_eq(run("jit.off()\n"
                         "for i = 1, 3 do pcall(function() while true do end end) end\n"
                         "after = true"),
                     LCALL_DEADLINE);
    lua_pop(L, 1);
    lua_getglobal(L, "after");
    ck_assert(lua_isnil(L, -1));
    close_lua();
}
END_TEST

START_TEST(test_other_errors_are_not_deadlines)
{
    open_lua(1000);
    ck_assert_int_eq(run("error('plain')"), -1);
    close_lua();
}
END_TEST

START_TEST(test_coroutine_slice_is_stopped)
{
    open_lua(30);
    lua_State *co = lua_newthread(L);
    ck_assert_int_eq(luaL_loadstring(co, "jit.off()\ncoroutine.yield()\nwhile true do end"), 0);
    ck_assert_int_eq(lcall_resume(L, co, 0, NULL, NULL), 1);
    ck_assert_int_eq(lcall_resume(L, co, 0, NULL, NULL), LCALL_DEADLINE);
    ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), ":3: moonwire: deadline exceeded"));
    close_lua();
}
END_TEST

static Suite *deadline_suite(void)
{
    Suite *s = suite_create("deadline");
    TCase *tc = tcase_create("scheduler");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_entry_that_returns_in_time_never_fires);
    tcase_add_test(tc, test_entry_past_its_deadline_fires_until_it_returns);
    tcase_add_test(tc, test_zero_means_no_deadline);
    tcase_add_test(tc, test_set_changes_the_running_entry_only);
    tcase_add_test(tc, test_set_zero_lifts_the_deadline);
    tcase_add_test(tc, test_hits_count_once_per_entry);
    tcase_add_test_raise_signal(tc, test_overstaying_the_grace_kills_the_worker, SIGKILL);
    suite_add_tcase(s, tc);
    TCase *lua = tcase_create("lua");
    tcase_set_timeout(lua, 20);
    tcase_add_test(lua, test_interpreted_loop_is_stopped_at_its_line);
    tcase_add_test(lua, test_pcall_that_swallows_it_is_raised_again);
    tcase_add_test(lua, test_other_errors_are_not_deadlines);
    tcase_add_test(lua, test_coroutine_slice_is_stopped);
    suite_add_tcase(s, lua);
    return s;
}

CHECK_MAIN(deadline_suite)
