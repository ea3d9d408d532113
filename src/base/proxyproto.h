/* proxyproto: the PROXY protocol header (versions 1 and 2) that a load
 * balancer sends before the client's bytes, naming the client it relays.
 * A pure parser: bytes in, addresses out; no I/O, no allocation. */
#ifndef MW_PROXYPROTO_H
#define MW_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXYPROTO_V1_MAX 107       /* the longest v1 line, CRLF included */
#define PROXYPROTO_MAX (16 + 65535) /* the longest v2 header */

struct proxyproto_addr {
    int version;      /* 1 or 2 */
    int local;        /* LOCAL or UNKNOWN: no client named; the connection speaks for
                         itself */
    int health_check; /* v2 LOCAL: the proxy's own connection, made to check on
                         the server, not a client's */
    struct sockaddr_storage src, dst;
    socklen_t srclen, dstlen;
};

/* Reads a header at the start of buf: its length in bytes (> 0) with out
 * filled; 0 when it may be a header but more bytes are needed; -1 when it is
 * not a valid header, with why saying what is wrong. */
long proxyproto_parse(const unsigned char *buf, size_t len, struct proxyproto_addr *out,
                      const char **why);

#endif
