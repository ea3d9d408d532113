#include "config.h"

#include "resolve.h"

#include "addr.h"

#include <event2/dns.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resolve_request {
    struct evdns_getaddrinfo_request *dns;
    resolve_fn fn;
    void *arg;
    int cancelled;
};

static struct evdns_base *dns_base;

/* Numbers and UNIX paths need no lookup. Returns 0 when answered. */
static int resolve_now(const char *host, int port, resolve_fn fn, void *arg)
{
    char text[ADDR_TEXT_MAX + 16], err[ADDR_TEXT_MAX + 64];
    struct addr addr;
    struct evutil_addrinfo hints = {.ai_flags = EVUTIL_AI_NUMERICHOST}, *res;
    int numeric = strncmp(host, "unix:", 5) == 0;
    if (!numeric && evutil_getaddrinfo(host, NULL, &hints, &res) == 0) {
        evutil_freeaddrinfo(res);
        numeric = 1;
    }
    if (!numeric)
        return -1;
    const char *fmt = strncmp(host, "unix:", 5) == 0 ? "%s"
                      : strchr(host, ':')            ? "[%s]:%d"
                                                     : "%s:%d";
    snprintf(text, sizeof text, fmt, host, port);
    if (addr_parse(text, &addr, err, sizeof err) < 0)
        fn(NULL, 0, err, arg);
    else
        fn((struct sockaddr *)&addr.sa, addr.len, NULL, arg);
    return 0;
}

static void dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
    struct resolve_request *req = arg;
    if (!req->cancelled) {
        if (result != 0)
            req->fn(NULL, 0, evutil_gai_strerror(result), req->arg);
        else
            req->fn(res->ai_addr, (socklen_t)res->ai_addrlen, NULL, req->arg);
    }
    if (res)
        evutil_freeaddrinfo(res);
    free(req);
}

struct resolve_request *resolve_start(struct event_base *base, const char *host, int port,
                                      resolve_fn fn, void *arg)
{
    if (resolve_now(host, port, fn, arg) == 0)
        return NULL;
    struct resolve_request *req = calloc(1, sizeof *req);
    if (!dns_base)
        dns_base = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!req || !dns_base) {
        free(req);
        fn(NULL, 0, "cannot start name resolution", arg);
        return NULL;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    req->fn = fn;
    req->arg = arg;
    /* evdns may answer at once (from /etc/hosts): then req is already freed. */
    struct evdns_getaddrinfo_request *dns =
        evdns_getaddrinfo(dns_base, host, service, &hints, dns_done, req);
    if (!dns)
        return NULL;
    req->dns = dns;
    return req;
}

void resolve_cancel(struct resolve_request *req)
{
    req->cancelled = 1;
    evdns_getaddrinfo_cancel(req->dns);
}

void resolve_shutdown(void)
{
    if (dns_base)
        evdns_base_free(dns_base, 1);
    dns_base = NULL;
}
