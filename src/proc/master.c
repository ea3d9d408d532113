/* master: the supervisor's start and end. Takes --user and the pid file,
 * has the script checked and the sockets bound, wires the rooms (sockets,
 * children, reload, signals, metrics: master_*.c) into one event loop, runs
 * it until a signal stops it, and frees what it held. */
#include "config.h"

#include "master.h"

#include "master_int.h"

#include "log.h"
#include "options.h"
#include "pidfile.h"
#include "script.h"
#include "user.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int take_user_and_pid_file(struct master *m)
{
    char err[ERR_MAX];
    if (m->opts->user && user_lookup(m->opts->user, &m->user, err, sizeof err) < 0)
        goto fail;
    m->has_user = m->opts->user != NULL;
    if (m->opts->pid_file && (m->pidfd = pidfile_lock(m->opts->pid_file, err, sizeof err)) < 0)
        goto fail;
    return 0;
fail:
    log_error("%s", err);
    return -1;
}

/* The pid file is written once the addresses are bound; the log file is
 * opened last, so start-up errors go where the user is looking. */
static int write_pid_and_open_log(struct master *m)
{
    char err[ERR_MAX];
    const char *log_file = m->opts->log_file;
    if (m->pidfd >= 0 && pidfile_write(m->pidfd, m->opts->pid_file, err, sizeof err) < 0)
        goto fail;
    if (log_file && log_open_file(log_file, err, sizeof err) < 0)
        goto fail;
    if (log_file && m->has_user && chown(log_file, m->user.uid, m->user.gid) < 0) {
        snprintf(err, sizeof err, "chown %s: %s", log_file, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    log_error("%s", err);
    return -1;
}

static int master_init(struct master *m, const struct options *opts)
{
    long cpus = opts->workers ? opts->workers : sysconf(_SC_NPROCESSORS_ONLN);
    m->opts = opts;
    m->self = getpid();
    m->sigfd = m->pidfd = m->metrics_fd = -1;
    m->nworkers = cpus < 1 ? 1 : cpus > OPTIONS_MAX_WORKERS ? OPTIONS_MAX_WORKERS : (int)cpus;
    for (int k = 0; k < OPTIONS_MAX_WORKERS; k++) {
        m->slots[k].m = m;
        m->slots[k].id = k;
        m->slots[k].mslot = -1;
        for (int i = 0; i < OPTIONS_MAX_LISTEN; i++)
            m->slots[k].socks[i].fd = -1;
    }
    log_set_worker(-1);
    if (take_user_and_pid_file(m) < 0)
        return -1;
    int checked = master_check_at_start(m);
    if (checked != 0)
        return checked;
    return master_bind_all(m) < 0 || master_metrics_bind(m) < 0 || write_pid_and_open_log(m) < 0
               ? -1
               : 0;
}

static int master_events(struct master *m, sigset_t *set)
{
    m->base = event_base_new();
    if (!m->base)
        return -1;
    m->sigfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m->sigfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    m->sigev = event_new(m->base, m->sigfd, EV_READ | EV_PERSIST, master_on_signal, m);
    m->kill_timer = evtimer_new(m->base, master_on_kill_timer, m);
    m->check_timer = evtimer_new(m->base, master_on_check_timer, m);
    if (!m->sigev || !m->kill_timer || !m->check_timer || event_add(m->sigev, NULL) < 0 ||
        master_metrics_serve(m) < 0)
        return -1;
    for (int id = 0; id < m->nworkers; id++)
        if (!(m->slots[id].respawn = evtimer_new(m->base, master_on_respawn, &m->slots[id])))
            return -1;
    return 0;
}

static int master_serve(struct master *m, sigset_t *set)
{
    if (master_events(m, set) < 0) {
        log_error("cannot set up the master's event loop");
        return -1;
    }
    for (int id = 0; id < m->nworkers; id++)
        master_spawn(m, id);
    if (event_base_dispatch(m->base) < 0) {
        log_error("master event loop failed");
        return -1;
    }
    return 0;
}

static void master_free(struct master *m)
{
    master_close_sockets(m);
    if (m->pidfd >= 0)
        pidfile_remove(m->pidfd, m->opts->pid_file);
    for (int id = 0; id < m->nworkers; id++)
        if (m->slots[id].respawn)
            event_free(m->slots[id].respawn);
    struct event *evs[] = {m->sigev, m->kill_timer, m->check_timer};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (m->metrics_http)
        evhttp_free(m->metrics_http);
    if (m->metrics_fd >= 0)
        close(m->metrics_fd);
    if (m->base)
        event_base_free(m->base);
    if (m->sigfd >= 0)
        close(m->sigfd);
    free(m->retired);
    script_set_free(&m->script);
    script_set_free(&m->candidate);
}

/* master_init returns 1 when a stop signal came while the script was checked:
 * the master exits 0, as from any stop. */
int master_run(const struct options *opts)
{
    static struct master m; /* one per process; too big for the stack */
    sigset_t set;
    int status = 1, init;
    log_set_format(opts->log_format);
    if (master_signals_block(&set) < 0)
        log_error("sigprocmask: %s", strerror(errno));
    else if ((init = master_init(&m, opts)) > 0)
        status = 0;
    else if (init == 0 && master_serve(&m, &set) == 0)
        status = 0;
    master_free(&m);
    return status;
}
