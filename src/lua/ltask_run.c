/* ltask_run: tasks run from the run queue and how every task ends. Callback
 * tasks (mw.spawn) run once; a mailbox task's on_message runs per message;
 * an ended task is stopped, its owner told, on_stop called, its slots freed. */
#include "config.h"

#include "lcall.h"
#include "log.h"
#include "lslots.h"
#include "ltask_int.h"
#include "task.h"
#include "timer.h"

#include <lauxlib.h>
#include <stdint.h>

static const char *const reason_names[] = {"done", "stopped", "error", "deadline", "out of memory"};

lua_State *ltask_state;
struct ltask *ltask_active;
static ltask_end_fn end_hook; /* told when a task with an owner ends */
static size_t spawned;        /* callback tasks queued, not yet run */

enum reason ltask_failure_reason(int rc)
{
    return rc == LCALL_DEADLINE ? REASON_DEADLINE
           : rc == LCALL_ERRMEM ? REASON_MEMORY
                                : REASON_ERROR;
}

void ltask_log_failure(const char *what, unsigned id)
{
    lua_State *L = ltask_state;
    if (id)
        log_error("task %u: %s: %s", id, what, lua_tostring(L, -1));
    else
        log_error("%s: %s", what, lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* ---- callback tasks ---- */

/* Pushes what mw.spawn stored (the word of its queue entry): the function,
 * or the function and its arguments unpacked from their table. */
static int push_spawned(lua_State *L, void *ud)
{
    uintptr_t word = (uintptr_t)ud;
    int slot = (int)(word >> 8), nargs = (int)(word & 0xff);
    lslots_push(L, slot);
    lslots_free(L, slot);
    if (nargs == 0)
        return 0;
    luaL_checkstack(L, nargs + 1, "spawn");
    int packed = lua_gettop(L);
    for (int i = 1; i <= nargs + 1; i++)
        lua_rawgeti(L, packed, i);
    lua_remove(L, packed);
    return nargs;
}

static void run_spawned(void *ud)
{
    spawned--;
    if (lcall_timed(ltask_state, push_spawned, ud, -1, "a spawned task") < 0)
        ltask_log_failure("spawned task", 0);
}

int ltask_spawn(int slot, int nargs)
{
    if (task_spawn(run_spawned, (void *)(((uintptr_t)slot << 8) | (uintptr_t)nargs)) < 0)
        return -1;
    spawned++;
    return 0;
}

int ltask_set_base(struct event_base *base)
{
    timer_set_base(base);
    if (!base)
        spawned = 0;
    return task_set_base(base);
}

size_t ltask_count(void)
{
    return spawned + task_count();
}

/* ---- mailbox tasks ---- */

/* A mailbox task's callback and what it is called with. */
struct mailbox_call {
    struct ltask *task;
    const char *field; /* on_message or on_stop */
    uintptr_t msg;     /* on_message: the message's slot (0: nil) */
    int stopping;      /* on_stop: the reason comes instead of a message */
};

/* Pushes self[field] (the task's table holds it), self, then the message
 * (freeing its slot) or the reason the task ended. */
static int push_mailbox_call(lua_State *L, void *ud)
{
    struct mailbox_call *c = ud;
    lslots_push(L, c->task->self_slot);
    lua_getfenv(L, -1);
    lua_getfield(L, -1, c->field);
    lua_replace(L, -2);
    lua_insert(L, -2);
    if (c->stopping) {
        lua_pushstring(L, reason_names[c->task->reason]);
    } else {
        lslots_push(L, (int)c->msg);
        lslots_free(L, (int)c->msg);
    }
    return 2;
}

void ltask_mailbox_ready(struct task *t, void *ud)
{
    struct ltask *b = ud;
    struct mailbox_call c = {b, "on_message", 0, 0};
    if (!task_receive(t, &c.msg))
        return;
    ltask_active = b;
    int rc = lcall_timed(ltask_state, push_mailbox_call, &c, b->timeout_ms, "a task's on_message");
    ltask_active = NULL;
    if (rc < 0) {
        ltask_log_failure("on_message", b->id);
        ltask_end(b, ltask_failure_reason(rc));
    }
}

/* ---- ending tasks ---- */

/* Lets go of the task's object and coroutine, touching it no more after: an
 * allocation may then collect it. A task that ran out of memory may hold
 * much of the heap (its coroutine's stack, its table): that is collected
 * before the next entry. */
static void release(struct ltask *b)
{
    int co_slot = b->co_slot, self_slot = b->self_slot;
    int memory = b->reason == REASON_MEMORY;
    b->co_slot = b->self_slot = 0;
    lslots_free(ltask_state, co_slot);
    lslots_free(ltask_state, self_slot); /* b may be collected from here on */
    if (memory)
        lcall_collect_soon();
}

/* Messages are slots; they are given back before the mailbox goes. */
static void drop_messages(struct ltask *b)
{
    uintptr_t msg;
    while (task_receive(b->task, &msg))
        lslots_free(ltask_state, (int)msg);
}

/* Pushes on_stop, self and the reason; nothing to call (-1) when the task
 * has no on_stop. */
static int push_on_stop(lua_State *L, void *ud)
{
    int n = push_mailbox_call(L, ud);
    return lua_isfunction(L, -3) ? n : -1;
}

/* on_stop(self, reason) of a mailbox task, from the run queue. */
static void run_on_stop(void *ud)
{
    struct ltask *b = ud;
    struct mailbox_call c = {b, "on_stop", 0, 1};
    if (lcall_timed(ltask_state, push_on_stop, &c, b->timeout_ms, "a task's on_stop") < 0)
        ltask_log_failure("on_stop", b->id);
    release(b);
}

void ltask_end(struct ltask *b, enum reason reason)
{
    if (!b->task || b->dying)
        return;
    if (b == ltask_active && b->co) {
        b->dying = 1;
        return;
    }
    drop_messages(b);
    task_stop(b->task);
    b->task = NULL;
    b->reason = (unsigned char)reason;
    if (b->timer)
        timer_cancel(b->timer);
    b->timer = NULL;
    if (b->owner && end_hook)
        end_hook(b, reason_names[reason], b->owner);
    if (b->co || task_spawn(run_on_stop, b) < 0)
        release(b);
}

void ltask_stop(struct ltask *b)
{
    ltask_end(b, REASON_STOPPED);
}

void ltask_set_end_hook(ltask_end_fn fn)
{
    end_hook = fn;
}
