/* addr: the listen/connect address syntax of the command line.
 * "host:port", "[v6]:port", "unix:PATH"; and the "ip:port" text of a peer.
 * Parsing resolves names once, at start-up; errors are written to err. */
#ifndef MW_ADDR_H
#define MW_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 128

struct addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[ADDR_TEXT_MAX]; /* as the user wrote it, for messages */
};

int addr_parse(const char *text, struct addr *out, char *err, size_t errlen);
/* Writes "1.2.3.4:80", "[::1]:80" or "unix:PATH"; returns buf. */
char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

#endif
