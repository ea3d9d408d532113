#include "config.h"

#include "check_main.h"
#include "task.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>

static struct event_base *base;
static char trail[256];

static void setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    ck_assert_int_eq(task_set_base(base), 0);
    trail[0] = '\0';
}

static void teardown(void)
{
    task_set_base(NULL);
    event_base_free(base);
}

/* One turn of the loop: one batch of the run queue at most. */
static void turn(void)
{
    ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
}

static void note(void *ud)
{
    strcat(trail, ud);
}

static void note_and_spawn(void *ud)
{
    strcat(trail, ud);
    ck_assert_int_eq(task_spawn(note, "later "), 0);
}

START_TEST(test_spawns_run_in_order_from_the_loop)
{
    task_spawn(note, "a ");
    task_spawn(note, "b ");
    task_spawn(note, "c ");
    ck_assert_str_eq(trail, "");
    ck_assert_uint_eq(task_queued(), 3);
    turn();
    ck_assert_str_eq(trail, "a b c ");
    ck_assert_uint_eq(task_queued(), 0);
}
END_TEST

START_TEST(test_spawn_inside_a_batch_waits_for_the_next)
{
    task_spawn(note_and_spawn, "first ");
    task_spawn(note, "second ");
    turn();
    ck_assert_str_eq(trail, "first second ");
    turn();
    ck_assert_str_eq(trail, "first second later ");
}
END_TEST

START_TEST(test_entries_queued_before_the_loop_run_once_it_is_set)
{
    task_set_base(NULL);
    task_spawn(note, "early ");
    ck_assert_int_eq(task_set_base(base), 0);
    turn();
    ck_assert_str_eq(trail, "early ");
}
END_TEST

static intptr_t expect_next;

static void in_sequence(void *ud)
{
    ck_assert_int_eq((intptr_t)ud, expect_next);
    expect_next++;
}

START_TEST(test_order_holds_while_the_ring_wraps_and_grows)
{
    static const int rounds[] = {700, 1500, 300, 5000};
    intptr_t next = 0;
    expect_next = 0;
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < rounds[r]; i++)
            ck_assert_int_eq(task_spawn(in_sequence, (void *)next++), 0);
        turn();
    }
    ck_assert_int_eq(expect_next, next);
}
END_TEST

START_TEST(test_shutdown_drops_what_is_queued)
{
    task_spawn(note, "never ");
    task_set_base(NULL);
    ck_assert_uint_eq(task_queued(), 0);
    ck_assert_int_eq(task_set_base(base), 0);
    turn();
    ck_assert_str_eq(trail, "");
}
END_TEST

/* A mailbox whose ready callback takes one message and notes it. */
static void take_one(struct task *t, void *ud)
{
    uintptr_t msg;
    (void)ud;
    if (task_receive(t, &msg))
        strcat(trail, (const char *)msg);
}

/* Counts the messages it takes, checking they come in order. */
static void take_in_order(struct task *t, void *ud)
{
    uintptr_t msg;
    int *taken = ud;
    ck_assert_int_eq(task_receive(t, &msg), 1);
    ck_assert_uint_eq(msg, (uintptr_t)*taken);
    ++*taken;
}

START_TEST(test_mailbox_delivers_in_order_a_turns_worth_at_a_time)
{
    int taken = 0;
    struct task *t = task_new(take_in_order, &taken);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(task_listen(t, 1), 0);
    for (uintptr_t i = 0; i < 100; i++)
        ck_assert_int_eq(task_send(t, i), 0);
    turn();
    ck_assert_int_eq(taken, 64);
    turn();
    ck_assert_int_eq(taken, 100);
    task_stop(t);
}
END_TEST

START_TEST(test_busy_mailboxes_take_turns)
{
    int a_taken = 0, b_taken = 0;
    struct task *a = task_new(take_in_order, &a_taken), *b = task_new(take_in_order, &b_taken);
    task_listen(a, 1);
    task_listen(b, 1);
    for (uintptr_t i = 0; i < 200; i++) {
        task_send(a, i);
        task_send(b, i);
    }
    turn();
    ck_assert_int_eq(a_taken, 64);
    ck_assert_int_eq(b_taken, 64);
    for (int i = 0; i < 3; i++)
        turn();
    ck_assert_int_eq(a_taken, 200);
    ck_assert_int_eq(b_taken, 200);
    task_stop(a);
    task_stop(b);
}
END_TEST

