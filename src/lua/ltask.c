#include "config.h"

#include "ltask.h"

#include "lbox.h"
#include "lcall.h"
#include "log.h"
#include "task.h"
#include "timer.h"

#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char TASK_META[] = "moonwire.task";
#define SPAWN_MAX_ARGS 255 /* nargs rides in the low byte of the queue entry */
#define SLOTS_KEEP 16384   /* a slot table up to this size (128 KiB) is never rebuilt */
#define SLOTS_MIN 64       /* nor rebuilt smaller than this */

/* What a coroutine task is waiting for. */
enum wait { WAIT_NONE, WAIT_READY, WAIT_SLEEP, WAIT_RECEIVE, WAIT_PARKED };
enum reason { REASON_DONE, REASON_STOPPED, REASON_ERROR, REASON_DEADLINE };
static const char *const reason_names[] = {"done", "stopped", "error", "deadline"};

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

static lua_State *main_L;         /* the state tasks run in */
static ltask_end_fn end_hook;     /* told when a task with an owner ends */
static struct ltask *current;     /* the task whose code runs now, or NULL */
static size_t spawned;            /* callback tasks queued, not yet run */
static unsigned last_id;
/* Slots are allocated lowest first from a bitmap, so live values gather at
 * the bottom and the table can be rebuilt smaller once a burst is over. */
static struct {
    int ref;        /* registry ref of the table */
    uint64_t *used; /* bit i: slot i + 1 is live */
    size_t words;
    size_t hint;    /* no free bit below this word */
    int top;        /* the highest live slot, 0 when none */
    int size;       /* what the table grew to since it was last rebuilt */
} slots = {LUA_NOREF, NULL, 0, 0, 0, 0};

/* ---- slots ---- */

static int grow_bitmap(void)
{
    size_t words = slots.words ? slots.words * 2 : 16;
    uint64_t *used = realloc(slots.used, words * sizeof *used);
    if (!used)
        return -1;
    memset(used + slots.words, 0, (words - slots.words) * sizeof *used);
    slots.used = used;
    slots.words = words;
    return 0;
}

static int take_lowest_free(void)
{
    while (slots.hint < slots.words && slots.used[slots.hint] == UINT64_MAX)
        slots.hint++;
    if (slots.hint == slots.words && grow_bitmap() < 0)
        return 0;
    int bit = __builtin_ctzll(~slots.used[slots.hint]);
    slots.used[slots.hint] |= UINT64_C(1) << bit;
    int slot = (int)(slots.hint * 64) + bit + 1;
    if (slot > slots.top)
        slots.top = slot;
    if (slot > slots.size)
        slots.size = slot;
    return slot;
}

int ltask_slot_put(lua_State *L)
{
    int slot = lua_isnil(L, -1) ? 0 : take_lowest_free();
    if (slot == 0 && !lua_isnil(L, -1))
        luaL_error(L, "out of memory");
    if (slot == 0) {
        lua_pop(L, 1);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_insert(L, -2);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    return slot;
}

void ltask_slot_push(lua_State *L, int slot)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_rawgeti(L, -1, slot);
    lua_remove(L, -2);
}

static int highest_live(int below)
{
    for (size_t w = (size_t)(below + 63) / 64; w-- > 0;)
        if (slots.used[w])
            return (int)(w * 64) + 64 - __builtin_clzll(slots.used[w]);
    return 0;
}

/* A table's array part never shrinks by itself: when the live slots fit in
 * a quarter of it, they move to a fresh table of their size. */
static void shrink(lua_State *L)
{
    if (slots.size <= SLOTS_KEEP || slots.top > slots.size / 4)
        return;
    int size = SLOTS_MIN; /* a power of two: the same size whatever is left live */
    while (size < slots.top)
        size *= 2;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_createtable(L, size, 0);
    for (int i = 1; i <= slots.top; i++) {
        lua_rawgeti(L, -2, i);
        lua_rawseti(L, -2, i);
    }
    lua_rawseti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_pop(L, 1);
    slots.size = size;
}

