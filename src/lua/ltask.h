/* ltask: tasks as Lua sees them: mw.spawn (callback tasks), mw.task
 * (mailbox tasks), mw.go (coroutine tasks) with mw.sleep and mw.receive.
 * Validates, converts and calls task.c and timer.c; enters Lua only through
 * lcall and lcall_resume. Also the C API other bindings use to park the
 * running coroutine task and wake it (conn:read in serve handlers).
 *
 * Its rooms: ltask.c the bindings (mw.*, the task object); ltask_run.c
 * callback and mailbox tasks and how any task ends; ltask_co.c coroutine
 * tasks: go, sleep, receive, park, wake, resume. Values held in lslots.
 *
 * Parking and waking, from a C function called by a coroutine task:
 *
 *     static int conn_read_l(lua_State *L) {
 *         struct ltask *t = ltask_current(L);  // NULL: not in a task -> error
 *         ... remember t (and ltask_push + luaL_ref it if it must outlive ...)
 *         return ltask_park(L);                // yields
 *     }
 *     // later, from a loop callback (or even from inside Lua), with a push
 *     // function that pushes the values, run under protection (lcall.h):
 *     static int push_data(lua_State *L, void *ud) {
 *         lua_pushlstring(L, ...);
 *         return 1;
 *     }
 *     ltask_wake(L, t, push_data, &data);  // conn_read_l returns those values
 *
 * A handle stays valid memory while the task is live, and for as long as a
 * reference to its Lua object (ltask_push) is held; ltask_wake on a task that
 * has ended or is not parked returns -1 without calling push. */
#ifndef MW_LTASK_H
#define MW_LTASK_H

#include "lcall.h"

#include <lua.h>

struct event_base;
struct ltask;

/* Called once when a task with an owner ends; reason is "done", "stopped",
 * "error", "deadline" or "out of memory". */
typedef void (*ltask_end_fn)(struct ltask *task, const char *reason, void *owner);

/* Adds spawn, task, go, sleep, receive and self to the module table on top
 * of the stack, registers the task type; L becomes the state tasks run in. */
void ltask_register(lua_State *L);
/* The loop tasks and timers run on; NULL at shutdown, once the Lua state
 * is closed, drops what is still queued. Returns 0, or -1 (ENOMEM). */
int ltask_set_base(struct event_base *base);
/* Callback tasks queued and not yet run, plus tasks (mailbox, coroutine)
 * started and not yet ended: what mw.stats().tasks reports. */
size_t ltask_count(void);

/* Starts a coroutine task running the function below nargs arguments on L's
 * stack (it first runs from the run queue, as mw.go does). Pops them and
 * pushes the task object. Raises on out of memory. */
struct ltask *ltask_go(lua_State *L, int nargs);
/* The coroutine task whose own coroutine is L, or NULL (the main thread, a
 * callback task, a coroutine the task made itself). */
struct ltask *ltask_current(lua_State *L);
/* Parks the running coroutine task: `return ltask_park(L);` from a C
 * function it called. It yields; the C function's results are the values
 * given to ltask_wake. Raises when L is not a coroutine task's own thread. */
int ltask_park(lua_State *L);
/* Resumes the task parked by ltask_park with the values push pushes (under
 * protection, as lcall does): at once when called from the loop (no Lua
 * running), else from the run queue, so no coroutine is ever resumed inside
 * another. Returns 0, or -1 when the task is not parked or has ended (push
 * not called), or when the values could not be pushed (it is then ended
 * with reason "error"). */
int ltask_wake(lua_State *L, struct ltask *task, lcall_push_fn push, void *ud);
/* Ends the task as t:stop() does (from outside its coroutine). */
void ltask_stop(struct ltask *task);
/* The deadline of each of the task's slices or messages, in ms (negative:
 * --timeout; 0: none). A slice past it ends the task with reason "deadline". */
void ltask_set_timeout(struct ltask *task, long timeout_ms);
/* The function told when a task with an owner ends, one for the process (the
 * connections' serve tasks): a pointer per task rather than a function and a
 * pointer keeps a task 8 bytes smaller. */
void ltask_set_end_hook(ltask_end_fn fn);
/* Sets the task's owner, given to the end hook (NULL: none, nothing told). */
void ltask_set_owner(struct ltask *task, void *owner);
/* Pushes the task's object (nil once it has ended and been released). */
void ltask_push(lua_State *L, struct ltask *task);
/* The task object at idx, else an argument error ("task expected, got ..."). */
struct ltask *ltask_check(lua_State *L, int idx);

#endif
