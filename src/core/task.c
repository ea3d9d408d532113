#include "config.h"

#include "task.h"

#include "bibop.h"
#include "luaheap.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

/* Up to this many slots an empty ring keeps its block; a larger one gives it
 * back, so a burst does not hold memory for ever. The run queue is one ring
 * and busy; a mailbox is one per task and mostly holds a message or two. */
#define RUNQ_KEEP 65536
#define MAILBOX_KEEP 16
/* Messages one task may take in one turn before others get theirs. */
#define TURN_MESSAGES 64

/* A FIFO of fixed-size elements in one block, grown by doubling. */
struct ring {
    char *buf;
    uint32_t head, count, cap, size;
};

/* A task's flags: unsigned constants, so clearing one (~) stays unsigned. */
#define TASK_SCHEDULED 1u /* an entry in the run queue refers to it */
#define TASK_RUNNING 2u   /* inside its ready callback */
#define TASK_WOKEN 4u     /* ready once, whatever the mailbox holds */
#define TASK_LISTENING 8u /* ready while the mailbox is not empty */
#define TASK_STOPPED 16u

struct task {
    struct ring mailbox;
    void *ud;
    uint32_t flags;
    uint8_t ready; /* index in readies */
};

/* The ready functions tasks are made with: one per kind of task in a process,
 * so a task keeps a byte rather than a pointer (40 bytes a task, not 48). */
#define READY_MAX 8
static task_ready_fn readies[READY_MAX];
static unsigned nreadies;

_Static_assert(sizeof(struct task) <= 40, "struct task grew past 40 bytes");

struct entry {
    task_fn fn;
    void *ud;
};

static struct {
    struct ring ring;
    struct event_base *base;
    struct event *drain;
    int armed;
} runq = {.ring = {.size = sizeof(struct entry)}};

static size_t live_tasks;

/* ---- rings ---- */

static void ring_release(struct ring *r)
{
    free(r->buf);
    *r = (struct ring){.size = r->size};
}

/* Doubles the ring with realloc, which moves a large buffer by remapping its
 * pages rather than copying them (a burst of a million pending spawns: 2.1
 * million per second with a fresh buffer and a copy at every doubling, 2.7
 * with realloc); then the part that had wrapped round to the start moves up
 * past the old end. */
static int ring_grow(struct ring *r)
{
    uint32_t old = r->cap, cap = old ? old * 2 : 1;
    char *buf = cap > old ? realloc(r->buf, (size_t)cap * r->size) : NULL;
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    uint32_t wrapped = r->head + r->count > old ? r->head + r->count - old : 0;
    memcpy(buf + (size_t)old * r->size, buf, (size_t)wrapped * r->size);
    r->buf = buf;
    r->cap = cap;
    return 0;
}

static int ring_push(struct ring *r, const void *elem)
{
    if (r->count == r->cap && ring_grow(r) < 0)
        return -1;
    uint32_t tail = (r->head + r->count) & (r->cap - 1);
    memcpy(r->buf + (size_t)tail * r->size, elem, r->size);
    r->count++;
    return 0;
}

static int ring_pop(struct ring *r, void *elem, uint32_t keep)
{
    if (r->count == 0)
        return 0;
    memcpy(elem, r->buf + (size_t)r->head * r->size, r->size);
    r->head = (r->head + 1) & (r->cap - 1);
    if (--r->count == 0 && r->cap > keep)
        ring_release(r);
    return 1;
}

/* ---- the run queue ---- */

static void run_task(void *ud);
static void task_destroy(struct task *t);

/* A zero timeout, not event_active: timers run after the loop has polled,
 * so the next batch never runs before sockets are looked at. */
static void arm(void)
{
    static const struct timeval now = {0, 0};
    if (runq.armed || !runq.drain || runq.ring.count == 0)
        return;
    if (event_add(runq.drain, &now) == 0)
        runq.armed = 1;
}

/* Runs the entries queued before the batch began; later ones wait. */
static void drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    runq.armed = 0;
    for (uint32_t n = runq.ring.count; n > 0; n--) {
        struct entry e;
        ring_pop(&runq.ring, &e, RUNQ_KEEP);
        e.fn(e.ud);
    }
    arm();
}

/* At shutdown, what is still queued will never run: the tasks it refers
 * to are stopped by then (their owner is gone) and freed here. */
static void drop_queue(void)
{
    struct entry e;
    while (ring_pop(&runq.ring, &e, 0)) {
        struct task *t = e.ud;
        if (e.fn != run_task)
            continue;
        t->flags &= ~TASK_SCHEDULED;
        if ((t->flags & TASK_STOPPED) && !(t->flags & TASK_RUNNING))
            task_destroy(t);
    }
}

