#include "config.h"

#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define V1_PREFIX "PROXY "
#define V2_HEADER 16
#define V2_INET 12
#define V2_INET6 36
#define V2_UNIX 216

static const unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static long fail(const char **why, const char *what)
{
    *why = what;
    return -1;
}

/* The first min(len, n) bytes of buf are those of prefix. */
static int starts_as(const unsigned char *buf, size_t len, const void *prefix, size_t n)
{
    return memcmp(buf, prefix, len < n ? len : n) == 0;
}

/* ---- version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 111 222\r\n" ---- */

/* The next field of a line split by single spaces, or NULL when empty. */
static char *next_field(char **at)
{
    char *field = *at, *space = strchr(field, ' ');
    if (space) {
        *space = '\0';
        *at = space + 1;
    } else {
        *at = field + strlen(field);
    }
    return *field ? field : NULL;
}

/* A decimal port, 0..65535, without sign or leading zero. */
static int parse_port(const char *text, in_port_t *port)
{
    size_t n = text ? strspn(text, "0123456789") : 0;
    if (n == 0 || n > 5 || text[n] || (n > 1 && text[0] == '0'))
        return -1;
    long value = strtol(text, NULL, 10);
    if (value > 65535)
        return -1;
    *port = htons((in_port_t)value);
    return 0;
}

static int v1_inet(const char *ip, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    in->sin_family = AF_INET;
    *len = sizeof *in;
    return ip && inet_pton(AF_INET, ip, &in->sin_addr) == 1 ? parse_port(port, &in->sin_port) : -1;
}

static int v1_inet6(const char *ip, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    in6->sin6_family = AF_INET6;
    *len = sizeof *in6;
    return ip && inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1 ? parse_port(port, &in6->sin6_port)
                                                               : -1;
}

/* line: the header without "PROXY " and CRLF, NUL-terminated, writable. */
static long v1_fields(char *line, struct proxyproto_addr *out, const char **why)
{
    char *at = line, *proto = next_field(&at);
    if (proto && strcmp(proto, "UNKNOWN") == 0)
        return out->local = 1, 0;
    int v6 = proto && strcmp(proto, "TCP6") == 0;
    if (!proto || (!v6 && strcmp(proto, "TCP4") != 0))
        return fail(why, "v1 header: protocol is not TCP4, TCP6 or UNKNOWN");
    char *src = next_field(&at), *dst = next_field(&at);
    char *sport = next_field(&at), *dport = next_field(&at);
    int (*inet)(const char *, const char *, struct sockaddr_storage *, socklen_t *) =
        v6 ? v1_inet6 : v1_inet;
    if (inet(src, sport, &out->src, &out->srclen) < 0 ||
        inet(dst, dport, &out->dst, &out->dstlen) < 0 || *at)
        return fail(why, "v1 header: bad addresses or ports");
    return 0;
}

static long parse_v1(const unsigned char *buf, size_t len, struct proxyproto_addr *out,
                     const char **why)
{
    char line[PROXYPROTO_V1_MAX + 1];
    size_t look = len < PROXYPROTO_V1_MAX ? len : PROXYPROTO_V1_MAX;
    const unsigned char *lf = memchr(buf, '\n', look);
    if (!lf)
        return look == PROXYPROTO_V1_MAX ? fail(why, "v1 header: no CRLF within 107 bytes") : 0;
    size_t n = (size_t)(lf - buf);
    if (n < sizeof V1_PREFIX || buf[n - 1] != '\r')
        return fail(why, "v1 header: line does not end in CRLF");
    memcpy(line, buf + strlen(V1_PREFIX), n - 1 - strlen(V1_PREFIX));
    line[n - 1 - strlen(V1_PREFIX)] = '\0';
    if (strlen(line) != n - 1 - strlen(V1_PREFIX))
        return fail(why, "v1 header: NUL byte in the line");
    out->version = 1;
    return v1_fields(line, out, why) < 0 ? -1 : (long)n + 1;
}

