/* master_signals: what the master does on each signal, read from its
 * signalfd: TERM/INT drain then stop (again, or QUIT: stop now, and kill
 * past --shutdown-timeout), HUP reload, USR1 reopen logs, CHLD reap. */
#include "config.h"

#include "master_int.h"

#include "log.h"
#include "mstime.h"
#include "user.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define KILL_MARGIN_MS 2000 /* after --shutdown-timeout, before SIGKILL */

static const int master_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD};

/* The first stop: no new connections, no respawns, no reload; the workers
 * drain (TERM, INT) or stop now (QUIT), and are killed past the limit. */
static void begin_stop(struct master *m, int signum)
{
    long ms = (long)(m->opts->shutdown_timeout * 1000) + KILL_MARGIN_MS;
    struct timeval limit = ms_timeval((double)ms);
    int drain = signum != SIGQUIT;
    m->stopping = drain ? 1 : 2;
    if (drain)
        log_info("%s: stopping %d worker(s), %g s to drain", strsignal(signum), m->nworkers,
                 m->opts->shutdown_timeout);
    else
        log_info("%s: stopping %d worker(s) now", strsignal(signum), m->nworkers);
    master_close_sockets(m); /* new connections are refused, not queued to be reset */
    for (int id = 0; id < m->nworkers; id++)
        evtimer_del(m->slots[id].respawn);
    if (m->checker > 0 && kill(m->checker, SIGKILL) < 0)
        log_warn("kill script check (pid %ld): %s", (long)m->checker, strerror(errno));
    if (drain)
        master_signal_workers(m, SIGTERM, 0); /* old workers are draining already */
    else
        master_signal_workers(m, SIGQUIT, 1);
    if (evtimer_add(m->kill_timer, &limit) < 0)
        log_warn("cannot time the stop; waiting for the workers");
    if (!master_children_left(m))
        event_base_loopbreak(m->base);
}

/* A stop signal: the first begins the stop; another, while draining, stops now. */
static void stop(struct master *m, int signum)
{
    if (!m->stopping) {
        begin_stop(m, signum);
        return;
    }
    if (m->stopping == 2)
        return;
    m->stopping = 2;
    log_info("%s again: stopping now", strsignal(signum));
    master_signal_workers(m, SIGQUIT, 1);
}

void master_on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    (void)fd, (void)what;
    log_warn("%d worker(s) still running after --shutdown-timeout: killing them",
             master_children_left(m));
    master_signal_workers(m, SIGKILL, 1);
}

static void reopen_log(struct master *m)
{
    char err[ERR_MAX];
    const char *path = m->opts->log_file;
    if (log_reopen(err, sizeof err) < 0)
        log_error("%s", err);
    else if (path && m->has_user && chown(path, m->user.uid, m->user.gid) < 0)
        log_warn("chown %s: %s", path, strerror(errno));
    else if (path)
        log_info("%s: log file reopened", strsignal(SIGUSR1));
    master_signal_workers(m, SIGUSR1, 1);
}

void master_on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    struct signalfd_siginfo si;
    (void)what;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int signum = (int)si.ssi_signo;
        if (signum == SIGCHLD)
            master_reap(m);
        else if (signum == SIGHUP)
            master_reload(m);
        else if (signum == SIGUSR1)
            reopen_log(m);
        else
            stop(m, signum);
    }
}

int master_signals_block(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        sigaddset(set, master_signals[i]);
    return sigprocmask(SIG_BLOCK, set, NULL);
}
