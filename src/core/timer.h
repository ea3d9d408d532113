/* timer: one-shot and repeating timers on the worker's libevent loop.
 * Plain C with a callback; knows nothing of Lua. A timer may be cancelled
 * from inside its own callback; it is freed once nothing can call it again. */
#ifndef MW_TIMER_H
#define MW_TIMER_H

#include <stddef.h>

struct event_base;
struct timer;

typedef void (*timer_fn)(struct timer *timer, void *ud);

/* The loop timers run on; NULL (at shutdown) only after every timer is gone. */
void timer_set_base(struct event_base *base);
/* Calls fn(timer, ud) after ms milliseconds, then every ms if repeat.
 * A one-shot timer is freed when its callback returns. Returns NULL with
 * errno set: EINVAL without a loop or for a negative time, ENOMEM. */
struct timer *timer_start(double ms, int repeat, timer_fn fn, void *ud);
/* Stops the timer and frees it (after its callback, when called from it).
 * The handle must not be used again. */
void timer_cancel(struct timer *timer);
/* Timers started and not yet fired (one-shot) or cancelled. */
size_t timer_count(void);

#endif
