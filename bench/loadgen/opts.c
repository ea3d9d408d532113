#define _GNU_SOURCE
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void lg_opts_usage(FILE *f)
{
    fputs("usage: loadgen [options] HOST:PORT\n"
          "  -c, --connections N   connections (default 50)\n"
          "  -s, --size BYTES      message size (default 64; line: including '\\n')\n"
          "  -d, --depth N         messages in flight per connection (default 1)\n"
          "  -t, --duration SEC    measured time (default 5)\n"
          "  -w, --warmup SEC      unmeasured time first (default 1)\n"
          "  -p, --proto P         line | raw | resp (default line)\n"
          "  -i, --idle            open N connections, one echo each, hold them, report\n"
          "                        server memory per connection\n"
          "      --hold SEC        idle: how long to hold before measuring (default 2)\n"
          "      --server-pid PID  server to measure (CPU per message, RSS); its\n"
          "                        child processes are counted with it\n"
          "      --per-src N       connections per source address in 127.0.0.0/8\n"
          "                        (default 100; 0 = kernel's choice)\n"
          "      --batch N         connections being opened at once (default 256)\n"
          "      --timeout SEC     give up setting up connections after (default 60)\n"
          "Only loopback targets (127.0.0.0/8, ::1) are accepted.\n",
          f);
}

static int lg_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

/* Splits "host:port" or "[v6]:port" and resolves it numerically. */
static int lg_parse_target(struct lg_opts *o, const char *s, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (colon == NULL || hl == 0 || hl >= sizeof host || colon[1] == '\0') {
        snprintf(err, errlen, "bad target '%s': expected HOST:PORT", s);
        return -1;
    }
    const char *h = s;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "bad target '%s': %s", s, gai_strerror(rc));
        return -1;
    }
    memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
    o->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (!lg_is_loopback(&o->addr)) {
        snprintf(err, errlen, "target '%s' is not a loopback address", s);
        return -1;
    }
    return 0;
}

static int lg_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void lg_defaults(struct lg_opts *o)
{
    memset(o, 0, sizeof *o);
    o->conns = 50;
    o->size = 64;
    o->depth = 1;
    o->duration = 5;
    o->warmup = 1;
    o->hold = 2;
    o->timeout = 60;
    o->proto = MSG_LINE;
    o->per_src = 100;
    o->batch = 256;
}

enum { OPT_HOLD = 256, OPT_PID, OPT_PERSRC, OPT_BATCH, OPT_TIMEOUT };

static const struct option lg_longopts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"size", required_argument, NULL, 's'},
    {"depth", required_argument, NULL, 'd'},
    {"duration", required_argument, NULL, 't'},
    {"warmup", required_argument, NULL, 'w'},
    {"proto", required_argument, NULL, 'p'},
    {"idle", no_argument, NULL, 'i'},
    {"help", no_argument, NULL, 'h'},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"server-pid", required_argument, NULL, OPT_PID},
    {"per-src", required_argument, NULL, OPT_PERSRC},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {NULL, 0, NULL, 0},
};

/* Applies an option that takes a whole number; returns 0, or -1 when out of range. */
static int lg_apply_count(struct lg_opts *o, int c, const char *arg)
{
    double v;
    int rc = -1;
    switch (c) {
    case 'c':
        if ((rc = lg_num(arg, 1, 1000000, &v)) == 0)
            o->conns = (unsigned)v;
        break;
    case 's':
        if ((rc = lg_num(arg, 1, 16 << 20, &v)) == 0)
            o->size = (size_t)v;
        break;
    case 'd':
        if ((rc = lg_num(arg, 1, 4096, &v)) == 0)
            o->depth = (unsigned)v;
        break;
    case OPT_PID:
        if ((rc = lg_num(arg, 1, 1 << 30, &v)) == 0)
            o->server_pid = (pid_t)v;
        break;
    case OPT_PERSRC:
        if ((rc = lg_num(arg, 0, 60000, &v)) == 0)
            o->per_src = (unsigned)v;
        break;
    case OPT_BATCH:
        if ((rc = lg_num(arg, 1, 1000000, &v)) == 0)
            o->batch = (unsigned)v;
        break;
    }
    return rc;
}

/* Applies one option; returns 0, or -1 when its value is out of range. */
static int lg_apply(struct lg_opts *o, int c, const char *arg)
{
    switch (c) {
    case 't':
        return lg_num(arg, 0.01, 3600, &o->duration);
    case 'w':
        return lg_num(arg, 0, 600, &o->warmup);
    case OPT_HOLD:
        return lg_num(arg, 0, 600, &o->hold);
    case OPT_TIMEOUT:
        return lg_num(arg, 0.1, 3600, &o->timeout);
    case 'p':
        return msg_proto_parse(arg, &o->proto);
    case 'i':
        o->idle = 1;
        return 0;
    default:
        return lg_apply_count(o, c, arg);
    }
}

int lg_opts_parse(struct lg_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    lg_defaults(o);
    int c;
    while ((c = getopt_long(argc, argv, "c:s:d:t:w:p:ih", lg_longopts, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == '?') {
            snprintf(err, errlen, "unknown option (see --help)");
            return -1;
        }
        if (lg_apply(o, c, optarg) != 0) {
            snprintf(err, errlen, "bad value '%s' for -%c", optarg ? optarg : "",
                     c < 256 ? c : '-');
            return -1;
        }
    }
    if (optind != argc - 1) {
        snprintf(err, errlen, "expected one target HOST:PORT (see --help)");
        return -1;
    }
    o->target = argv[optind];
    return lg_parse_target(o, o->target, err, errlen);
}
