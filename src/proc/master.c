#include "config.h"

#include "master.h"

#include "addr.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "mstime.h"
#include "options.h"
#include "pidfile.h"
#include "sdlisten.h"
#include "script.h"
#include "user.h"
#include "worker.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR_MAX 1024
#define BACKOFF_MIN_MS 100   /* the second quick death in a row waits this long ... */
#define BACKOFF_MAX_MS 5000  /* ... doubling up to this */
#define STABLE_MS 5000       /* a worker that lived this long did not die "again" */
#define KILL_MARGIN_MS 2000  /* after --shutdown-timeout, before SIGKILL */
#define CHECK_LIMIT_MS 30000 /* a reload's script check that takes longer is killed */

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
    pid_t checker; /* the child checking the script for a reload */
    struct script_text script;    /* what the workers run */
    struct script_text candidate; /* read for a reload, while it is checked */
    int stopping;  /* 1: draining, 2: stopping now */
    int sigfd, pidfd;
    struct event *sigev, *kill_timer, *check_timer;
    int has_user;
    struct user_id user;
    pid_t self;
    int metrics_fd; /* --metrics: the master's own HTTP listener */
    struct evhttp *metrics_http;
    uint64_t restarts; /* workers replaced after dying */
};

static const int master_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD};

/* "exited with status 3" or "killed by signal 9 (Killed)". */
static void describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* ---- listening sockets ---- */

/* TCP: a plain bind first, which fails if anyone (another moonwire with
 * SO_REUSEPORT included) holds the address, and resolves port 0. One worker
 * keeps that socket; several get one SO_REUSEPORT socket each on the port
 * found, so the kernel spreads connections and no two workers share one. */
static int bind_tcp(struct master *m, int i, const struct addr *addr, char *err, size_t errlen)
{
    int fd = listener_bind(addr, 0, &m->bound[i], err, errlen);
    if (fd < 0)
        return -1;
    if (m->nworkers == 1) {
        m->slots[0].socks[i].fd = fd;
        return 0;
    }
    if (close(fd) < 0)
        log_warn("close %s: %s", addr->text, strerror(errno));
    for (int k = 0; k < m->nworkers; k++) {
        m->slots[k].socks[i].fd = listener_bind(&m->bound[i], 1, NULL, err, errlen);
        if (m->slots[k].socks[i].fd < 0)
            return -1;
    }
    return 0;
}

/* UNIX sockets have no SO_REUSEPORT balancing: one socket, shared. */
static int bind_shared(struct master *m, int i, const struct addr *addr, char *err, size_t errlen)
{
    int fd = listener_bind(addr, 0, &m->bound[i], err, errlen);
    if (fd < 0)
        return -1;
    m->shared[i] = 1;
    for (int k = 0; k < m->nworkers; k++)
        m->slots[k].socks[i].fd = fd;
    return 0;
}

static void log_listening(const struct master *m, int i)
{
    const char *name = m->bound[i].text;
    log_info("listening on %s", name);
    if (m->nworkers > 1 && m->shared[i])
        log_info("%s: one socket shared by %d workers", name, m->nworkers);
    else if (m->nworkers > 1)
        log_info("%s: one SO_REUSEPORT socket per worker, %d workers", name, m->nworkers);
}

/* The flags of the --listen that names the same address as a passed socket. */
static unsigned inherited_flags(const struct master *m, const struct addr *bound)
{
    char err[ERR_MAX];
    for (int j = 0; j < m->opts->nlisten; j++) {
        struct addr addr;
        unsigned flags;
        if (listener_parse(m->opts->listen[j], &addr, &flags, err, sizeof err) == 0 &&
            sdlisten_same_address(&addr, bound))
            return flags;
    }
    return 0;
}

static void share_socket(struct master *m, int i, int fd, unsigned flags)
{
    m->shared[i] = 1;
    for (int k = 0; k < m->nworkers; k++) {
        m->slots[k].socks[i].fd = fd;
        m->slots[k].socks[i].name = m->bound[i].text;
        m->slots[k].socks[i].proxy = (flags & LISTENER_PROXY) != 0;
    }
}

/* Sockets passed by systemd replace --listen: nothing is bound, and every
 * worker accepts on each. A --listen naming one of them lends it its flags. */
