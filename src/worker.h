/* worker: one serving process: an event_base, a Lua state with the handler
 * script, and the listeners. Runs the loop until SIGINT/SIGTERM. */
#ifndef MW_WORKER_H
#define MW_WORKER_H

struct options;

/* Loads the script and checks its handler table; returns the exit status. */
int worker_check(const struct options *opts);
/* Serves until stopped; returns the process exit status. */
int worker_run(const struct options *opts);

#endif
