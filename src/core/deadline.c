#include "config.h"

#include "deadline.h"

#include "log.h"
#include "mstime.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000LL
#define TICK_NS (DEADLINE_TICK_MS * NS_PER_MS)

/* What the loop thread publishes and the scheduler thread reads. The entry
 * is a seqlock: seq is odd while an entry runs; a reader that sees the same
 * seq before and after reading deadline and what has a consistent view.
 * The loop reads no clock to arm: a deadline is relative (-ms) and counts
 * from when the thread first sees the entry, which is never before it began,
 * so a deadline is never early, and late by at most a tick. mw.deadline
 * reads the clock and sets an absolute one. */
static struct {
    _Atomic uint64_t seq;
    _Atomic int64_t deadline; /* -ms from first sight, or monotonic ns; 0: none */
    _Atomic(const char *) what;
    _Atomic uint64_t seen_seq; /* the entry the thread saw first at seen_at */
    _Atomic int64_t seen_at;
    _Atomic uint64_t fired_seq; /* the last entry the thread fired for */
    _Atomic int stop;
} shared;

/* The loop thread's own. */
static struct {
    uint64_t seq;
    long entry_ms; /* the running entry's deadline as asked, for the message */
    int raised;    /* the running entry was told it expired */
    uint64_t hits;
    int configured; /* deadline_start ran: the thread may start */
    int running;    /* the thread runs */
    pthread_t thread;
} loop;

/* Set before the thread starts, read-only after. */
static long timeout_ms, grace_ms;
static deadline_fire_fn fire_fn;
static void *fire_ud;

/* ---- the scheduler thread ---- */

/* An entry overstayed its grace: compiled code does not run the hook, so
 * nothing on the loop thread will ever stop it. What ran is all we can see. */
static void overstayed(const char *what, int64_t late_ns)
{
    log_error("deadline: %s still running %lld ms after its deadline, past --grace %ld ms; "
              "compiled Lua code cannot be interrupted (see DEADLINES in moonwire(1)): "
              "ending the worker",
              what ? what : "a call into Lua", (long long)(late_ns / NS_PER_MS), grace_ms);
    kill(getpid(), SIGKILL);
}

/* The absolute deadline of entry seq, counting a relative one from when
 * the thread first saw the entry. The clock is read again at first sight:
 * the look's own time was read before seq, maybe before the entry was armed
 * (the thread preempted in between), and counting from it would fire early. */
static int64_t absolute(uint64_t seq, int64_t deadline)
{
    if (atomic_load_explicit(&shared.seen_seq, memory_order_relaxed) != seq) {
        atomic_store_explicit(&shared.seen_at, mono_ns(), memory_order_relaxed);
        atomic_store_explicit(&shared.seen_seq, seq, memory_order_release);
    }
    if (deadline > 0)
        return deadline;
    return atomic_load_explicit(&shared.seen_at, memory_order_relaxed) - deadline * NS_PER_MS;
}

/* Looks at the running entry: fires when it is past its deadline, and
 * brings the next wake forward to its deadline when that comes first. */
static void look(int64_t now, int64_t *wake)
{
    uint64_t seq = atomic_load_explicit(&shared.seq, memory_order_acquire);
    if (!(seq & 1))
        return;
    int64_t deadline = atomic_load_explicit(&shared.deadline, memory_order_relaxed);
    const char *what = atomic_load_explicit(&shared.what, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&shared.seq, memory_order_relaxed) != seq || deadline == 0)
        return;
    deadline = absolute(seq, deadline);
    if (now < deadline) {
        if (deadline < *wake)
            *wake = deadline;
        return;
    }
    if (grace_ms > 0 && now - deadline >= grace_ms * NS_PER_MS)
        overstayed(what, now - deadline);
    atomic_store_explicit(&shared.fired_seq, seq, memory_order_release);
    fire_fn(fire_ud);
}