START_TEST(test_not_listening_holds_messages)
{
    struct task *t = task_new(take_one, NULL);
    task_send(t, (uintptr_t) "held ");
    turn();
    ck_assert_str_eq(trail, "");
    task_listen(t, 1);
    turn();
    ck_assert_str_eq(trail, "held ");
    task_stop(t);
}
END_TEST

static void count_wake(struct task *t, void *ud)
{
    (void)t;
    ++*(int *)ud;
}

START_TEST(test_wake_makes_ready_once)
{
    int calls = 0;
    struct task *t = task_new(count_wake, &calls);
    task_wake(t);
    task_wake(t);
    turn();
    turn();
    ck_assert_int_eq(calls, 1);
    task_stop(t);
}
END_TEST

START_TEST(test_send_to_a_stopped_task_is_epipe)
{
    size_t before = task_count();
    struct task *t = task_new(take_one, NULL);
    ck_assert_uint_eq(task_count(), before + 1);
    task_send(t, (uintptr_t) "x ");
    task_stop(t); /* scheduled: freed by its entry, never called */
    ck_assert_uint_eq(task_count(), before);
    turn();
    ck_assert_str_eq(trail, "");
}
END_TEST

static struct task *self_stopper;

static void stop_self(struct task *t, void *ud)
{
    uintptr_t msg;
    (void)ud;
    task_receive(t, &msg);
    strcat(trail, "once ");
    task_stop(t);
    errno = 0;
    ck_assert_int_eq(task_send(t, 1), -1);
    ck_assert_int_eq(errno, EPIPE);
}

START_TEST(test_stop_inside_ready_is_safe)
{
    self_stopper = task_new(stop_self, NULL);
    task_listen(self_stopper, 1);
    task_send(self_stopper, 1);
    task_send(self_stopper, 2);
    turn();
    turn();
    ck_assert_str_eq(trail, "once ");
}
END_TEST

/* Nine different ready functions: a process has room for eight kinds. The
 * formatter would run the macro calls together and indent the test after. */
// clang-format off
#define READY_FN(n)                                 \
    static void ready_##n(struct task *t, void *ud) \
    {                                               \
        (void)t, (void)ud;                          \
    }
READY_FN(0) READY_FN(1) READY_FN(2) READY_FN(3) READY_FN(4) READY_FN(5) READY_FN(6)
READY_FN(7) READY_FN(8)

START_TEST(test_a_ninth_kind_of_task_is_einval)
// clang-format on
{
    task_ready_fn fns[] = {ready_0, ready_1, ready_2, ready_3, ready_4,
                           ready_5, ready_6, ready_7, ready_8};
    struct task *made[9];
    int n = 0;
    for (; n < 9; n++) {
        errno = 0;
        if (!(made[n] = task_new(fns[n], NULL)))
            break;
    }
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_le(n, 8); /* the run queue's own kinds may have taken a few */
    struct task *again = task_new(fns[0], NULL); /* a kind already known still works */
    ck_assert_ptr_nonnull(again);
    task_stop(again);
    while (n-- > 0)
        task_stop(made[n]);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("run queue and mailboxes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_spawns_run_in_order_from_the_loop);
    tcase_add_test(tc, test_spawn_inside_a_batch_waits_for_the_next);
    tcase_add_test(tc, test_entries_queued_before_the_loop_run_once_it_is_set);
    tcase_add_test(tc, test_order_holds_while_the_ring_wraps_and_grows);
    tcase_add_test(tc, test_shutdown_drops_what_is_queued);
    tcase_add_test(tc, test_mailbox_delivers_in_order_a_turns_worth_at_a_time);
    tcase_add_test(tc, test_busy_mailboxes_take_turns);
    tcase_add_test(tc, test_not_listening_holds_messages);
    tcase_add_test(tc, test_wake_makes_ready_once);
    tcase_add_test(tc, test_send_to_a_stopped_task_is_epipe);
    tcase_add_test(tc, test_stop_inside_ready_is_safe);
    tcase_add_test(tc, test_a_ninth_kind_of_task_is_einval);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(task_suite)