void ltask_slot_free(lua_State *L, int slot)
{
    if (slot == 0)
        return;
    size_t w = (size_t)(slot - 1) / 64;
    slots.used[w] &= ~(UINT64_C(1) << ((slot - 1) % 64));
    if (w < slots.hint)
        slots.hint = w;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slots.ref);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    if (slot == slots.top) {
        slots.top = highest_live(slot);
        shrink(L);
    }
}

/* ---- callback tasks ---- */

static void log_failure(const char *what, unsigned id)
{
    lua_State *L = main_L;
    if (id)
        log_error("task %u: %s: %s", id, what, lua_tostring(L, -1));
    else
        log_error("%s: %s", what, lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* Pushes what mw.spawn stored: the function, or the function and its
 * arguments unpacked from their table. */
static void push_spawned(lua_State *L, int slot, int nargs)
{
    ltask_slot_push(L, slot);
    ltask_slot_free(L, slot);
    if (nargs == 0)
        return;
    int packed = lua_gettop(L);
    for (int i = 1; i <= nargs + 1; i++)
        lua_rawgeti(L, packed, i);
    lua_remove(L, packed);
}

static void run_spawned(void *ud)
{
    uintptr_t word = (uintptr_t)ud;
    int nargs = (int)(word & 0xff);
    spawned--;
    push_spawned(main_L, (int)(word >> 8), nargs);
    if (lcall_timed(main_L, nargs, -1, "a spawned task") < 0)
        log_failure("spawned task", 0);
}

/* mw.spawn(fn, ...): fn(...) runs once from the loop, after the current
 * callback. Without arguments the function alone is held: no table. */
static int mw_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 1;
    luaL_argcheck(L, nargs <= SPAWN_MAX_ARGS, SPAWN_MAX_ARGS + 2, "too many arguments");
    if (nargs > 0) {
        lua_createtable(L, nargs + 1, 0);
        lua_insert(L, 1);
        for (int i = nargs + 1; i >= 1; i--)
            lua_rawseti(L, 1, i);
    }
    int slot = ltask_slot_put(L);
    if (task_spawn(run_spawned, (void *)(((uintptr_t)slot << 8) | (uintptr_t)nargs)) < 0) {
        ltask_slot_free(L, slot);
        return luaL_error(L, "spawn: %s", strerror(errno));
    }
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

/* ---- ending tasks ---- */

static void release(struct ltask *b)
{
    ltask_slot_free(main_L, b->co_slot);
    ltask_slot_free(main_L, b->self_slot);
    b->co_slot = b->self_slot = 0;
}

/* Messages are slots; they are given back before the mailbox goes. */
static void drop_messages(struct ltask *b)
{
    uintptr_t msg;
    while (task_receive(b->task, &msg))
        ltask_slot_free(main_L, (int)msg);
}

/* on_stop(self, reason) of a mailbox task, from the run queue. */
static void run_on_stop(void *ud)
{
    struct ltask *b = ud;
    lua_State *L = main_L;
    ltask_slot_push(L, b->self_slot);
    lua_getfenv(L, -1);
    lua_getfield(L, -1, "on_stop");
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_pushstring(L, reason_names[b->reason]);
    if (!lua_isfunction(L, -3))
        lua_pop(L, 3);
    else if (lcall_timed(L, 2, b->timeout_ms, "a task's on_stop") < 0)
        log_failure("on_stop", b->id);
    release(b);
}

/* Ends a task now; a coroutine that is running ends at its next yield. */
static void end_task(struct ltask *b, enum reason reason)
{
    if (!b->task || b->dying)
        return;
    if (b == current && b->co) {
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

/* ---- coroutine tasks ---- */

/* What a yield meant: parked on something, stopped, or a plain
 * coroutine.yield(), which goes to the back of the run queue. */
static void after_yield(struct ltask *b)
{
    lua_settop(b->co, 0);
    if (b->dying) {
        b->dying = 0;
        end_task(b, REASON_STOPPED);
    } else if (b->wait == WAIT_NONE) {
        b->wait = WAIT_READY;
        if (task_wake(b->task) < 0) {
            log_error("task %u: cannot be queued: %s", b->id, strerror(errno));
            end_task(b, REASON_ERROR);
        }
    }
}

static void resume(struct ltask *b)
{
    lua_State *L = main_L;
    int nargs = b->nvalues;
    b->wait = WAIT_NONE;
    b->nvalues = 0;
    ltask_slot_push(L, b->co_slot); /* the coroutine stays reachable while it runs */
    current = b;
    int rc = lcall_resume_timed(L, b->co, nargs, b->timeout_ms, "a coroutine task");
    current = NULL;
    if (rc < 0) {
        lua_remove(L, -2);
        b->dying = 0;
        log_failure("coroutine", b->id);
        end_task(b, rc == LCALL_DEADLINE ? REASON_DEADLINE : REASON_ERROR);
        return;
    }
    lua_pop(L, 1);
    if (rc == 1)
        after_yield(b);
    else {
        b->dying = 0;
        end_task(b, REASON_DONE);
    }
}

/* Takes the oldest message onto L's stack and stops listening; 0 if none. */
static int take_message(struct ltask *b, lua_State *L)
{
    uintptr_t msg;
    if (!task_receive(b->task, &msg))
        return 0;
    ltask_slot_push(L, (int)msg);
    ltask_slot_free(L, (int)msg);
    task_listen(b->task, 0);
    if (b->timer)
        timer_cancel(b->timer);
    b->timer = NULL;
    return 1;
}

static void on_coroutine_ready(struct task *t, void *ud)
{
    struct ltask *b = ud;
    (void)t;
    if (b->wait == WAIT_RECEIVE && take_message(b, b->co))
        b->nvalues = 1;
    else if (b->wait != WAIT_READY)
        return;
    resume(b);
}

/* A sleep ended, or a receive timed out. */
static void on_wait_timer(struct timer *timer, void *ud)
{
    struct ltask *b = ud;
    (void)timer;
    b->timer = NULL;
    if (b->wait == WAIT_RECEIVE) {
        task_listen(b->task, 0);
        lua_pushnil(b->co);
        lua_pushliteral(b->co, "timeout");
        b->nvalues = 2;
    }
    b->wait = WAIT_READY;
    if (task_wake(b->task) < 0) {
        log_error("task %u: cannot be queued: %s", b->id, strerror(errno));
        end_task(b, REASON_ERROR);
    }
}

/* The running coroutine task, which L must be the own thread of. */
static struct ltask *running(lua_State *L, const char *what)
{
    if (!current || current->co != L)
        luaL_error(L, "%s: not called from a coroutine task (mw.go)", what);
    return current;
}

static void start_wait_timer(lua_State *L, struct ltask *b, double ms, const char *what)
{
    b->timer = timer_start(ms, 0, on_wait_timer, b);
    if (!b->timer)
        luaL_error(L, "%s: %s", what, strerror(errno));
}

/* mw.sleep(ms): yields for ms; 0 or nothing just lets the others run. */
static int mw_sleep(lua_State *L)
{
    double ms = luaL_optnumber(L, 1, 0);
    luaL_argcheck(L, ms >= 0, 1, "must not be negative");
    struct ltask *b = running(L, "sleep");
    if (ms > 0) {
        start_wait_timer(L, b, ms, "sleep");
        b->wait = WAIT_SLEEP;
    }
    return lua_yield(L, 0);
}

/* The next message; nil, "timeout" when timeout ms pass first. */
static int receive(lua_State *L, struct ltask *b, int idx)
{
    double ms = luaL_optnumber(L, idx, -1);
    luaL_argcheck(L, lua_isnoneornil(L, idx) || ms >= 0, idx, "must not be negative");
    if (take_message(b, L))
        return 1;
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

static int mw_receive(lua_State *L)
{
    return receive(L, running(L, "receive"), 1);
}

static int mw_self(lua_State *L)
{
    if (current && current->self_slot)
        ltask_slot_push(L, current->self_slot);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- task objects ---- */

static void on_mailbox_ready(struct task *t, void *ud)
{
    struct ltask *b = ud;
    lua_State *L = main_L;
    uintptr_t msg;
    if (!task_receive(t, &msg))
        return;
    ltask_slot_push(L, b->self_slot);
    lua_getfenv(L, -1);
    lua_getfield(L, -1, "on_message");
    lua_replace(L, -2);
    lua_insert(L, -2);
    ltask_slot_push(L, (int)msg);
    ltask_slot_free(L, (int)msg);
    current = b;
    int rc = lcall_timed(L, 2, b->timeout_ms, "a task's on_message");
    current = NULL;
    if (rc < 0) {
        log_failure("on_message", b->id);
        end_task(b, rc == LCALL_DEADLINE ? REASON_DEADLINE : REASON_ERROR);
    }
}

/* Pushes a new task object holding a new task, alive until the task ends. */
static struct ltask *new_task(lua_State *L, lua_State *co)
{
    struct ltask *b = lua_newuserdata(L, sizeof *b);
    *b = (struct ltask){.co = co, .id = ++last_id, .timeout_ms = -1};
    lbox_pushmetatable(L, TASK_META);
    lua_setmetatable(L, -2);
    b->task = task_new(co ? on_coroutine_ready : on_mailbox_ready, b);
    if (!b->task)
        luaL_error(L, "task: out of memory");
    lua_pushvalue(L, -1);
    b->self_slot = ltask_slot_put(L);
    return b;
}

static int check_callback(lua_State *L, int idx, const char *name, int required)
{
    lua_getfield(L, idx, name);
    int ok = lua_isfunction(L, -1) || (!required && lua_isnil(L, -1));
    lua_pop(L, 1);
    if (!ok)
        return luaL_argerror(L, idx, lua_pushfstring(L, "field '%s' must be a function", name));
    return 0;
}

/* mw.task{on_message = fn, on_stop = fn}: a mailbox task; the table is its
 * state, read and written through the task object. */
static int mw_task(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    check_callback(L, 1, "on_message", 1);
    check_callback(L, 1, "on_stop", 0);
    struct ltask *b = new_task(L, NULL);
    lua_pushvalue(L, 1);
    lua_setfenv(L, -2);
    if (task_listen(b->task, 1) < 0)
        return luaL_error(L, "task: %s", strerror(errno));
    return 1;
}

struct ltask *ltask_go(lua_State *L, int nargs)
{
    lua_State *co = lua_newthread(L);
    lua_insert(L, -2 - nargs);
    lua_xmove(L, co, nargs + 1);
    struct ltask *b = new_task(L, co);
    lua_insert(L, -2);
    b->co_slot = ltask_slot_put(L);
    b->nvalues = nargs;
    b->wait = WAIT_READY;
    if (task_wake(b->task) < 0) {
        end_task(b, REASON_ERROR);
        luaL_error(L, "go: %s", strerror(errno));
    }
    return b;
}

/* mw.go(fn, ...): fn(...) in a coroutine task; returns the task. */
static int mw_go(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    ltask_go(L, lua_gettop(L) - 1);
    return 1;
}

struct ltask *ltask_check(lua_State *L, int idx)
{
    return lbox_check(L, idx, TASK_META, "task");
}

static int task_send_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (!b->task || b->dying)
        return luaL_error(L, "send: task %d is stopped", (int)b->id);
    lua_settop(L, 2);
    int slot = ltask_slot_put(L);
    if (task_send(b->task, (uintptr_t)slot) < 0) {
        ltask_slot_free(L, slot);
        return luaL_error(L, "send: %s", strerror(errno));
    }
    return 0;
}

static int task_receive_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b != current || b->co != L)
        return luaL_error(L, "receive: task %d is not the running coroutine task", (int)b->id);
    return receive(L, b, 2);
}

/* t:stop(): true if it was live. A task stopping its own coroutine ends there. */
static int task_stop_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    int live = b->task && !b->dying;
    end_task(b, REASON_STOPPED);
    if (b->dying && b->co == L)
        return lua_yield(L, 0);
    lua_pushboolean(L, live);
    return 1;
}

static int task_alive_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushboolean(L, b->task && !b->dying);
    return 1;
}

/* __index: the methods (upvalue 1), then id, then a mailbox task's table. */
static int task_index_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "id") == 0)
        lua_pushinteger(L, (lua_Integer)b->id);
    else if (!b->co) {
        lua_getfenv(L, 1);
        lua_pushvalue(L, 2);
        lua_gettable(L, -2);
    } else
        lua_pushnil(L);
    return 1;
}

