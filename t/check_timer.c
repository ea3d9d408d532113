#include "config.h"

#include "check_main.h"
#include "timer.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>

static struct event_base *base;
static char trail[256];

static void setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    timer_set_base(base);
    trail[0] = '\0';
}

static void teardown(void)
{
    timer_set_base(NULL);
    event_base_free(base);
}

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until no timer is pending, or 2 s pass. */
static void run_until_idle(void)
{
    static const struct timeval limit = {2, 0};
    int late = 0;
    struct event *stop = evtimer_new(base, give_up, &late);
    ck_assert_ptr_nonnull(stop);
    ck_assert_int_eq(evtimer_add(stop, &limit), 0);
    while (timer_count() > 0 && !late)
        ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
    event_free(stop);
}

static void note(struct timer *t, void *ud)
{
    (void)t;
    strcat(trail, ud);
}

START_TEST(test_one_shots_fire_once_in_time_order)
{
    ck_assert_ptr_nonnull(timer_start(30, 0, note, "30 "));
    ck_assert_ptr_nonnull(timer_start(10, 0, note, "10 "));
    ck_assert_ptr_nonnull(timer_start(20, 0, note, "20 "));
    ck_assert_uint_eq(timer_count(), 3);
    run_until_idle();
    ck_assert_str_eq(trail, "10 20 30 ");
    ck_assert_uint_eq(timer_count(), 0);
}
END_TEST

static int ticks;

static void tick_three_times(struct timer *t, void *ud)
{
    (void)ud;
    if (++ticks == 3)
        timer_cancel(t);
}

START_TEST(test_repeating_until_cancelled_in_its_own_callback)
{
    ticks = 0;
    ck_assert_ptr_nonnull(timer_start(2, 1, tick_three_times, NULL));
    run_until_idle();
    ck_assert_int_eq(ticks, 3);
    ck_assert_uint_eq(timer_count(), 0);
}
END_TEST

static void cancel_one_shot_inside(struct timer *t, void *ud)
{
    (void)ud;
    timer_cancel(t); /* harmless: a one-shot is freed after its callback anyway */
    timer_cancel(t);
    strcat(trail, "fired ");
}

START_TEST(test_cancel_inside_a_one_shot_is_harmless)
{
    ck_assert_ptr_nonnull(timer_start(1, 0, cancel_one_shot_inside, NULL));
    run_until_idle();
    ck_assert_str_eq(trail, "fired ");
}
END_TEST

START_TEST(test_cancelled_before_firing_never_fires)
{
    struct timer *t = timer_start(5, 0, note, "never ");
    ck_assert_ptr_nonnull(timer_start(20, 0, note, "other "));
    timer_cancel(t);
    run_until_idle();
    ck_assert_str_eq(trail, "other ");
}
END_TEST

static int fired;

static void count(struct timer *t, void *ud)
{
    (void)t;
    (void)ud;
    fired++;
}

START_TEST(test_hundred_thousand_pending)
{
    fired = 0;
    for (int i = 0; i < 100000; i++)
        ck_assert_ptr_nonnull(timer_start(i % 20, 0, count, NULL));
    ck_assert_uint_eq(timer_count(), 100000);
    run_until_idle();
    ck_assert_int_eq(fired, 100000);
}
END_TEST

START_TEST(test_no_loop_or_negative_time_is_einval)
{
    errno = 0;
    ck_assert_ptr_null(timer_start(-1, 0, note, NULL));
    ck_assert_int_eq(errno, EINVAL);
    timer_set_base(NULL);
    errno = 0;
    ck_assert_ptr_null(timer_start(1, 0, note, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("timers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_one_shots_fire_once_in_time_order);
    tcase_add_test(tc, test_repeating_until_cancelled_in_its_own_callback);
    tcase_add_test(tc, test_cancel_inside_a_one_shot_is_harmless);
    tcase_add_test(tc, test_cancelled_before_firing_never_fires);
    tcase_add_test(tc, test_hundred_thousand_pending);
    tcase_add_test(tc, test_no_loop_or_negative_time_is_einval);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(timer_suite)
