/* ltask_int.h: what the files of the ltask module share, and no one else:
 * the task object, the state tasks run in, and the task running now.
 * ltask.c binds; ltask_run.c runs and ends tasks; ltask_co.c does coroutines. */
#ifndef MW_LTASK_INT_H
#define MW_LTASK_INT_H

#include "ltask.h"

#include <lua.h>

struct task;
struct timer;

#define LTASK_SPAWN_MAX_ARGS 255 /* nargs rides in the low byte of the queue entry */

/* What a coroutine task is waiting for; WAIT_TIMEOUT: ready, its receive
 * timed out (it resumes with nil, "timeout"). */
enum wait { WAIT_NONE, WAIT_READY, WAIT_SLEEP, WAIT_RECEIVE, WAIT_PARKED, WAIT_TIMEOUT };
enum reason { REASON_DONE, REASON_STOPPED, REASON_ERROR, REASON_DEADLINE, REASON_MEMORY };

/* The Lua object of a mailbox or coroutine task. */
struct ltask {
    struct task *task;   /* NULL once the task has ended */
    lua_State *co;       /* its coroutine; NULL for a mailbox task */
    struct timer *timer; /* sleep or receive timeout, while one runs */
    void *owner;         /* told by end_hook when the task ends */
    unsigned id;
    int timeout_ms; /* deadline of each slice or message; negative: --timeout */
    int self_slot;  /* keeps this object alive while the task lives */
    int co_slot;
    int nvalues;         /* on co's stack, for its next resume */
    unsigned char wait;  /* enum wait */
    unsigned char dying; /* stopped while its coroutine runs */
    unsigned char reason;
};

/* A parked coroutine task is mostly LuaJIT's (its thread and first stack);
 * this object is what moonwire adds to it, kept to 56 bytes. */
_Static_assert(sizeof(struct ltask) <= 56, "struct ltask grew past 56 bytes");

extern lua_State *ltask_state;     /* the state tasks run in (ltask_register) */
extern struct ltask *ltask_active; /* the task whose code runs now, or NULL */

/* ---- ltask.c ---- */

/* Pushes a new task object holding a new task (a coroutine task's when co
 * is not NULL), alive until the task ends. Raises on out of memory. */
struct ltask *ltask_new(lua_State *L, lua_State *co);

/* ---- ltask_run.c ---- */

/* Queues the function (and its packed arguments) in slot to run once from
 * the loop, as mw.spawn does. Returns 0, or -1 (errno set). */
int ltask_spawn(int slot, int nargs);
/* A mailbox task's ready function: on_message(self, msg) for one message. */
void ltask_mailbox_ready(struct task *t, void *ud);
/* Ends a task now; a coroutine that is running ends at its next yield. */
void ltask_end(struct ltask *b, enum reason reason);
/* Why a task whose entry failed with lcall's error code rc ends. */
enum reason ltask_failure_reason(int rc);
/* Logs what failed, with the message on top of ltask_state (popped). */
void ltask_log_failure(const char *what, unsigned id);

/* ---- ltask_co.c ---- */

/* A coroutine task's ready function: resumes it if it is ready. */
void ltask_co_ready(struct task *t, void *ud);
/* The running coroutine task, which L must be the own thread of; raises
 * "<what>: not called from a coroutine task (mw.go)" otherwise. */
struct ltask *ltask_co_running(lua_State *L, const char *what);
/* mw.sleep's work: yields L's task for ms (0: to the back of the queue). */
int ltask_co_sleep(lua_State *L, double ms);
/* mw.receive's work for b, L's running task: the next message; nil,
 * "timeout" when ms pass first (negative: no timeout). May yield. */
int ltask_co_receive(lua_State *L, struct ltask *b, double ms);

#endif
