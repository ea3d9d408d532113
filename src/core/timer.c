#include "config.h"

#include "timer.h"

#include "bibop.h"
#include "luaheap.h"
#include "mstime.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

struct timer {
    struct event ev; /* embedded: one allocation per timer */
    timer_fn fn;
    void *ud;
    unsigned char repeat, running, cancelled;
};

static struct event_base *loop_base;
static size_t live_count;

void timer_set_base(struct event_base *base)
{
    loop_base = base;
}

size_t timer_count(void)
{
    return live_count;
}

/* The one place a timer's memory comes from and goes back to: a slot in the
 * worker heap's timer pages (BiBOP), found from its address alone. */
static struct timer *timer_alloc(void)
{
    uint32_t generation;
    return bibop_box_new(luaheap(), BIBOP_KIND_TIMER, sizeof(struct timer), &generation);
}

static void timer_free(struct timer *t)
{
    bibop_box_free(t);
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    struct timer *t = arg;
    (void)fd;
    (void)what;
    t->running = 1;
    t->fn(t, t->ud);
    t->running = 0;
    if (t->cancelled)
        timer_free(t);
    else if (!t->repeat)
        timer_cancel(t);
}

struct timer *timer_start(double ms, int repeat, timer_fn fn, void *ud)
{
    if (!loop_base || !(ms >= 0) || ms > 1e12) {
        errno = EINVAL;
        return NULL;
    }
    struct timer *t = timer_alloc();
    if (!t)
        return NULL;
    *t = (struct timer){.fn = fn, .ud = ud, .repeat = repeat != 0};
    struct timeval tv = ms_timeval(ms);
    short flags = repeat ? EV_PERSIST : 0;
    if (event_assign(&t->ev, loop_base, -1, flags, timer_fire, t) < 0 ||
        event_add(&t->ev, &tv) < 0) {
        timer_free(t);
        errno = ENOMEM; /* libevent gives no reason; allocation is the only one left */
        return NULL;
    }
    live_count++;
    return t;
}

void timer_cancel(struct timer *t)
{
    if (t->cancelled)
        return;
    t->cancelled = 1;
    live_count--;
    event_del(&t->ev);
    if (!t->running)
        timer_free(t);
}
