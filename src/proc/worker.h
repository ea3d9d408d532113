/* worker: one serving process, forked by the master: an event_base, a Lua
 * state with the handler script, and the listening sockets the master bound.
 * Runs the loop until SIGTERM (drain) or SIGQUIT (stop now). */
#ifndef MW_WORKER_H
#define MW_WORKER_H

#include <signal.h>
#include <sys/types.h>

#include "options.h"

/* A script check (in a child: at start, on a reload, for --check) that takes
 * longer is killed, and fails. */
#define WORKER_CHECK_LIMIT_MS 30000
/* worker_check_wait: a stop signal came while the check ran. */
#define WORKER_CHECK_STOPPED (-2)

struct options;

/* A listening socket bound by the master, and the name to report it by. */
struct worker_socket {
    int fd;
    const char *name;
    const char *script; /* whose handler serves it */
    int proxy;          /* connections start with a PROXY protocol header */
};

/* --check: checks the script in a child process, within the limit, prints
 * "SCRIPT: ok"; returns the exit status (worker_check.c). */
int worker_check(const struct options *opts);
/* Loads every script of opts (options_scripts) in a throwaway Lua state under --memory-limit, its
 * top level under --timeout and --grace, as a worker would: 0, or -1 with the reason logged. The
 * body of every check, run in the child. */
int worker_check_script(const struct options *opts);
/* Waits for the check child pid, WORKER_CHECK_LIMIT_MS at most, and for the
 * signals of stops, which must be blocked (SIGCHLD too). Returns 0 with its
 * wait status in *status; or kills and reaps it and returns
 * WORKER_CHECK_STOPPED (a signal of stops came: *signum), or -1 (the limit
 * passed or a call failed: logged). */
int worker_check_wait(const char *script, pid_t pid, const sigset_t *stops, int *status,
                      int *signum);
/* 0 when the check child that ended with status passed; else -1, and why
 * is logged when the child could not say it (it was killed). */
int worker_check_verdict(const struct options *opts, int status);
/* ---- worker_load.c ---- */

struct lconn_handler;
struct lua_State;

/* The handler of each script a worker loaded. */
struct worker_handlers {
    const char *script[OPTIONS_MAX_LISTEN + 1];
    struct lconn_handler *handler[OPTIONS_MAX_LISTEN + 1];
    int n;
};

/* Loads every script of opts into one new Lua state, each top level under
 * --timeout and --grace, and takes each one's handler into hs; checking:
 * warns of what looks wrong (the check does, a worker loading what passed
 * it does not). Returns the state, or NULL with the reason logged. */
struct lua_State *worker_load(const struct options *opts, int checking, struct worker_handlers *hs);
/* Lets go of the handlers, once their connections are gone, and closes L. */
void worker_unload(struct lua_State *L, struct worker_handlers *hs);
/* The handler of script, or NULL when it has none. */
struct lconn_handler *worker_handler_of(const struct worker_handlers *hs, const char *script);

/* Serves as worker id (0..N-1) on socks until stopped; returns the exit
 * status. Expects SIGTERM, SIGQUIT and SIGUSR1 blocked, as the master forks it. */
int worker_run(const struct options *opts, int id, const struct worker_socket *socks, int nsocks);

#endif
