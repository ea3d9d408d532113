/* ltask_co: coroutine tasks (mw.go) and what they wait on. A task parks
 * (mw.sleep, mw.receive, conn:read through ltask_park), is woken by a timer,
 * a message or ltask_wake, and is resumed from the loop, never inside Lua. */
#include "config.h"

#include "lcall.h"
#include "log.h"
#include "lslots.h"
#include "ltask_int.h"
#include "task.h"
#include "timer.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

/* What a yield meant: parked on something, stopped, or a plain
 * coroutine.yield(), which goes to the back of the run queue. */
static void after_yield(struct ltask *b)
{
    lua_settop(b->co, 0);
    if (b->dying) {
        b->dying = 0;
        ltask_end(b, REASON_STOPPED);
    } else if (b->wait == WAIT_NONE) {
        b->wait = WAIT_READY;
        if (task_wake(b->task) < 0) {
            log_error("task %u: cannot be queued: %s", b->id, strerror(errno));
            ltask_end(b, REASON_ERROR);
        }
    }
}

/* Resumes b with the values on its stack and then those push pushes. */
static void resume(struct ltask *b, lcall_push_fn push, void *ud)
{
    lua_State *L = ltask_state;
    int nvalues = b->nvalues;
    b->wait = WAIT_NONE;
    b->nvalues = 0;
    lslots_push(L, b->co_slot); /* the coroutine stays reachable while it runs */
    ltask_active = b;
    int rc = lcall_resume_timed(L, b->co, nvalues, push, ud, b->timeout_ms, "a coroutine task");
    ltask_active = NULL;
    if (rc < 0) {
        lua_remove(L, -2);
        b->dying = 0;
        ltask_log_failure("coroutine", b->id);
        ltask_end(b, ltask_failure_reason(rc));
        return;
    }
    lua_pop(L, 1);
    if (rc == 1)
        after_yield(b);
    else {
        b->dying = 0;
        ltask_end(b, REASON_DONE);
    }
}

/* Takes the oldest message off b's mailbox into msg and stops listening;
 * 0 if there is none. */
static int take_message(struct ltask *b, uintptr_t *msg)
{
    if (!task_receive(b->task, msg))
        return 0;
    task_listen(b->task, 0);
    if (b->timer)
        timer_cancel(b->timer);
    b->timer = NULL;
    return 1;
}

/* Pushes the message in the slot *ud names, and frees the slot. */
static int push_message(lua_State *L, void *ud)
{
    int slot = (int)*(uintptr_t *)ud;
    lslots_push(L, slot);
    lslots_free(L, slot);
    return 1;
}

/* What a receive that timed out returns. */
static int push_timeout(lua_State *L, void *ud)
{
    (void)ud;
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
}

void ltask_co_ready(struct task *t, void *ud)
{
    struct ltask *b = ud;
    uintptr_t msg;
    (void)t;
    if (b->wait == WAIT_RECEIVE && take_message(b, &msg))
        resume(b, push_message, &msg);
    else if (b->wait == WAIT_TIMEOUT)
        resume(b, push_timeout, NULL);
    else if (b->wait == WAIT_READY)
        resume(b, NULL, NULL);
}

/* A sleep ended, or a receive timed out. */
static void on_wait_timer(struct timer *timer, void *ud)
{
    struct ltask *b = ud;
    (void)timer;
    b->timer = NULL;
    if (b->wait == WAIT_RECEIVE)
        task_listen(b->task, 0);
    /* nil, "timeout" are pushed when it resumes, under protection */
    b->wait = b->wait == WAIT_RECEIVE ? WAIT_TIMEOUT : WAIT_READY;
    if (task_wake(b->task) < 0) {
        log_error("task %u: cannot be queued: %s", b->id, strerror(errno));
        ltask_end(b, REASON_ERROR);
    }
}

struct ltask *ltask_co_running(lua_State *L, const char *what)
{
    if (!ltask_active || ltask_active->co != L)
        luaL_error(L, "%s: not called from a coroutine task (mw.go)", what);
    return ltask_active;
}

static void start_wait_timer(lua_State *L, struct ltask *b, double ms, const char *what)
{
    b->timer = timer_start(ms, 0, on_wait_timer, b);
    if (!b->timer)
        luaL_error(L, "%s: %s", what, strerror(errno));
}

int ltask_co_sleep(lua_State *L, double ms)
{
    struct ltask *b = ltask_co_running(L, "sleep");
    if (ms > 0) {
        start_wait_timer(L, b, ms, "sleep");
        b->wait = WAIT_SLEEP;
    }
    return lua_yield(L, 0);
}

int ltask_co_receive(lua_State *L, struct ltask *b, double ms)
{
    uintptr_t msg;
    if (take_message(b, &msg))
        return push_message(L, &msg);
    if (ms == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    if (ms > 0)
        start_wait_timer(L, b, ms, "receive");
    b->wait = WAIT_RECEIVE;
    if (task_listen(b->task, 1) < 0)
        return luaL_error(L, "receive: %s", strerror(errno));
    return lua_yield(L, 0);
}

/* ---- the C API for other bindings ---- */

struct ltask *ltask_go(lua_State *L, int nargs)
{
    lua_State *co = lua_newthread(L);
    lua_insert(L, -2 - nargs);
    lua_xmove(L, co, nargs + 1);
    struct ltask *b = ltask_new(L, co);
    lua_insert(L, -2);
    b->co_slot = lslots_put(L);
    b->nvalues = nargs;
    b->wait = WAIT_READY;
    if (task_wake(b->task) < 0) {
        ltask_end(b, REASON_ERROR);
        luaL_error(L, "go: %s", strerror(errno));
    }
    return b;
}

struct ltask *ltask_current(lua_State *L)
{
    return ltask_active && ltask_active->co == L ? ltask_active : NULL;
}

int ltask_park(lua_State *L)
{
    ltask_co_running(L, "park")->wait = WAIT_PARKED;
    return lua_yield(L, 0);
}

/* What a deferred wake pushes: the caller's values, moved to the task. */
struct wake {
    struct ltask *task;
    lcall_push_fn push;
    void *ud;
};

static int push_to_task(lua_State *L, void *ud)
{
    struct wake *w = ud;
    int n = w->push(L, w->ud);
    lua_xmove(L, w->task->co, n);
    w->task->nvalues = n;
    return 0;
}

int ltask_wake(lua_State *L, struct ltask *b, lcall_push_fn push, void *ud)
{
    if (!b->task || b->dying || b->wait != WAIT_PARKED)
        return -1;
    if (lcall_depth() == 0 && !ltask_active) {
        resume(b, push, ud);
        return 0;
    }
    struct wake w = {b, push, ud};
    int rc = lcall_protect(L, 0, push_to_task, &w);
    if (rc < 0) {
        ltask_log_failure("wake", b->id);
        ltask_end(b, ltask_failure_reason(rc));
        return -1;
    }
    b->wait = WAIT_READY;
    if (task_wake(b->task) == 0)
        return 0;
    ltask_end(b, REASON_ERROR);
    return -1;
}
