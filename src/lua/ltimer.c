/* ltimer: the bindings of timers: mw.after, mw.every and the timer object.
 * The callback and the object are held in lslots while the timer is
 * pending; it fires from the loop through lcall. */
#include "config.h"

#include "ltimer.h"

#include "lbox.h"
#include "lcall.h"
#include "log.h"
#include "lslots.h"
#include "timer.h"

#include <errno.h>
#include <lauxlib.h>
#include <string.h>

static const char TIMER_META[] = "moonwire.timer";

/* The Lua object of a timer. fn and the object itself are held in slots
 * while it is pending, since only the C timer refers to them then. */
struct ltimer {
    struct timer *timer; /* NULL once fired (one-shot) or cancelled */
    int fn_slot, self_slot;
    double ms;
    unsigned char repeat;
};

static lua_State *main_L;
static size_t pending;

size_t ltimer_count(void)
{
    return pending;
}

static struct ltimer *check_timer(lua_State *L, int idx)
{
    return lbox_check(L, idx, TIMER_META, "timer");
}

/* Forgets the C timer (which the caller cancels or which is being freed)
 * and lets go of the callback and the object, last: once it is let go of,
 * the object may be collected by any allocation. */
static void settle(struct ltimer *b)
{
    int fn_slot = b->fn_slot, self_slot = b->self_slot;
    b->timer = NULL;
    b->fn_slot = b->self_slot = 0;
    pending--;
    lslots_free(main_L, fn_slot);
    lslots_free(main_L, self_slot);
}

/* Pushes fn and the timer object. A one-shot timer is settled once they are
 * on the stack, so cancelling it inside is a harmless no-op; a copy of the
 * object below them, in the entry's own frame, keeps it alive through the
 * call (fn may not keep its argument, and on_fire reads it after). */
static int push_fire(lua_State *L, void *ud)
{
    struct ltimer *b = ud;
    lslots_push(L, b->self_slot);
    lslots_push(L, b->fn_slot);
    lua_pushvalue(L, -2);
    if (!b->repeat)
        settle(b);
    return 1;
}

/* fn(timer) from the loop. The object is still valid memory when lcall
 * returns: nothing is allocated, so nothing collected, before it is read. */
static void on_fire(struct timer *timer, void *ud)
{
    struct ltimer *b = ud;
    lua_State *L = main_L;
    int rc = lcall_timed(L, push_fire, b, -1, "a timer callback");
    if (!b->repeat && b->timer) /* the entry failed before its push */
        settle(b);
    if (rc == 0)
        return;
    int cancelled = b->repeat && b->timer == timer;
    log_error("timer: %s%s", lua_tostring(L, -1),
              cancelled ? "\nrepeating timer cancelled after this error" : "");
    lua_pop(L, 1);
    if (cancelled) {
        timer_cancel(timer);
        settle(b);
    }
}

static int start(lua_State *L, int repeat)
{
    double ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, repeat ? ms > 0 : ms >= 0, 1,
                  repeat ? "interval must be positive" : "must not be negative");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    struct ltimer *b = lua_newuserdata(L, sizeof *b);
    *b = (struct ltimer){.ms = ms, .repeat = (unsigned char)repeat};
    lbox_pushmetatable(L, TIMER_META);
    lua_setmetatable(L, -2);
    b->timer = timer_start(ms, repeat, on_fire, b);
    if (!b->timer)
        return luaL_error(L, "%s: %s", repeat ? "every" : "after", strerror(errno));
    pending++;
    lua_pushvalue(L, 2);
    b->fn_slot = lslots_put(L);
    lua_pushvalue(L, -1);
    b->self_slot = lslots_put(L);
    return 1;
}

/* mw.after(ms, fn): fn(timer) once, ms from now. Returns the timer. */
static int mw_after(lua_State *L)
{
    return start(L, 0);
}

/* mw.every(ms, fn): fn(timer) every ms until cancelled. Returns the timer. */
static int mw_every(lua_State *L)
{
    return start(L, 1);
}

/* timer:cancel(): true if it was pending. Safe inside its own callback and twice. */
static int timer_cancel_l(lua_State *L)
{
    struct ltimer *b = check_timer(L, 1);
    struct timer *timer = b->timer;
    lua_pushboolean(L, timer != NULL);
    if (timer) {
        settle(b);
        timer_cancel(timer);
    }
    return 1;
}

static int timer_pending_l(lua_State *L)
{
    lua_pushboolean(L, check_timer(L, 1)->timer != NULL);
    return 1;
}

static int timer_tostring_l(lua_State *L)
{
    struct ltimer *b = check_timer(L, 1);
    lua_pushfstring(L, "timer (%s %f ms%s)", b->repeat ? "every" : "after", b->ms,
                    b->timer ? "" : ", done");
    return 1;
}

/* Only at lua_close can a pending timer be collected: free its C side. */
static int timer_gc_l(lua_State *L)
{
    struct ltimer *b = check_timer(L, 1);
    if (b->timer)
        timer_cancel(b->timer);
    b->timer = NULL;
    return 0;
}

static const luaL_Reg timer_methods[] = {
    {"cancel", timer_cancel_l},
    {"pending", timer_pending_l},
    {NULL, NULL},
};

static const luaL_Reg timer_functions[] = {
    {"after", mw_after},
    {"every", mw_every},
    {NULL, NULL},
};

void ltimer_register(lua_State *L)
{
    main_L = L;
    pending = 0;
    if (lbox_newmetatable(L, TIMER_META, "timer")) {
        lua_newtable(L);
        luaL_register(L, NULL, timer_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, timer_tostring_l);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, timer_gc_l);
        lua_setfield(L, -2, "__gc");
        lua_pop(L, 1);
    }
    luaL_register(L, NULL, timer_functions);
}