static int adopt_inherited(struct master *m, int n)
{
    char err[ERR_MAX];
    m->inherited = 1;
    for (int i = 0; i < n; i++) {
        m->naddrs = i + 1;
        if (sdlisten_address(SDLISTEN_FDS_START + i, &m->bound[i], err, sizeof err) < 0) {
            log_error("%s", err);
            return -1;
        }
        unsigned flags = inherited_flags(m, &m->bound[i]);
        share_socket(m, i, SDLISTEN_FDS_START + i, flags);
        log_listening(m, i);
        log_info("%s: socket passed by systemd (LISTEN_FDS)%s", m->bound[i].text,
                 flags & LISTENER_PROXY ? "; connections start with a PROXY protocol header"
                                        : "");
    }
    return 0;
}

static int bind_all(struct master *m)
{
    char err[ERR_MAX];
    int passed = sdlisten_fds(OPTIONS_MAX_LISTEN, err, sizeof err);
    if (passed < 0)
        log_error("%s", err);
    if (passed != 0)
        return passed < 0 ? -1 : adopt_inherited(m, passed);
    for (int i = 0; i < m->opts->nlisten; i++) {
        struct addr addr;
        unsigned flags;
        m->naddrs = i + 1;
        int r = listener_parse(m->opts->listen[i], &addr, &flags, err, sizeof err);
        if (r == 0)
            r = addr.sa.ss_family == AF_UNIX ? bind_shared(m, i, &addr, err, sizeof err)
                                             : bind_tcp(m, i, &addr, err, sizeof err);
        if (r < 0) {
            log_error("%s", err);
            return -1;
        }
        for (int k = 0; k < m->nworkers; k++) {
            m->slots[k].socks[i].name = m->bound[i].text;
            m->slots[k].socks[i].proxy = (flags & LISTENER_PROXY) != 0;
        }
        log_listening(m, i);
        if (flags & LISTENER_PROXY)
            log_info("%s: connections start with a PROXY protocol header", m->bound[i].text);
    }
    return 0;
}

static void close_fd(int *fd, const char *name)
{
    if (*fd >= 0 && close(*fd) < 0)
        log_warn("close %s: %s", name, strerror(errno));
    *fd = -1;
}

/* Closes the master's copies; a socket dies with the last worker's copy. */
static void close_sockets(struct master *m)
{
    for (int i = 0; i < m->naddrs; i++) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&m->bound[i].sa;
        if (m->shared[i] && !m->inherited && m->slots[0].socks[i].fd >= 0 &&
            unlink(un->sun_path) < 0)
            log_warn("unlink %s: %s", un->sun_path, strerror(errno));
        for (int k = 0; k < m->nworkers; k++) {
            if (m->shared[i] && k > 0)
                m->slots[k].socks[i].fd = -1;
            else
                close_fd(&m->slots[k].socks[i].fd, m->bound[i].text);
        }
    }
}

/* ---- children ---- */

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
    /* Orphaned workers drain and go; the master's event base is left as it
     * is: the child never runs that loop and makes its own. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m->self)
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

static void run_check(struct master *m, int id)
{
    (void)id;
    script_use(&m->candidate);
    exit(worker_check_script(m->opts->script) < 0 ? 1 : 0);
}

/* Forks a child that runs run(m, id). The master's signals stay blocked in
 * it until the child has its own handlers. */
static pid_t fork_child(struct master *m, int id, void (*run)(struct master *, int))
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

static void spawn(struct master *m, int id);

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
    struct timeval tv = ms_timeval(ms);
    m->restarts++;
    if (ms == 0) {
        log_warn("%s; restarting it", why);
        spawn(m, id);
    } else {
        log_warn("%s; restarting it in %ld ms", why, ms);
        if (evtimer_add(s->respawn, &tv) < 0)
            spawn(m, id);
    }
}

static void spawn(struct master *m, int id)
{
    struct slot *s = &m->slots[id];
    s->started_ms = mono_ms();
    s->mslot = m->opts->metrics ? metrics_slot_take() : -1;
    pid_t pid = fork_child(m, id, run_worker);
    if (pid < 0) {
        metrics_slot_release(s->mslot);
        replace(m, id, "cannot start a worker");
        return;
    }
    s->pid = pid;
    log_info("worker %d started (pid %ld)", id, (long)pid);
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    (void)fd, (void)what;
    if (!s->m->stopping && s->pid == 0)
        spawn(s->m, s->id);
}