/* ---- version 2: binary, after a 12-byte signature ---- */

static void v2_inet(const unsigned char *a, struct proxyproto_addr *out)
{
    struct sockaddr_in *src = (struct sockaddr_in *)&out->src;
    struct sockaddr_in *dst = (struct sockaddr_in *)&out->dst;
    src->sin_family = dst->sin_family = AF_INET;
    memcpy(&src->sin_addr, a, 4);
    memcpy(&dst->sin_addr, a + 4, 4);
    memcpy(&src->sin_port, a + 8, 2);
    memcpy(&dst->sin_port, a + 10, 2);
    out->srclen = out->dstlen = sizeof *src;
}

static void v2_inet6(const unsigned char *a, struct proxyproto_addr *out)
{
    struct sockaddr_in6 *src = (struct sockaddr_in6 *)&out->src;
    struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&out->dst;
    src->sin6_family = dst->sin6_family = AF_INET6;
    memcpy(&src->sin6_addr, a, 16);
    memcpy(&dst->sin6_addr, a + 16, 16);
    memcpy(&src->sin6_port, a + 32, 2);
    memcpy(&dst->sin6_port, a + 34, 2);
    out->srclen = out->dstlen = sizeof *src;
}

/* Paths of up to 108 bytes, NUL-padded; one that fills them all is cut. */
static void v2_unix(const unsigned char *a, struct proxyproto_addr *out)
{
    struct sockaddr_un *src = (struct sockaddr_un *)&out->src;
    struct sockaddr_un *dst = (struct sockaddr_un *)&out->dst;
    src->sun_family = dst->sun_family = AF_UNIX;
    memcpy(src->sun_path, a, sizeof src->sun_path - 1);
    memcpy(dst->sun_path, a + 108, sizeof dst->sun_path - 1);
    out->srclen = out->dstlen = sizeof *src;
}

/* fam: the address family and transport byte; a: the addresses, alen long. */
static long v2_addresses(unsigned fam, const unsigned char *a, size_t alen,
                         struct proxyproto_addr *out, const char **why)
{
    static const size_t need[] = {0, V2_INET, V2_INET6, V2_UNIX};
    unsigned family = fam >> 4, transport = fam & 0x0F;
    if (family > 3 || transport > 2)
        return fail(why, "v2 header: unknown address family or transport");
    if (family == 0)
        return out->local = 1, 0;
    if (alen < need[family])
        return fail(why, "v2 header: addresses longer than the header");
    if (family == 1)
        v2_inet(a, out);
    else if (family == 2)
        v2_inet6(a, out);
    else
        v2_unix(a, out);
    return 0;
}

static long parse_v2(const unsigned char *buf, size_t len, struct proxyproto_addr *out,
                     const char **why)
{
    if (len < V2_HEADER)
        return 0;
    size_t alen = (size_t)buf[14] << 8 | buf[15];
    if (buf[12] >> 4 != 2)
        return fail(why, "v2 header: version is not 2");
    if ((buf[12] & 0x0F) > 1)
        return fail(why, "v2 header: command is neither LOCAL nor PROXY");
    if (len < V2_HEADER + alen)
        return 0;
    out->version = 2;
    if ((buf[12] & 0x0F) == 0)
        out->local = out->health_check = 1; /* LOCAL: from the proxy itself */
    else if (v2_addresses(buf[13], buf + V2_HEADER, alen, out, why) < 0)
        return -1;
    return (long)(V2_HEADER + alen);
}

long proxyproto_parse(const unsigned char *buf, size_t len, struct proxyproto_addr *out,
                      const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (len == 0)
        return 0;
    if (starts_as(buf, len, V1_PREFIX, strlen(V1_PREFIX)))
        return len < strlen(V1_PREFIX) ? 0 : parse_v1(buf, len, out, why);
    if (starts_as(buf, len, v2_signature, sizeof v2_signature))
        return parse_v2(buf, len, out, why);
    return fail(why, "no PROXY protocol header");
}
