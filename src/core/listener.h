/* listener: a bound, listening socket that hands accepted descriptors on.
 * Binds TCP (v4/v6) and UNIX addresses with errors in the system's words;
 * a stale UNIX socket file left by a dead server is replaced. Sockets may be
 * bound by one process (the master) and accepted on by another (a worker). */
#ifndef MW_LISTENER_H
#define MW_LISTENER_H

#include <stddef.h>

struct addr;
struct event_base;
struct listener;

typedef void (*listener_accept_fn)(int fd, void *arg);

#define LISTENER_PROXY 1 /* connections start with a PROXY protocol header */

/* A --listen argument, "ADDR" or "ADDR,proxy": the address and the flags;
 * 0, or -1 with err set. */
int listener_parse(const char *spec, struct addr *addr, unsigned *flags, char *err, size_t errlen);

/* Binds and listens: the descriptor, or -1 with err set (and errno, when it
 * was bind or listen that failed, the system's reason). bound (if not NULL)
 * gets the address bound, port 0 resolved. With reuseport the socket joins
 * the address's SO_REUSEPORT group, over which the kernel spreads connections. */
int listener_bind(const struct addr *addr, int reuseport, struct addr *bound, char *err,
                  size_t errlen);
/* Accepts on a listening descriptor bound elsewhere (by the master); closes
 * it on listener_close, and never unlinks a UNIX socket file. */
struct listener *listener_adopt(struct event_base *base, int fd, const char *name,
                                listener_accept_fn on_accept, void *arg, char *err, size_t errlen);
/* listener_bind + listener_adopt; a UNIX socket file is unlinked on close. */
struct listener *listener_open(struct event_base *base, const struct addr *addr,
                               listener_accept_fn on_accept, void *arg, char *err, size_t errlen);
/* Stops and restarts accepting; connections wait in the kernel's backlog. */
void listener_pause(struct listener *l);
void listener_resume(struct listener *l);
/* The address actually bound ("127.0.0.1:39211" after asking for port 0). */
const char *listener_name(const struct listener *l);
/* While a listener's on_accept runs: its name; else NULL. A connection made
 * then is that listener's (conn counts its figures by listener). */
const char *listener_accepting(void);
void listener_close(struct listener *l);

#endif
