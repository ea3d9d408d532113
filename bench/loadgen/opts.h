/* opts: the load generator's command line, checked and converted.
 *   lg_opts_parse  lg_opts_usage */
#ifndef MW_BENCH_OPTS_H
#define MW_BENCH_OPTS_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "msg.h"

struct lg_opts {
    const char *target;
    struct sockaddr_storage addr; /* always a loopback address */
    socklen_t addrlen;
    unsigned conns;
    size_t size;
    unsigned depth;
    double duration, warmup, hold, timeout;
    enum msg_proto proto;
    int idle;
    pid_t server_pid; /* 0: no server figures */
    unsigned per_src; /* connections per source address; 0: let the kernel choose */
    unsigned batch;   /* connections being set up at once */
};

/* Returns 0, 1 when help was asked for, or -1 with a reason in err. */
int lg_opts_parse(struct lg_opts *o, int argc, char **argv, char *err, size_t errlen);
void lg_opts_usage(FILE *f);

#endif
