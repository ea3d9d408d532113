/* resolve: host names to addresses without blocking the loop (evdns).
 * Numeric addresses and "unix:PATH" are answered at once, without DNS. */
#ifndef MW_RESOLVE_H
#define MW_RESOLVE_H

#include <sys/socket.h>

struct event_base;
struct resolve_request;

/* err is NULL on success, else why the name did not resolve. */
typedef void (*resolve_fn)(const struct sockaddr *sa, socklen_t len, const char *err, void *arg);

/* Calls fn, now or later. Returns a request that resolve_cancel can stop
 * (fn is then not called), or NULL when fn was already called. */
struct resolve_request *resolve_start(struct event_base *base, const char *host, int port,
                                      resolve_fn fn, void *arg);
void resolve_cancel(struct resolve_request *req);
void resolve_shutdown(void);

#endif