static int task_newindex_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b->co)
        return luaL_error(L, "a coroutine task has no fields to set");
    lua_getfenv(L, 1);
    lua_insert(L, 2);
    lua_settable(L, 2);
    return 0;
}

static int task_tostring_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    lua_pushfstring(L, "task %d%s", (int)b->id, b->task ? "" : " (ended)");
    return 1;
}

/* Only at lua_close can a live task be collected: free its C side. */
static int task_gc_l(lua_State *L)
{
    struct ltask *b = ltask_check(L, 1);
    if (b->timer)
        timer_cancel(b->timer);
    if (b->task)
        task_stop(b->task);
    b->timer = NULL;
    b->task = NULL;
    return 0;
}

/* ---- the C API for other bindings ---- */

struct ltask *ltask_current(lua_State *L)
{
    return current && current->co == L ? current : NULL;
}

int ltask_park(lua_State *L)
{
    running(L, "park")->wait = WAIT_PARKED;
    return lua_yield(L, 0);
}

int ltask_wake(lua_State *L, struct ltask *b, int nvalues)
{
    if (!b->task || b->dying || b->wait != WAIT_PARKED) {
        lua_pop(L, nvalues);
        return -1;
    }
    lua_xmove(L, b->co, nvalues);
    b->nvalues = nvalues;
    b->wait = WAIT_READY;
    if (lcall_depth() == 0 && !current) {
        resume(b);
        return 0;
    }
    if (task_wake(b->task) == 0)
        return 0;
    end_task(b, REASON_ERROR);
    return -1;
}

