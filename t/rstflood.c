/* rstflood: opens N connections to HOST:PORT, BATCH at a time, and drops each
 * with a reset (SO_LINGER 0) right after connect.
 *   rstflood HOST PORT N [BATCH]
 * Exits 0 when every connect succeeded. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_and_reset(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct linger lg = {1, 0};
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    if (rc == 0)
        rc = setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (rc < 0)
        fprintf(stderr, "rstflood: connect: %s\n", strerror(errno));
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: rstflood HOST PORT N\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "rstflood: bad address %s\n", argv[1]);
        return 2;
    }
    int n = atoi(argv[3]), failed = 0;
    for (int i = 0; i < n; i++)
        failed += connect_and_reset(&sa) < 0;
    printf("rstflood: %d connections reset, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
