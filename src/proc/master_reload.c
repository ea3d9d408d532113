/* master_reload: the script check and SIGHUP. The script is read by the
 * master and checked in a forked child, at start and on each reload; a text
 * that passed gets new workers while the old ones drain (the retired list). */
#include "config.h"

#include "master_int.h"

#include "log.h"
#include "metrics.h"
#include "mstime.h"
#include "options.h"
#include "script.h"
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* ---- the check, in a child ---- */

/* Reads every script the listeners need into m->candidate. */
static int read_candidate(struct master *m, char *err, size_t errlen)
{
    const char *paths[OPTIONS_MAX_LISTEN + 1];
    int n = options_scripts(m->opts, paths);
    return script_set_read(&m->candidate, paths, n, err, errlen);
}

/* The candidate becomes what the workers run. */
static void take_candidate(struct master *m)
{
    script_set_free(&m->script);
    m->script = m->candidate;
    m->candidate.n = 0;
}

static void run_check(struct master *m, int id)
{
    (void)id;
    script_use(&m->candidate);
    exit(worker_check_script(m->opts) < 0 ? 1 : 0);
}

/* The script is read here, before --user drops privileges, and checked in a
 * child; the workers then compile the text that passed. There is no event
 * loop yet: the wait takes the stop signals itself (all blocked), so a
 * script that never finishes loading can still be stopped. */
int master_check_at_start(struct master *m)
{
    int status, signum;
    char err[ERR_MAX];
    sigset_t stops;
    char names[ERR_MAX];
    options_scripts_text(m->opts, names, sizeof names);
    if (read_candidate(m, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    pid_t pid = master_fork_child(m, -1, run_check);
    if (pid < 0)
        return -1;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGQUIT);
    int rc = worker_check_wait(names, pid, &stops, &status, &signum);
    if (rc == WORKER_CHECK_STOPPED) {
        log_info("%s: stopping while %s was checked; no worker started", strsignal(signum), names);
        return 1;
    }
    if (rc < 0 || worker_check_verdict(m->opts, status) < 0)
        return -1;
    take_candidate(m);
    return 0;
}

/* ---- old workers, draining ---- */

/* Asks the worker of an earlier generation to drain, and keeps its pid to
 * know it when it exits. */
static void retire(struct master *m, pid_t pid, int id, int mslot)
{
    if (m->nretired == m->capretired) {
        int cap = m->capretired ? 2 * m->capretired : 8;
        struct retired *r = realloc(m->retired, (size_t)cap * sizeof *r);
        if (!r)
            log_warn("old worker %d (pid %ld): out of memory to track it", id, (long)pid);
        else
            m->retired = r, m->capretired = cap;
    }
    if (m->nretired < m->capretired)
        m->retired[m->nretired++] = (struct retired){pid, id, mslot};
    else
        metrics_slot_release(mslot);
    if (kill(pid, SIGTERM) < 0)
        log_warn("kill old worker %d (pid %ld): %s", id, (long)pid, strerror(errno));
}

int master_retired_remove(struct master *m, pid_t pid)
{
    for (int i = 0; i < m->nretired; i++) {
        if (m->retired[i].pid == pid) {
            int id = m->retired[i].id;
            metrics_slot_release(m->retired[i].mslot);
            m->retired[i] = m->retired[--m->nretired];
            return id;
        }
    }
    return -1;
}

/* ---- SIGHUP ---- */

/* The new worker starts on the same sockets before the old one stops
 * accepting: a connection waiting in a socket's backlog goes to whichever
 * accepts first, and none is refused. */
static void renew(struct master *m, int id)
{
    struct slot *s = &m->slots[id];
    pid_t old = s->pid;
    int old_mslot = s->mslot;
    evtimer_del(s->respawn);
    s->fast_deaths = 0;
    master_spawn(m, id);
    if (old > 0)
        retire(m, old, id, old_mslot);
}

void master_check_done(struct master *m, int status, const char *how)
{
    int limit_pending = evtimer_pending(m->check_timer, NULL); /* else the master killed it */
    char names[ERR_MAX];
    options_scripts_text(m->opts, names, sizeof names);
    m->checker = 0;
    evtimer_del(m->check_timer);
    if (m->stopping)
        return;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (limit_pending)
            worker_check_verdict(m->opts, status); /* a kill past --grace is explained */
        log_error("reload: %s failed its check (%s); the running workers keep serving", names, how);
        script_set_free(&m->candidate);
        return;
    }
    take_candidate(m);
    for (int id = 0; id < m->nworkers; id++)
        renew(m, id);
    log_info("reload: %d new worker(s) serve %s; the old ones drain", m->nworkers, names);
}

void master_reload(struct master *m)
{
    struct timeval limit = ms_timeval(WORKER_CHECK_LIMIT_MS);
    if (m->stopping)
        return;
    if (m->checker) {
        log_warn("Hangup: a reload is already being checked; ignored");
        return;
    }
    char err[ERR_MAX], names[ERR_MAX];
    log_info("Hangup: checking %s before reloading",
             options_scripts_text(m->opts, names, sizeof names));
    if (read_candidate(m, err, sizeof err) < 0) {
        log_error("reload: %s; the running workers keep serving", err);
        return;
    }
    pid_t pid = master_fork_child(m, -1, run_check);
    if (pid < 0) {
        script_set_free(&m->candidate);
        return;
    }
    m->checker = pid;
    if (evtimer_add(m->check_timer, &limit) < 0)
        log_warn("reload: cannot time the script check");
}

void master_on_check_timer(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    char names[ERR_MAX];
    (void)fd, (void)what;
    log_error("reload: checking %s takes more than %d s; giving up",
              options_scripts_text(m->opts, names, sizeof names), WORKER_CHECK_LIMIT_MS / 1000);
    if (m->checker > 0 && kill(m->checker, SIGKILL) < 0)
        log_warn("kill script check (pid %ld): %s", (long)m->checker, strerror(errno));
}
