/* moonwire: command line -> options -> serve (or check) the handler script. */
#include "config.h"

#include "log.h"
#include "master.h"
#include "options.h"
#include "worker.h"

#include <signal.h>
#include <stdio.h>

#define EXIT_USAGE 2

int main(int argc, char **argv)
{
    struct options opts;
    char err[512];
    switch (options_parse(argc, argv, &opts, err, sizeof err)) {
    case OPTIONS_HELP:
        fputs(options_usage(), stdout);
        return 0;
    case OPTIONS_VERSION:
        puts(PACKAGE_STRING);
        return 0;
    case OPTIONS_USAGE:
        fprintf(stderr, "moonwire: %s\n%s", err, options_usage());
        return EXIT_USAGE;
    case OPTIONS_RUN:
        break;
    }
    log_set_level(opts.log_level);
    /* A peer that goes away must cost a connection, not the process. */
    signal(SIGPIPE, SIG_IGN);
    return opts.check ? worker_check(&opts) : master_run(&opts);
}
