/* worker_check: the script check runs in a child process (at start, on a
 * reload, and for --check), so that a script that never finishes loading
 * costs a child that can be killed: here are the bounded wait for it, what
 * its end means, and --check itself. The check's body is worker.c's. */
#include "config.h"

#include "worker.h"

#include "log.h"
#include "mstime.h"
#include "options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#define ERR_MAX 1024
#include <unistd.h>

/* Kills the check child and reaps it: nothing it could still say matters. */
static void end_check(pid_t pid)
{
    if (kill(pid, SIGKILL) < 0)
        log_warn("kill script check (pid %ld): %s", (long)pid, strerror(errno));
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Waits for a signal of set (blocked) for at most ms; the signal, or 0 when
 * the time passed or another signal interrupted; -1 on an error. */
static int wait_signal(const sigset_t *set, uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    int signum = sigtimedwait(set, NULL, &ts);
    if (signum < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return signum;
}

int worker_check_wait(const char *script, pid_t pid, const sigset_t *stops, int *status,
                      int *signum)
{
    sigset_t set = *stops;
    sigaddset(&set, SIGCHLD);
    uint64_t end = mono_ms() + WORKER_CHECK_LIMIT_MS;
    for (;;) {
        pid_t done = waitpid(pid, status, WNOHANG);
        if (done == pid)
            return 0;
        if (done < 0 && errno != EINTR) {
            log_error("waitpid: %s", strerror(errno));
            return -1;
        }
        uint64_t now = mono_ms();
        if (now >= end) {
            log_error("%s: checking the script takes more than %d s; giving up", script,
                      WORKER_CHECK_LIMIT_MS / 1000);
            end_check(pid);
            return -1;
        }
        int sig = wait_signal(&set, end - now);
        if (sig < 0)
            log_error("sigtimedwait: %s", strerror(errno));
        if (sig < 0 || (sig > 0 && sig != SIGCHLD)) {
            *signum = sig;
            end_check(pid);
            return sig < 0 ? -1 : WORKER_CHECK_STOPPED;
        }
    }
}

/* A check killed by SIGKILL while deadlines were on: in all likelihood by
 * its own deadline thread, past --grace, where a compiled loop is beyond the
 * hook's reach. The thread logged what ran; this says what it means. */
int worker_check_verdict(const struct options *opts, int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0 ? 0 : -1; /* the check said why */
    int sig = WTERMSIG(status);
    char names[ERR_MAX];
    options_scripts_text(opts, names, sizeof names);
    if (sig == SIGKILL && opts->timeout_ms > 0 && opts->grace_ms > 0)
        log_error("%s: deadline exceeded while loading: its top level still ran past --timeout "
                  "%ld ms and --grace %ld ms (compiled Lua code cannot be interrupted, see "
                  "DEADLINES in moonwire(1)); the check was killed",
                  names, opts->timeout_ms, opts->grace_ms);
    else
        log_error("%s: the script check was killed by signal %d (%s)", names, sig, strsignal(sig));
    return -1;
}

/* The --check child: it dies with its parent (a loop that no deadline ends
 * must not outlive the command that asked), with the parent's mask back. */
static void run_child(const struct options *opts, pid_t parent, const sigset_t *mask)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
        sigprocmask(SIG_SETMASK, mask, NULL) < 0) {
        log_error("cannot start the script check: %s", strerror(errno));
        _exit(1);
    }
    exit(worker_check_script(opts) < 0 ? 1 : 0);
}

int worker_check(const struct options *opts)
{
    sigset_t chld, old, none;
    int status, signum;
    sigemptyset(&none);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &old) < 0) {
        log_error("sigprocmask: %s", strerror(errno));
        return 1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0)
        run_child(opts, parent, &old);
    char names[ERR_MAX];
    if (worker_check_wait(options_scripts_text(opts, names, sizeof names), pid, &none, &status,
                          &signum) != 0 ||
        worker_check_verdict(opts, status) < 0)
        return 1;
    const char *scripts[OPTIONS_MAX_LISTEN + 1];
    int n = options_scripts(opts, scripts);
    for (int i = 0; i < n; i++)
        printf("%s: ok\n", scripts[i]);
    return 0;
}
