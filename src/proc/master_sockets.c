/* master_sockets: the listening sockets the master holds for its workers:
 * binding each --listen address (one SO_REUSEPORT socket per worker for TCP,
 * one shared socket for UNIX), adopting systemd's (LISTEN_FDS), closing. */
#include "config.h"

#include "master_int.h"

#include "addr.h"
#include "listener.h"
#include "log.h"
#include "sdlisten.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The lowest port an unprivileged process may bind: 1024, unless the
 * kernel was told otherwise. */
static long unprivileged_port_start(void)
{
    long start = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    if (f) {
        if (fscanf(f, "%ld", &start) != 1)
            start = 1024;
        fclose(f);
    }
    return start;
}

static unsigned tcp_port(const struct addr *addr)
{
    if (addr->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&addr->sa)->sin_port);
    if (addr->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&addr->sa)->sin6_port);
    return 0;
}

void master_bind_hint(const struct addr *addr, int errnum, char *err, size_t errlen)
{
    unsigned port = tcp_port(addr);
    if (errnum != EACCES || port == 0)
        return;
    long start = unprivileged_port_start();
    size_t n = strlen(err);
    if ((long)port >= start || n >= errlen)
        return;
    snprintf(err + n, errlen - n,
             " (ports below %ld need privileges: run as root with --user to serve as another "
             "user, or grant CAP_NET_BIND_SERVICE)",
             start);
}

/* TCP: a plain bind first, which fails if anyone (another moonwire with
 * SO_REUSEPORT included) holds the address, and resolves port 0. One worker
 * keeps that socket; several get one SO_REUSEPORT socket each on the port
 * found, so the kernel spreads connections and no two workers share one. */
static int bind_tcp(struct master *m, int i, const struct addr *addr, char *err, size_t errlen)
{
    int fd = listener_bind(addr, 0, &m->bound[i], err, errlen);
    if (fd < 0) {
        master_bind_hint(addr, errno, err, errlen);
        return -1;
    }
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

/* The --listen that names the same address as a passed socket (its flags
 * and script), or -1. */
static int inherited_listen(const struct master *m, const struct addr *bound, unsigned *flags)
{
    char err[ERR_MAX];
    for (int j = 0; j < m->opts->nlisten; j++) {
        struct addr addr;
        if (listener_parse(m->opts->listen[j], &addr, flags, err, sizeof err) == 0 &&
            sdlisten_same_address(&addr, bound))
            return j;
    }
    *flags = 0;
    return -1;
}

static void share_socket(struct master *m, int i, int fd, unsigned flags, const char *script)
{
    m->shared[i] = 1;
    for (int k = 0; k < m->nworkers; k++) {
        m->slots[k].socks[i].fd = fd;
        m->slots[k].socks[i].name = m->bound[i].text;
        m->slots[k].socks[i].script = script;
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
        unsigned flags;
        int j = inherited_listen(m, &m->bound[i], &flags);
        share_socket(m, i, SDLISTEN_FDS_START + i, flags,
                     j >= 0 ? options_listen_script(m->opts, j) : m->opts->script);
        log_listening(m, i);
        log_info("%s: socket passed by systemd (LISTEN_FDS)%s", m->bound[i].text,
                 flags & LISTENER_PROXY ? "; connections start with a PROXY protocol header" : "");
    }
    return 0;
}

int master_bind_all(struct master *m)
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
            m->slots[k].socks[i].script = options_listen_script(m->opts, i);
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
void master_close_sockets(struct master *m)
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
