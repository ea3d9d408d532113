/* master: the pre-fork supervisor. Binds every --listen address, forks the
 * workers and replaces those that die (with backoff when they keep dying),
 * and turns signals into drains, reloads and log reopening. It never runs a
 * handler: scripts are checked in forked children. */
#ifndef MW_MASTER_H
#define MW_MASTER_H

struct options;

/* Serves as opts says until stopped by a signal; returns the exit status
 * (1 when the server could not start: script, address, pid file, user). */
int master_run(const struct options *opts);

#endif
