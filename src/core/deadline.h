/* deadline: the scheduler thread that enforces a deadline on each entry into
 * Lua. The loop arms and disarms with atomics only (no lock, no system call);
 * the thread calls the fire callback while an entry overstays its deadline,
 * and ends the worker when the entry overstays its grace period too.
 * Knows nothing of Lua: ldeadline.c turns "fire" into a hook. */
#ifndef MW_DEADLINE_H
#define MW_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

/* How often the thread looks, and so how late a deadline may be seen. */
#define DEADLINE_TICK_MS 5

/* Called on the scheduler thread, repeatedly while an entry is past its
 * deadline: must only ask the running code to stop (it may run concurrently
 * with anything on the loop thread). */
typedef void (*deadline_fire_fn)(void *ud);

/* Flags returned by deadline_disarm. */
#define DEADLINE_FIRED 1  /* the thread fired for this entry: undo what fire did */
#define DEADLINE_RAISED 2 /* the entry was told it had expired (deadline_raise) */

/* Sets the defaults (ms; timeout 0: no deadline unless asked, grace 0: never
 * end the worker) and the fire callback. The thread starts now when timeout
 * is set, else at the first entry that asks for a deadline. Returns 0, or -1
 * with err set. */
int deadline_start(long timeout_ms, long grace_ms, deadline_fire_fn fire, void *ud, char *err,
                   size_t errlen);
/* Stops and joins the thread; deadlines are off until the next start. */
void deadline_stop(void);
/* --timeout as given to deadline_start (0 when not started). */
long deadline_default_ms(void);

/* The loop begins an entry: ms from now (negative: the default; 0: none).
 * what says what runs, for the log; it must stay valid until disarm. */
void deadline_arm(long ms, const char *what);
/* The entry returned. Returns DEADLINE_FIRED and DEADLINE_RAISED flags. */
int deadline_disarm(void);
/* Changes the running entry's deadline to ms from now (0: none). Returns 0,
 * or -1 when no entry runs or the thread cannot start. */
int deadline_set(long ms);
/* Milliseconds left to the running entry (0 when past), or -1 for none. */
long deadline_remaining_ms(void);
/* On the loop thread: 1 when the thread found the running entry past its
 * deadline (and fired for it). */
int deadline_expired(void);
/* The running entry is being told it expired: counts a hit (once per entry)
 * and returns the entry's deadline in ms. */
long deadline_raise(void);
/* 1 when the running entry was told it expired. */
int deadline_raised(void);
/* Entries that hit their deadline since the start. */
uint64_t deadline_hits(void);

#endif