static void signal_workers(struct master *m, int signum, int retired_too)
{
    for (int id = 0; id < m->nworkers; id++)
        if (m->slots[id].pid > 0 && kill(m->slots[id].pid, signum) < 0)
            log_warn("kill worker %d (pid %ld): %s", id, (long)m->slots[id].pid, strerror(errno));
    for (int i = 0; retired_too && i < m->nretired; i++)
        if (kill(m->retired[i].pid, signum) < 0)
            log_warn("kill old worker %d (pid %ld): %s", m->retired[i].id, (long)m->retired[i].pid,
                     strerror(errno));
}

static int children_left(const struct master *m)
{
    int n = m->nretired + (m->checker > 0);
    for (int id = 0; id < m->nworkers; id++)
        n += m->slots[id].pid > 0;
    return n;
}

/* ---- reload ---- */

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
    spawn(m, id);
    if (old > 0)
        retire(m, old, id, old_mslot);
}

static void check_done(struct master *m, int status, const char *how)
{
    m->checker = 0;
    evtimer_del(m->check_timer);
    if (m->stopping)
        return;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_error("reload: %s failed its check (%s); the running workers keep serving",
                  m->opts->script, how);
        script_free(&m->candidate);
        return;
    }
    script_free(&m->script);
    m->script = m->candidate;
    m->candidate = (struct script_text){NULL, NULL, 0};
    for (int id = 0; id < m->nworkers; id++)
        renew(m, id);
    log_info("reload: %d new worker(s) serve %s; the old ones drain", m->nworkers, m->opts->script);
}

static void reload(struct master *m)
{
    struct timeval limit = ms_timeval(CHECK_LIMIT_MS);
    if (m->stopping)
        return;
    if (m->checker) {
        log_warn("Hangup: a reload is already being checked; ignored");
        return;
    }
    log_info("Hangup: checking %s before reloading", m->opts->script);
    char err[ERR_MAX];
    if (script_read(&m->candidate, m->opts->script, err, sizeof err) < 0) {
        log_error("reload: %s; the running workers keep serving", err);
        return;
    }
    pid_t pid = fork_child(m, -1, run_check);
    if (pid < 0) {
        script_free(&m->candidate);
        return;
    }
    m->checker = pid;
    if (evtimer_add(m->check_timer, &limit) < 0)
        log_warn("reload: cannot time the script check");
}

static void on_check_timer(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    (void)fd, (void)what;
    log_error("reload: checking %s takes more than %d s; giving up", m->opts->script,
              CHECK_LIMIT_MS / 1000);
    if (m->checker > 0 && kill(m->checker, SIGKILL) < 0)
        log_warn("kill script check (pid %ld): %s", (long)m->checker, strerror(errno));
}

/* ---- exits ---- */

static int retired_remove(struct master *m, pid_t pid)
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
        check_done(m, status, how);
    else if (id >= 0)
        worker_exited(m, id, how);
    else if ((id = retired_remove(m, pid)) >= 0)
        log_info("old worker %d (pid %ld) %s", id, (long)pid, how);
}

static void reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        child_exited(m, pid, status);
    if (pid < 0 && errno != ECHILD)
        log_warn("waitpid: %s", strerror(errno));
    if (m->stopping && !children_left(m))
        event_base_loopbreak(m->base);
}

/* ---- stop, log reopening, signals ---- */

static void stop(struct master *m, int signum)
{
    struct timeval limit = ms_timeval((long)(m->opts->shutdown_timeout * 1000) + KILL_MARGIN_MS);
    if (m->stopping) {
        m->stopping = 2;
        log_info("%s again: stopping now", strsignal(signum));
        signal_workers(m, SIGQUIT, 1);
        return;
    }
    m->stopping = 1;
    log_info("%s: stopping %d worker(s), %g s to drain", strsignal(signum), m->nworkers,
             m->opts->shutdown_timeout);
    close_sockets(m); /* new connections are refused, not queued to be reset */
    for (int id = 0; id < m->nworkers; id++)
        evtimer_del(m->slots[id].respawn);
    if (m->checker > 0 && kill(m->checker, SIGKILL) < 0)
        log_warn("kill script check (pid %ld): %s", (long)m->checker, strerror(errno));
    signal_workers(m, SIGTERM, 0); /* old workers are draining already */
    if (evtimer_add(m->kill_timer, &limit) < 0)
        log_warn("cannot time the stop; waiting for the workers");
    if (!children_left(m))
        event_base_loopbreak(m->base);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    (void)fd, (void)what;
    log_warn("%d worker(s) still running after --shutdown-timeout: killing them", children_left(m));
    signal_workers(m, SIGKILL, 1);
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
    signal_workers(m, SIGUSR1, 1);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct master *m = arg;
    struct signalfd_siginfo si;
    (void)what;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int signum = (int)si.ssi_signo;
        if (signum == SIGCHLD)
            reap(m);
        else if (signum == SIGHUP)
            reload(m);
        else if (signum == SIGUSR1)
            reopen_log(m);
        else
            stop(m, signum);
        if (signum == SIGQUIT && m->stopping == 1) /* QUIT: no drain */
            stop(m, signum);
    }
}

