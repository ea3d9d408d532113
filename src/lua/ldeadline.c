#include "config.h"

#include "ldeadline.h"

#include "deadline.h"

#include <lauxlib.h>
#include <stdatomic.h>
#include <stdio.h>

/* The state the hook is set on: written before the thread starts. */
static lua_State *_Atomic hooked_state;

/* Where the hook raised last, for a caller that words the error its own way
 * (a script's top level); on the loop thread only. */
static struct {
    char where[LUA_IDSIZE + 16]; /* "file:line", or "" */
    long ms;
} last_raise;

/* Raises at the instruction about to run, naming its line: a hook sees the
 * running function at level 0, where luaL_where(L, 1) would name its caller.
 * A hook that comes late (its entry returned) takes itself away. */
static void on_hook(lua_State *L, lua_Debug *ar)
{
    if (!deadline_expired()) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    int ms = (int)deadline_raise();
    last_raise.ms = ms;
    last_raise.where[0] = '\0';
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
        snprintf(last_raise.where, sizeof last_raise.where, "%s:%d", ar->short_src,
                 ar->currentline);
        lua_pushfstring(L, "%s: moonwire: deadline exceeded (%d ms)", last_raise.where, ms);
    } else {
        lua_pushfstring(L, "moonwire: deadline exceeded (%d ms)", ms);
    }
    lua_error(L);
}

const char *ldeadline_raised_at(long *ms)
{
    *ms = last_raise.ms;
    return last_raise.where[0] ? last_raise.where : NULL;
}

/* On the scheduler thread: lua_sethook is the one call LuaJIT allows from
 * another thread; the hook runs at the next interpreted instruction. */
static void fire(void *ud)
{
    (void)ud;
    lua_State *L = atomic_load_explicit(&hooked_state, memory_order_relaxed);
    if (L)
        lua_sethook(L, on_hook, LUA_MASKCOUNT, 1);
}

int ldeadline_start(lua_State *L, long timeout_ms, long grace_ms, char *err, size_t errlen)
{
    atomic_store(&hooked_state, L);
    return deadline_start(timeout_ms, grace_ms, fire, NULL, err, errlen);
}

void ldeadline_stop(void)
{
    deadline_stop();
    atomic_store(&hooked_state, NULL);
}

int ldeadline_leave(lua_State *L, int outer)
{
    int raised = deadline_raised();
    if (outer && (deadline_disarm() & DEADLINE_FIRED))
        lua_sethook(L, NULL, 0, 0);
    return raised;
}
