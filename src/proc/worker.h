/* worker: one serving process, forked by the master: an event_base, a Lua
 * state with the handler script, and the listening sockets the master bound.
 * Runs the loop until SIGTERM (drain) or SIGQUIT (stop now). */
#ifndef MW_WORKER_H
#define MW_WORKER_H

struct options;

/* A listening socket bound by the master, and the name to report it by. */
struct worker_socket {
    int fd;
    const char *name;
    int proxy; /* connections start with a PROXY protocol header */
};

/* --check: loads the script, checks its handler table, prints "SCRIPT: ok";
 * returns the exit status. */
int worker_check(const struct options *opts);
/* Loads opts->script in a throwaway Lua state under --memory-limit, as a
 * worker would: 0, or -1 with the reason logged. */
int worker_check_script(const struct options *opts);
/* Serves as worker id (0..N-1) on socks until stopped; returns the exit
 * status. Expects SIGTERM, SIGQUIT and SIGUSR1 blocked, as the master forks it. */
int worker_run(const struct options *opts, int id, const struct worker_socket *socks, int nsocks);

#endif
