/* moonwire: command line -> options -> serve (or check) the handler script. */
#include "config.h"

#include "config_file.h"
#include "log.h"
#include "master.h"
#include "options.h"
#include "worker.h"

#include <signal.h>
#include <stdio.h>

#define EXIT_USAGE 2

/* The defaults, then the --config file if there is one, then the command
 * line over them. */
static enum options_result take_options(int argc, char **argv, struct options *opts, char *err,
                                        size_t errlen, int *config_failed)
{
    int at;
    const char *config = options_config_path(argc, argv);
    options_init(opts);
    if (config && config_apply(config, opts, err, errlen) < 0) {
        *config_failed = 1;
        return OPTIONS_USAGE;
    }
    enum options_result r = options_take(argc, argv, opts, &at, err, errlen);
    if (r != OPTIONS_RUN)
        return r;
    return options_finish(opts, argc - at, at < argc ? argv[at] : NULL, err, errlen);
}

int main(int argc, char **argv)
{
    struct options opts;
    char err[1024];
    int config_failed = 0;
    enum options_result r = take_options(argc, argv, &opts, err, sizeof err, &config_failed);
    if (config_failed) {
        fprintf(stderr, "moonwire: %s\n", err);
        return 1;
    }
    switch (r) {
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
