#include "config.h"

#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define UNIX_PREFIX "unix:"

static int fail(char *err, size_t errlen, const char *text, const char *why)
{
    snprintf(err, errlen, "invalid address '%s': %s", text, why);
    return -1;
}

static int parse_unix(const char *text, struct addr *out, char *err, size_t errlen)
{
    const char *path = text + strlen(UNIX_PREFIX);
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    if (*path == '\0')
        return fail(err, errlen, text, "empty socket path");
    if (strlen(path) >= sizeof un->sun_path)
        return fail(err, errlen, text, "socket path too long");
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, path);
    out->len = sizeof *un;
    return 0;
}

/* Returns the port, or -1 when text is not a decimal number in 0..65535. */
static long parse_port(const char *text)
{
    if (*text == '\0' || strspn(text, "0123456789") != strlen(text) || strlen(text) > 5)
        return -1;
    long port = strtol(text, NULL, 10);
    return port <= 65535 ? port : -1;
}

/* Splits "host:port" or "[v6]:port" into host and port, in place. */
static int split_host_port(char *buf, char **host, char **port)
{
    char *colon;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':')
            return -1;
        *close = '\0';
        *host = buf + 1;
        *port = close + 2;
        return 0;
    }
    colon = strrchr(buf, ':');
    if (!colon || strchr(buf, ':') != colon)
        return -1;
    *colon = '\0';
    *host = buf;
    *port = colon + 1;
    return 0;
}

static int resolve(const char *host, long port, int v6, struct addr *out, const char **why)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char service[8];
    hints.ai_family = v6 ? AF_INET6 : AF_UNSPEC;
    if (v6)
        hints.ai_flags |= AI_NUMERICHOST; /* brackets hold an address, never a name */
    snprintf(service, sizeof service, "%ld", port);
    if (*host == '\0' || strcmp(host, "*") == 0)
        host = NULL, hints.ai_family = AF_INET;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int addr_parse(const char *text, struct addr *out, char *err, size_t errlen)
{
    char buf[ADDR_TEXT_MAX], *host, *portstr;
    const char *why = NULL;
    memset(out, 0, sizeof *out);
    if (strlen(text) >= sizeof buf)
        return fail(err, errlen, text, "too long");
    snprintf(out->text, sizeof out->text, "%s", text);
    if (strncmp(text, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
        return parse_unix(text, out, err, errlen);
    strcpy(buf, text);
    if (split_host_port(buf, &host, &portstr) < 0)
        return fail(err, errlen, text, "expected host:port, [v6]:port or unix:PATH");
    long port = parse_port(portstr);
    if (port < 0)
        return fail(err, errlen, text, "port must be a number from 0 to 65535");
    if (resolve(host, port, text[0] == '[', out, &why) < 0)
        return fail(err, errlen, text, why);
    return 0;
}

char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(buf, buflen, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(buf, buflen, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX && len > sizeof(sa_family_t)) {
        snprintf(buf, buflen, UNIX_PREFIX "%s", ((const struct sockaddr_un *)sa)->sun_path);
    } else {
        snprintf(buf, buflen, "unix:");
    }
    return buf;
}