static void sleep_until(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* A watchdog that waits for a CPU behind the very code it watches comes
 * late on a busy machine. Where the system allows (root, or CAP_SYS_NICE)
 * the thread runs ahead of ordinary threads; it sleeps all but a few
 * microseconds per tick, so it cannot starve anyone. Elsewhere it stays an
 * ordinary thread, and a raise can come a scheduler slice later. */
static void raise_priority(void)
{
    struct sched_param param = {.sched_priority = 1};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

static void *deadline_main(void *arg)
{
    (void)arg;
    raise_priority();
    while (!atomic_load_explicit(&shared.stop, memory_order_relaxed)) {
        int64_t now = mono_ns();
        int64_t wake = now + TICK_NS;
        look(now, &wake);
        sleep_until(wake);
    }
    return NULL;
}

/* Starts the thread with every signal blocked: they are the loop's. */
static int start_thread(char *err, size_t errlen)
{
    sigset_t all, old;
    sigfillset(&all);
    atomic_store(&shared.stop, 0);
    int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc == 0) {
        rc = pthread_create(&loop.thread, NULL, deadline_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (rc != 0) {
        snprintf(err, errlen, "deadline thread: %s", strerror(rc));
        return -1;
    }
    loop.running = 1;
    return 0;
}

/* Starts the thread for an entry that asks for a deadline; 0 when it runs. */
static int ensure_thread(void)
{
    char err[128];
    if (loop.running)
        return 0;
    if (!loop.configured)
        return -1;
    if (start_thread(err, sizeof err) == 0)
        return 0;
    log_error("%s: deadlines are off", err);
    loop.configured = 0;
    return -1;
}

int deadline_start(long timeout, long grace, deadline_fire_fn fire, void *ud, char *err,
                   size_t errlen)
{
    if (loop.running)
        deadline_stop();
    timeout_ms = timeout;
    grace_ms = grace;
    fire_fn = fire;
    fire_ud = ud;
    loop.configured = 1;
    return timeout > 0 ? start_thread(err, errlen) : 0;
}

void deadline_stop(void)
{
    loop.configured = 0;
    if (!loop.running)
        return;
    atomic_store(&shared.stop, 1);
    int rc = pthread_join(loop.thread, NULL);
    if (rc != 0)
        log_error("deadline thread: join: %s", strerror(rc));
    loop.running = 0;
}

long deadline_default_ms(void)
{
    return loop.configured ? timeout_ms : 0;
}

/* ---- the loop thread ---- */

void deadline_arm(long ms, const char *what)
{
    if (ms < 0)
        ms = loop.configured ? timeout_ms : 0;
    loop.entry_ms = ms;
    loop.raised = 0;
    int64_t relative = ms > 0 && ensure_thread() == 0 ? -(int64_t)ms : 0;
    atomic_store_explicit(&shared.deadline, relative, memory_order_relaxed);
    atomic_store_explicit(&shared.what, what, memory_order_relaxed);
    loop.seq += 1;
    atomic_store_explicit(&shared.seq, loop.seq, memory_order_release);
}

int deadline_disarm(void)
{
    uint64_t seq = loop.seq;
    loop.seq += 1;
    atomic_store_explicit(&shared.seq, loop.seq, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    int flags = loop.raised ? DEADLINE_RAISED : 0;
    if (atomic_load_explicit(&shared.fired_seq, memory_order_relaxed) == seq)
        flags |= DEADLINE_FIRED;
    loop.raised = 0;
    return flags;
}

int deadline_set(long ms)
{
    if (!(loop.seq & 1) || ms < 0)
        return -1;
    if (ms > 0 && ensure_thread() < 0)
        return -1;
    int64_t deadline = ms > 0 ? mono_ns() + ms * NS_PER_MS : 0;
    loop.entry_ms = ms;
    atomic_store_explicit(&shared.deadline, deadline, memory_order_relaxed);
    return 0;
}

/* A relative deadline the thread has not seen yet has not started counting. */
long deadline_remaining_ms(void)
{
    int64_t deadline = atomic_load_explicit(&shared.deadline, memory_order_relaxed);
    if (!(loop.seq & 1) || deadline == 0)
        return -1;
    if (deadline < 0 && atomic_load_explicit(&shared.seen_seq, memory_order_acquire) != loop.seq)
        return (long)-deadline;
    if (deadline < 0)
        deadline =
            atomic_load_explicit(&shared.seen_at, memory_order_relaxed) - deadline * NS_PER_MS;
    int64_t left = deadline - mono_ns();
    return left > 0 ? (long)((left + NS_PER_MS - 1) / NS_PER_MS) : 0;
}

int deadline_expired(void)
{
    return (loop.seq & 1) &&
           atomic_load_explicit(&shared.fired_seq, memory_order_acquire) == loop.seq;
}

long deadline_raise(void)
{
    if (!loop.raised)
        loop.hits++;
    loop.raised = 1;
    return loop.entry_ms;
}

int deadline_raised(void)
{
    return loop.raised;
}

uint64_t deadline_hits(void)
{
    return loop.hits;
}
