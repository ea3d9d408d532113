/* worker_load: the scripts of a worker (or of a script check), loaded once
 * each into its one Lua state, in the order options_scripts gives: the
 * positional SCRIPT, then those the listeners name. Each script's handler
 * table becomes the handler of the listeners it serves; a module that two
 * scripts require is loaded once. */
#include "config.h"

#include "worker.h"

#include "lconn.h"
#include "log.h"
#include "luahost.h"
#include "options.h"

#include <lua.h>
#include <string.h>

#define ERR_MAX 1024

/* Takes the handler table on top of the stack (and pops it) for script. */
static int take_handler(lua_State *L, const char *script, int checking, struct worker_handlers *hs)
{
    char err[ERR_MAX];
    struct lconn_handler *h = lconn_listen_handler(L, -1, err, sizeof err);
    if (!h) {
        log_error("%s: %s", script, err);
        return -1;
    }
    if (checking)
        lconn_warn_handler(L, -1, h, script);
    lua_pop(L, 1);
    hs->script[hs->n] = script;
    hs->handler[hs->n++] = h;
    return 0;
}

/* The first script makes the state; the others run in it. */
static lua_State *load_all(const struct options *opts, int checking, struct worker_handlers *hs)
{
    char err[ERR_MAX];
    const char *scripts[OPTIONS_MAX_LISTEN + 1];
    int n = options_scripts(opts, scripts);
    lua_State *L = luahost_open(scripts[0], opts->timeout_ms, opts->grace_ms, err, sizeof err);
    if (!L) {
        log_error("%s", err);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (i > 0 && luahost_load(L, scripts[i], err, sizeof err) < 0) {
            log_error("%s", err);
            worker_unload(L, hs);
            return NULL;
        }
        if (take_handler(L, scripts[i], checking, hs) < 0) {
            worker_unload(L, hs);
            return NULL;
        }
    }
    return L;
}

lua_State *worker_load(const struct options *opts, int checking, struct worker_handlers *hs)
{
    hs->n = 0;
    lconn_set_field_warnings(checking);
    lua_State *L = load_all(opts, checking, hs);
    lconn_set_field_warnings(1);
    return L;
}

struct lconn_handler *worker_handler_of(const struct worker_handlers *hs, const char *script)
{
    for (int i = 0; script && i < hs->n; i++)
        if (strcmp(hs->script[i], script) == 0)
            return hs->handler[i];
    return NULL;
}

void worker_unload(lua_State *L, struct worker_handlers *hs)
{
    for (int i = 0; i < hs->n; i++)
        lconn_listen_handler_free(hs->handler[i]);
    hs->n = 0;
    luahost_close(L);
}
