/* master_children: the worker processes: forking a child (closing what is
 * not its own, becoming --user), starting and replacing workers with backoff
 * when they keep dying young, signalling them, and reaping every child. */
#include "config.h"

#include "master_int.h"

#include "log.h"
#include "metrics.h"
#include "mstime.h"
#include "script.h"
#include "user.h"
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 100  /* the second quick death in a row waits this long ... */
#define BACKOFF_MAX_MS 5000 /* ... doubling up to this */
#define STABLE_MS 5000      /* a worker that lived this long did not die "again" */

/* ---- forking ---- */

/* In a new child: closes what belongs to the master or to other workers
 * (id < 0 keeps no socket), then becomes --user. */
static void child_close_fds(struct master *m, int id)
{
    if (m->sigfd >= 0)
        close(m->sigfd);
    if (m->pidfd >= 0)
        close(m->pidfd);
    if (m->metrics_fd >= 0)
        close(m->metrics_fd);
    for (int i = 0; i < m->naddrs; i++) {
        if (m->shared[i]) {
            if (id < 0 && m->slots[0].socks[i].fd >= 0)
                close(m->slots[0].socks[i].fd);
            continue;
        }
        for (int k = 0; k < m->nworkers; k++)
            if (k != id && m->slots[k].socks[i].fd >= 0)
                close(m->slots[k].socks[i].fd);
    }
}

static int child_setup(struct master *m, int id)
{
    char err[ERR_MAX];
    log_set_worker(id);
    /* Orphaned workers drain and go; an orphaned script check has no one to
     * answer, and its signals stay blocked (a loop in it may be beyond any
     * deadline): it is killed. The master's event base is left as it is: the
     * child never runs that loop and makes its own. */
    if (prctl(PR_SET_PDEATHSIG, id < 0 ? SIGKILL : SIGTERM) < 0 || getppid() != m->self)
        return -1;
    child_close_fds(m, id);
    if (m->has_user && user_switch(&m->user, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

static void run_worker(struct master *m, int id)
{
    metrics_use_slot(m->slots[id].mslot);
    script_use(&m->script);
    exit(worker_run(m->opts, id, m->slots[id].socks, m->naddrs));
}

/* Forks a child that runs run(m, id). The master's signals stay blocked in
 * it until the child has its own handlers. */
pid_t master_fork_child(struct master *m, int id, void (*run)(struct master *, int))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        log_error("fork: %s", strerror(errno));
    if (pid == 0) {
        if (child_setup(m, id) < 0)
            _exit(1);
        run(m, id);
    }
    return pid;
}

/* ---- starting, replacing, signalling ---- */

/* How long to wait before replacing a worker that just died: nothing the
 * first time, then doubling while it keeps dying young. */
static long backoff_ms(struct slot *s)
{
    if (mono_ms() - s->started_ms >= STABLE_MS)
        s->fast_deaths = 0;
    if (s->fast_deaths++ == 0)
        return 0;
    long ms = BACKOFF_MIN_MS;
    for (int i = 2; i < s->fast_deaths && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void replace(struct master *m, int id, const char *why)
{
    struct slot *s = &m->slots[id];
    long ms = backoff_ms(s);
    struct timeval tv = ms_timeval((double)ms);
    m->restarts++;
    if (ms == 0) {
        log_warn("%s; restarting it", why);
        master_spawn(m, id);
    } else {
        log_warn("%s; restarting it in %ld ms", why, ms);
        if (evtimer_add(s->respawn, &tv) < 0)
            master_spawn(m, id);
    }
}

void master_spawn(struct master *m, int id)
{
    struct slot *s = &m->slots[id];
    s->started_ms = mono_ms();
    s->mslot = m->opts->metrics ? metrics_slot_take() : -1;
    pid_t pid = master_fork_child(m, id, run_worker);
    if (pid < 0) {
        metrics_slot_release(s->mslot);
        replace(m, id, "cannot start a worker");
        return;
    }
    s->pid = pid;
    log_info("worker %d started (pid %ld)", id, (long)pid);
}

void master_on_respawn(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    (void)fd, (void)what;
    if (!s->m->stopping && s->pid == 0)
        master_spawn(s->m, s->id);
}

void master_signal_workers(struct master *m, int signum, int retired_too)
{
    for (int id = 0; id < m->nworkers; id++)
        if (m->slots[id].pid > 0 && kill(m->slots[id].pid, signum) < 0)
            log_warn("kill worker %d (pid %ld): %s", id, (long)m->slots[id].pid, strerror(errno));
    for (int i = 0; retired_too && i < m->nretired; i++)
        if (kill(m->retired[i].pid, signum) < 0)
            log_warn("kill old worker %d (pid %ld): %s", m->retired[i].id, (long)m->retired[i].pid,
                     strerror(errno));
}

int master_children_left(const struct master *m)
{
    int n = m->nretired + (m->checker > 0);
    for (int id = 0; id < m->nworkers; id++)
        n += m->slots[id].pid > 0;
    return n;
}

/* ---- exits ---- */

/* "exited with status 3" or "killed by signal 9 (Killed)". */
static void describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void worker_exited(struct master *m, int id, const char *how)
{
    char why[192];
    snprintf(why, sizeof why, "worker %d (pid %ld) %s", id, (long)m->slots[id].pid, how);
    m->slots[id].pid = 0;
    metrics_slot_release(m->slots[id].mslot);
    m->slots[id].mslot = -1;
    if (m->stopping)
        log_info("%s", why);
    else
        replace(m, id, why);
}

static void child_exited(struct master *m, pid_t pid, int status)
{
    char how[96];
    int id = -1;
    describe_status(status, how, sizeof how);
    for (int k = 0; k < m->nworkers && id < 0; k++)
        id = m->slots[k].pid == pid ? k : -1;
    if (pid == m->checker)
        master_check_done(m, status, how);
    else if (id >= 0)
        worker_exited(m, id, how);
    else if ((id = master_retired_remove(m, pid)) >= 0)
        log_info("old worker %d (pid %ld) %s", id, (long)pid, how);
}

void master_reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        child_exited(m, pid, status);
    if (pid < 0 && errno != ECHILD)
        log_warn("waitpid: %s", strerror(errno));
    if (m->stopping && !master_children_left(m))
        event_base_loopbreak(m->base);
}
