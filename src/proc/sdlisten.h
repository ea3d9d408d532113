/* sdlisten: the listening sockets systemd (or anyone following its socket
 * activation protocol) passes: LISTEN_PID names this process, LISTEN_FDS
 * counts descriptors from 3 on. sd_listen_fds(3) semantics, no libsystemd. */
#ifndef MW_SDLISTEN_H
#define MW_SDLISTEN_H

#include <stddef.h>

struct addr;

#define SDLISTEN_FDS_START 3

/* How many sockets were passed to this process (0 when none, or when they
 * were meant for another process), at most max; -1 with err set when one is
 * not a listening stream socket. Unsets LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES, so children do not take them; marks the descriptors
 * close-on-exec and non-blocking. */
int sdlisten_fds(int max, char *err, size_t errlen);
/* The address fd is bound to, as an addr whose text is "ip:port" or
 * "unix:PATH"; -1 with err set. */
int sdlisten_address(int fd, struct addr *out, char *err, size_t errlen);
/* 1 when a and b name the same socket address. */
int sdlisten_same_address(const struct addr *a, const struct addr *b);

#endif
