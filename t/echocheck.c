/* echocheck: sends pseudo-random bytes over N connections at once and checks
 * that every byte comes back, in order.
 *   echocheck HOST PORT CONNECTIONS BYTES [TIMEOUT_S]
 * Exits 0 when every connection echoed every byte, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384

struct peer {
    int fd;
    size_t sent, received;
    uint64_t send_state, check_state; /* two copies of one stream generator */
};

static uint8_t next_byte(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint8_t)(*state >> 32);
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "echocheck: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        fprintf(stderr, "echocheck: connect %s:%s: %s\n", host, port, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static int send_some(struct peer *p, size_t total)
{
    uint8_t buf[CHUNK];
    size_t n = total - p->sent < CHUNK ? total - p->sent : CHUNK;
    uint64_t state = p->send_state;
    for (size_t i = 0; i < n; i++)
        buf[i] = next_byte(&state);
    ssize_t w = write(p->fd, buf, n);
    if (w < 0)
        return errno == EAGAIN ? 0 : -1;
    for (ssize_t i = 0; i < w; i++) /* advance by what was taken only */
        next_byte(&p->send_state);
    p->sent += (size_t)w;
    return 0;
}

static int receive_some(struct peer *p, int index)
{
    uint8_t buf[CHUNK];
    ssize_t r = read(p->fd, buf, sizeof buf);
    if (r < 0)
        return errno == EAGAIN ? 0 : -1;
    if (r == 0) {
        fprintf(stderr, "echocheck: connection %d closed after %zu bytes\n", index, p->received);
        return -1;
    }
    for (ssize_t i = 0; i < r; i++, p->received++)
        if (buf[i] != next_byte(&p->check_state)) {
            fprintf(stderr, "echocheck: connection %d: byte %zu differs\n", index, p->received);
            return -1;
        }
    return 0;
}

static int run(struct peer *peers, int n, size_t total, int timeout_s)
{
    struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
    time_t end = time(NULL) + timeout_s;
    int done = 0;
    while (done < n && time(NULL) < end) {
        for (int i = 0; i < n; i++) {
            pfd[i].fd = peers[i].received == total ? -1 : peers[i].fd;
            pfd[i].events = POLLIN | (peers[i].sent < total ? POLLOUT : 0);
        }
        if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
            break;
        done = 0;
        for (int i = 0; i < n; i++) {
            if ((pfd[i].revents & POLLOUT) && send_some(&peers[i], total) < 0)
                goto fail;
            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && receive_some(&peers[i], i) < 0)
                goto fail;
            done += peers[i].received == total;
        }
    }
    free(pfd);
    if (done < n)
        fprintf(stderr, "echocheck: timed out: %d of %d connections complete\n", done, n);
    return done == n ? 0 : -1;
fail:
    free(pfd);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: echocheck HOST PORT CONNECTIONS BYTES [TIMEOUT_S]\n");
        return 2;
    }
    int n = atoi(argv[3]), timeout_s = argc > 5 ? atoi(argv[5]) : 30;
    size_t total = strtoull(argv[4], NULL, 10);
    struct peer *peers = calloc((size_t)n, sizeof *peers);
    int connected = 0, rc = 1;
    for (; connected < n; connected++) {
        peers[connected].fd = connect_to(argv[1], argv[2]);
        if (peers[connected].fd < 0)
            goto done;
        peers[connected].send_state = 0x9e3779b97f4a7c15ULL * (uint64_t)(connected + 1);
        peers[connected].check_state = peers[connected].send_state;
    }
    if (run(peers, n, total, timeout_s) == 0) {
        printf("echocheck: %d connections echoed %zu bytes each\n", n, total);
        rc = 0;
    }
done:
    for (int i = 0; i < connected; i++)
        close(peers[i].fd);
    free(peers);
    return rc;
}