void ltask_stop(struct ltask *b)
{
    end_task(b, REASON_STOPPED);
}

void ltask_set_timeout(struct ltask *b, long timeout_ms)
{
    b->timeout_ms = timeout_ms > INT_MAX ? INT_MAX : timeout_ms < -1 ? -1 : (int)timeout_ms;
}

void ltask_set_end_hook(ltask_end_fn fn)
{
    end_hook = fn;
}

void ltask_set_owner(struct ltask *b, void *owner)
{
    b->owner = owner;
}

void ltask_push(lua_State *L, struct ltask *b)
{
    if (b->self_slot)
        ltask_slot_push(L, b->self_slot);
    else
        lua_pushnil(L);
}

/* ---- registration ---- */

static const luaL_Reg task_methods[] = {
    {"send", task_send_l},
    {"receive", task_receive_l},
    {"stop", task_stop_l},
    {"alive", task_alive_l},
    {NULL, NULL},
};

static const luaL_Reg task_meta[] = {
    {"__newindex", task_newindex_l},
    {"__tostring", task_tostring_l},
    {"__gc", task_gc_l},
    {NULL, NULL},
};

static const luaL_Reg task_functions[] = {
    {"spawn", mw_spawn}, {"task", mw_task}, {"go", mw_go},
    {"sleep", mw_sleep}, {"receive", mw_receive}, {"self", mw_self},
    {NULL, NULL},
};

static void register_type(lua_State *L)
{
    if (!lbox_newmetatable(L, TASK_META, "task"))
        return;
    luaL_register(L, NULL, task_meta);
    lua_newtable(L);
    luaL_register(L, NULL, task_methods);
    lua_pushcclosure(L, task_index_l, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void ltask_register(lua_State *L)
{
    main_L = L;
    register_type(L);
    lua_newtable(L);
    slots.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    free(slots.used);
    slots.used = NULL;
    slots.words = slots.hint = 0;
    slots.top = slots.size = 0;
    luaL_register(L, NULL, task_functions);
}
