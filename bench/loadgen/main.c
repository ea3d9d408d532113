/* loadgen: a load generator for moonwire's benchmarks: line, raw or RESP
 * echo over many loopback connections, every byte checked, latency in an
 * HDR-style histogram; or an idle mode that measures server memory per
 * connection. See bench/README.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "opts.h"
#include "report.h"
#include "run.h"

/* Descriptors kept free for stdio, the event loop and /proc reads. */
#define LG_FD_HEADROOM 64

/* Raises the soft descriptor limit to the hard one and checks that conns
 * fit under it; the hard limit is not raisable here, so say so and stop. */
static int lg_fd_limit(unsigned conns, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)rl.rlim_max,
                 strerror(errno));
        return -1;
    }
    if ((rlim_t)conns + LG_FD_HEADROOM > rl.rlim_cur) {
        snprintf(err, errlen,
                 "%u connections need %u descriptors, the limit is %llu (ulimit -Hn): "
                 "use at most %llu",
                 conns, conns + LG_FD_HEADROOM, (unsigned long long)rl.rlim_cur,
                 (unsigned long long)rl.rlim_cur - LG_FD_HEADROOM);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct lg_opts o;
    static struct lg_run run;
    char err[512];
    int rc = lg_opts_parse(&o, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "loadgen: %s\n", err);
        lg_opts_usage(rc < 0 ? stderr : stdout);
        return rc < 0 ? 2 : 0;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("loadgen: signal(SIGPIPE)");
        return 2;
    }
    if (lg_fd_limit(o.conns, err, sizeof err) != 0 || lg_run_init(&run, &o, err, sizeof err) != 0 ||
        lg_run_go(&run, err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        lg_run_free(&run);
        return 2;
    }
    lg_report(stdout, &run);
    int bad = run.mismatches > 0 || run.errors > 0 || (!o.idle && run.msgs == 0);
    lg_run_free(&run);
    return bad ? 1 : 0;
}