int task_set_base(struct event_base *base)
{
    if (!base)
        drop_queue();
    if (runq.drain)
        event_free(runq.drain);
    runq.drain = NULL;
    runq.armed = 0;
    runq.base = base;
    if (!base)
        return 0;
    runq.drain = evtimer_new(base, drain, NULL);
    if (!runq.drain) {
        errno = ENOMEM;
        return -1;
    }
    arm();
    return 0;
}

int task_spawn(task_fn fn, void *ud)
{
    struct entry e = {fn, ud};
    if (ring_push(&runq.ring, &e) < 0)
        return -1;
    arm();
    return 0;
}

size_t task_queued(void)
{
    return runq.ring.count;
}

/* ---- tasks ---- */

/* The one place a task's memory comes from and goes back to: a slot in the
 * worker heap's task pages (BiBOP), found from its address alone. */
static struct task *task_alloc(void)
{
    uint32_t generation;
    return bibop_box_new(luaheap(), BIBOP_KIND_TASK, sizeof(struct task), &generation);
}

static void task_destroy(struct task *t)
{
    ring_release(&t->mailbox);
    bibop_box_free(t);
}

static int is_ready(const struct task *t)
{
    return (t->flags & TASK_WOKEN) || ((t->flags & TASK_LISTENING) && t->mailbox.count > 0);
}

/* Queues the task once if it has something to do. */
static int schedule(struct task *t)
{
    if ((t->flags & (TASK_SCHEDULED | TASK_STOPPED)) || !is_ready(t))
        return 0;
    if (task_spawn(run_task, t) < 0)
        return -1;
    t->flags |= TASK_SCHEDULED;
    return 0;
}

/* More messages waiting, and nothing else (a wake) asked for a new turn. */
static int has_mail_only(const struct task *t)
{
    return (t->flags & (TASK_LISTENING | TASK_WOKEN | TASK_STOPPED)) == TASK_LISTENING &&
           t->mailbox.count > 0;
}

/* One turn of a task: ready is called once, or once per message for up to
 * TURN_MESSAGES messages (a loop turn per message would make a busy mailbox
 * crawl), then back to the end of the queue if there is more to do, so busy
 * tasks take turns with everyone else. */
static void run_task(void *ud)
{
    struct task *t = ud;
    t->flags &= ~TASK_SCHEDULED;
    if (!(t->flags & TASK_STOPPED) && is_ready(t)) {
        int calls = 0;
        t->flags |= TASK_RUNNING;
        do {
            t->flags &= ~TASK_WOKEN;
            readies[t->ready](t, t->ud);
        } while (++calls < TURN_MESSAGES && has_mail_only(t));
        t->flags &= ~TASK_RUNNING;
    }
    if (t->flags & TASK_STOPPED)
        task_destroy(t);
    else if (schedule(t) < 0)
        t->flags |= TASK_WOKEN; /* out of memory: tried again on the next wake */
}

/* The index of fn in readies, added if new; -1 when READY_MAX are taken. */
static int ready_index(task_ready_fn fn)
{
    for (unsigned i = 0; i < nreadies; i++)
        if (readies[i] == fn)
            return (int)i;
    if (nreadies == READY_MAX)
        return -1;
    readies[nreadies] = fn;
    return (int)nreadies++;
}

struct task *task_new(task_ready_fn ready, void *ud)
{
    int index = ready_index(ready);
    if (index < 0) {
        errno = EINVAL;
        return NULL;
    }
    struct task *t = task_alloc();
    if (!t)
        return NULL;
    *t = (struct task){.mailbox = {.size = sizeof(uintptr_t)}, .ud = ud, .ready = (uint8_t)index};
    live_tasks++;
    return t;
}

int task_send(struct task *t, uintptr_t msg)
{
    if (t->flags & TASK_STOPPED) {
        errno = EPIPE;
        return -1;
    }
    if (ring_push(&t->mailbox, &msg) < 0)
        return -1;
    return schedule(t);
}

int task_receive(struct task *t, uintptr_t *msg)
{
    return ring_pop(&t->mailbox, msg, MAILBOX_KEEP);
}

int task_listen(struct task *t, int on)
{
    if (!on) {
        t->flags &= ~TASK_LISTENING;
        return 0;
    }
    t->flags |= TASK_LISTENING;
    return schedule(t);
}

int task_wake(struct task *t)
{
    if (t->flags & TASK_STOPPED) {
        errno = EPIPE;
        return -1;
    }
    t->flags |= TASK_WOKEN;
    return schedule(t);
}

void task_stop(struct task *t)
{
    if (t->flags & TASK_STOPPED)
        return;
    t->flags |= TASK_STOPPED;
    live_tasks--;
    if (!(t->flags & (TASK_SCHEDULED | TASK_RUNNING)))
        task_destroy(t);
}

size_t task_count(void)
{
    return live_tasks;
}