static int signal_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        sigaddset(set, master_signals[i]);
    return sigprocmask(SIG_BLOCK, set, NULL);
}

/* ---- start and end ---- */

/* The script is read here, before --user drops privileges, and checked in a
 * child; the workers then compile the text that passed. */
static int check_at_start(struct master *m)
{
    int status;
    char err[ERR_MAX];
    if (script_read(&m->candidate, m->opts->script, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    pid_t pid = fork_child(m, -1, run_check);
    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            log_error("waitpid: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    m->script = m->candidate;
    m->candidate = (struct script_text){NULL, NULL, 0};
    return 0;
}

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

/* ---- metrics ---- */

static int running_workers(const struct master *m)
{
    int n = 0;
    for (int id = 0; id < m->nworkers; id++)
        n += m->slots[id].pid > 0;
    return n;
}

/* GET /metrics: the workers' figures summed, in Prometheus text format. */
static void serve_metrics(struct evhttp_request *req, void *arg)
{
    struct master *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *body = evbuffer_new();
    if (!body || !path || strcmp(path, "/metrics") != 0 ||
        metrics_render(body, m->restarts, running_workers(m)) < 0) {
        evhttp_send_error(req, body ? HTTP_NOTFOUND : HTTP_INTERNAL, NULL);
        if (body)
            evbuffer_free(body);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

/* --metrics: the shared figures (before any worker is forked) and the socket. */
static int bind_metrics(struct master *m)
{
    char err[ERR_MAX];
    struct addr addr, bound;
    if (!m->opts->metrics)
        return 0;
    if (addr_parse(m->opts->metrics, &addr, err, sizeof err) < 0 ||
        metrics_init(4 * m->nworkers + 4, err, sizeof err) < 0 ||
        (m->metrics_fd = listener_bind(&addr, 0, &bound, err, sizeof err)) < 0) {
        log_error("--metrics: %s", err);
        return -1;
    }
    log_info("metrics on http://%s/metrics", bound.text);
    return 0;
}

/* The HTTP server on the master's loop; the workers never run it. */
static int serve_metrics_http(struct master *m)
{
    if (m->metrics_fd < 0)
        return 0;
    m->metrics_http = evhttp_new(m->base);
    if (!m->metrics_http || evhttp_accept_socket(m->metrics_http, m->metrics_fd) < 0)
        return -1;
    m->metrics_fd = -1; /* the evhttp owns it now */
    evhttp_set_allowed_methods(m->metrics_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m->metrics_http, serve_metrics, m);
    return 0;
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
    return take_user_and_pid_file(m) < 0 || check_at_start(m) < 0 || bind_all(m) < 0 ||
                   bind_metrics(m) < 0 || write_pid_and_open_log(m) < 0
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
    m->sigev = event_new(m->base, m->sigfd, EV_READ | EV_PERSIST, on_signal, m);
    m->kill_timer = evtimer_new(m->base, on_kill_timer, m);
    m->check_timer = evtimer_new(m->base, on_check_timer, m);
    if (!m->sigev || !m->kill_timer || !m->check_timer || event_add(m->sigev, NULL) < 0 ||
        serve_metrics_http(m) < 0)
        return -1;
    for (int id = 0; id < m->nworkers; id++)
        if (!(m->slots[id].respawn = evtimer_new(m->base, on_respawn, &m->slots[id])))
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
        spawn(m, id);
    if (event_base_dispatch(m->base) < 0) {
        log_error("master event loop failed");
        return -1;
    }
    return 0;
}

static void master_free(struct master *m)
{
    close_sockets(m);
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
    script_free(&m->script);
    script_free(&m->candidate);
}

int master_run(const struct options *opts)
{
    static struct master m; /* one per process; too big for the stack */
    sigset_t set;
    int status = 1;
    log_set_format(opts->log_format);
    if (signal_set(&set) < 0)
        log_error("sigprocmask: %s", strerror(errno));
    else if (master_init(&m, opts) == 0 && master_serve(&m, &set) == 0)
        status = 0;
    master_free(&m);
    return status;
}
