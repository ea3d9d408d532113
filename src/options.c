#include "config.h"

#include "options.h"

#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum { OPT_CHECK = 256, OPT_LOG_LEVEL };

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"check", no_argument, NULL, OPT_CHECK},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const char *options_usage(void)
{
    return "usage: moonwire [options] SCRIPT\n"
           "  -l, --listen ADDR      host:port, [v6]:port or unix:PATH; repeatable\n"
           "                         (default " OPTIONS_DEFAULT_LISTEN ")\n"
           "      --check            load and check SCRIPT, then exit\n"
           "      --log-level LEVEL  error|warn|info|debug (default info)\n"
           "  -V, --version          print the version and exit\n"
           "  -h, --help             print this help and exit\n";
}

static enum options_result usage_error(char *err, size_t errlen, const char *fmt,
                                       const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return OPTIONS_USAGE;
}

static enum options_result take_option(int c, struct options *opts, const char *bad,
                                       char *err, size_t errlen)
{
    switch (c) {
    case 'l':
        if (opts->nlisten == OPTIONS_MAX_LISTEN)
            return usage_error(err, errlen, "too many --listen addresses (at most %s)", "16");
        opts->listen[opts->nlisten++] = optarg;
        return OPTIONS_RUN;
    case OPT_CHECK:
        opts->check = 1;
        return OPTIONS_RUN;
    case OPT_LOG_LEVEL:
        opts->log_level = log_level_parse(optarg);
        if (opts->log_level < 0)
            return usage_error(err, errlen,
                               "invalid --log-level '%s' (expected error, warn, info or debug)",
                               optarg);
        return OPTIONS_RUN;
    case 'V':
        return OPTIONS_VERSION;
    case 'h':
        return OPTIONS_HELP;
    case ':':
        return usage_error(err, errlen, "option '%s' needs a value", bad);
    default:
        return usage_error(err, errlen, "unknown option '%s'", bad);
    }
}

enum options_result options_parse(int argc, char **argv, struct options *opts, char *err,
                                  size_t errlen)
{
    memset(opts, 0, sizeof *opts);
    opts->log_level = LOG_INFO;
    optind = 0; /* glibc: 0 also resets getopt's internal state, for repeated calls */
    opterr = 0;
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(argc, argv, ":l:Vh", long_options, NULL);
        if (c == -1)
            break;
        enum options_result r = take_option(c, opts, prev < argc ? argv[prev] : "", err, errlen);
        if (r != OPTIONS_RUN)
            return r;
    }
    if (optind != argc - 1)
        return usage_error(err, errlen, "%s", optind >= argc ? "missing SCRIPT" : "more than one SCRIPT");
    opts->script = argv[optind];
    if (opts->nlisten == 0)
        opts->listen[opts->nlisten++] = OPTIONS_DEFAULT_LISTEN;
    return OPTIONS_RUN;
}
