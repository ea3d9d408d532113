/* listener: a bound, listening socket that hands accepted descriptors on.
 * Binds TCP (v4/v6) and UNIX addresses with errors in the system's words;
 * a stale UNIX socket file left by a dead server is replaced. */
#ifndef MW_LISTENER_H
#define MW_LISTENER_H

#include <stddef.h>

struct addr;
struct event_base;
struct listener;

typedef void (*listener_accept_fn)(int fd, void *arg);

struct listener *listener_open(struct event_base *base, const struct addr *addr,
                               listener_accept_fn on_accept, void *arg, char *err,
                               size_t errlen);
/* The address actually bound ("127.0.0.1:39211" after asking for port 0). */
const char *listener_name(const struct listener *l);
void listener_close(struct listener *l);

#endif
