/* master_int: what the master's rooms share (private to src/proc/master*.c):
 * struct master, one per process, and the functions one room calls in
 * another. master.c starts and ends it; sockets, children, reload, signals
 * and metrics are the rooms. */
#ifndef MW_MASTER_INT_H
#define MW_MASTER_INT_H

#include "addr.h"
#include "options.h"
#include "script.h"
#include "user.h"
#include "worker.h"

#include <event2/util.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define ERR_MAX 1024

struct event;
struct event_base;
struct evhttp;
struct master;

struct slot { /* one worker number: its process, its sockets, its restarts */
    struct master *m;
    int id;
    pid_t pid; /* 0 while waiting to be (re)started */
    uint64_t started_ms;
    int fast_deaths; /* deaths in a row, each soon after its start */
    struct event *respawn;
    struct worker_socket socks[OPTIONS_MAX_LISTEN];
    int mslot; /* the running worker's metrics slot; -1: none */
};

/* A worker of an earlier generation, draining after a reload. */
struct retired {
    pid_t pid;
    int id;
    int mslot; /* its metrics slot */
};

struct master {
    const struct options *opts;
    struct event_base *base;
    int nworkers, naddrs;
    struct addr bound[OPTIONS_MAX_LISTEN];
    int shared[OPTIONS_MAX_LISTEN]; /* one socket for all workers (UNIX) */
    int inherited;                  /* the sockets were passed by systemd */
    struct slot slots[OPTIONS_MAX_WORKERS];
    struct retired *retired;
    int nretired, capretired;
    pid_t checker;               /* the child checking the script for a reload */
    struct script_set script;    /* what the workers run */
    struct script_set candidate; /* read for a reload, while it is checked */
    int stopping;                /* 1: draining, 2: stopping now */
    int sigfd, pidfd;
    struct event *sigev, *kill_timer, *check_timer;
    int has_user;
    struct user_id user;
    pid_t self;
    int metrics_fd; /* --metrics: the master's own HTTP listener */
    struct evhttp *metrics_http;
    const char *listener_names[OPTIONS_MAX_LISTEN]; /* bound[i].text, for metrics' labels */
    uint64_t restarts;                              /* workers replaced after dying */
};

/* master_sockets.c */

/* Binds every --listen address, or adopts the sockets systemd passed;
 * 0, or -1 with the reason logged. */
int master_bind_all(struct master *m);
/* After a bind of addr failed with errnum: a port that needs privileges
 * (EACCES, below net.ipv4.ip_unprivileged_port_start) adds to err how to get
 * them (root with --user, or CAP_NET_BIND_SERVICE). */
void master_bind_hint(const struct addr *addr, int errnum, char *err, size_t errlen);
/* Closes the master's copies of the listening sockets (and unlinks the
 * UNIX ones it bound). */
void master_close_sockets(struct master *m);

/* master_children.c */

/* Forks a child that runs run(m, id) (id < 0: a script check, which keeps no
 * socket); the child's pid, or -1 with the reason logged. */
pid_t master_fork_child(struct master *m, int id, void (*run)(struct master *, int));
/* Starts worker id; a failed fork is retried after the backoff. */
void master_spawn(struct master *m, int id);
/* The respawn timer of a slot (arg) went off. */
void master_on_respawn(evutil_socket_t fd, short what, void *arg);
/* Sends signum to every running worker, and to the retired ones too. */
void master_signal_workers(struct master *m, int signum, int retired_too);
/* The children still running: workers, old workers, the script check. */
int master_children_left(const struct master *m);
/* Waits for every child that exited, and replaces the workers among them. */
void master_reap(struct master *m);

/* master_reload.c */

/* At start: reads the script and checks it in a child, within the check's
 * limit; 0 when it passed (it is then what the workers run), 1 when a stop
 * signal came meanwhile (the check is killed), -1 otherwise. */
int master_check_at_start(struct master *m);
/* SIGHUP: reads the script again and checks it in a child. */
void master_reload(struct master *m);
/* The check child exited with status (described by how): new workers on
 * success, the old ones keep serving otherwise. */
void master_check_done(struct master *m, int status, const char *how);
/* The check took too long (the check timer went off; arg: the master). */
void master_on_check_timer(evutil_socket_t fd, short what, void *arg);
/* An old worker of pid exited: forgets it; its id, or -1 if pid is not one. */
int master_retired_remove(struct master *m, pid_t pid);

/* master_signals.c */

/* Blocks the signals the master reads from its signalfd, and fills set with
 * them; the result of sigprocmask. */
int master_signals_block(sigset_t *set);
/* The signalfd is readable (arg: the master). */
void master_on_signal(evutil_socket_t fd, short what, void *arg);
/* --shutdown-timeout passed while stopping (arg: the master). */
void master_on_kill_timer(evutil_socket_t fd, short what, void *arg);

/* master_metrics.c */

/* --metrics: maps the shared figures (before any fork) and binds the
 * socket; 0 (also without --metrics), or -1 with the reason logged. */
int master_metrics_bind(struct master *m);
/* Serves GET /metrics on the master's loop; 0, or -1. */
int master_metrics_serve(struct master *m);

#endif
