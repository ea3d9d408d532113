#include "config.h"

#include "options.h"

#include "log.h"
#include "luaheap.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_CHECK = 256, OPT_LOG_LEVEL, OPT_SHUTDOWN_TIMEOUT, OPT_PID_FILE, OPT_USER, OPT_LOG_FILE };
enum { OPT_MAX_CONNS = 300, OPT_MEMORY_LIMIT };
enum { OPT_GRACE = 320 };
enum { OPT_LOG_FORMAT = 340, OPT_METRICS };

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"config", required_argument, NULL, 'c'},
    {"check", no_argument, NULL, OPT_CHECK},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"workers", required_argument, NULL, 'w'},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"user", required_argument, NULL, OPT_USER},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
    {"timeout", required_argument, NULL, 't'},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const char *options_usage(void)
{
    return "usage: moonwire [options] SCRIPT\n"
           "  -c, --config FILE      settings and listeners from a Lua file; the command\n"
           "                         line overrides it (SCRIPT optional then)\n"
           "  -l, --listen ADDR      host:port, [v6]:port or unix:PATH; repeatable\n"
           "                         ADDR,proxy: connections start with a PROXY header\n"
           "                         ADDR=FILE: served by script FILE, not SCRIPT (which\n"
           "                         may then be left out if every -l names one)\n"
           "                         (default " OPTIONS_DEFAULT_LISTEN ")\n"
           "  -w, --workers N|auto   worker processes; auto = online CPUs (default 1)\n"
           "  -t, --timeout MS       deadline of each entry into Lua; 0 = none (default 5000)\n"
           "      --grace MS         past a deadline, then the worker is replaced; 0 = never\n"
           "                         (default 1000)\n"
           "      --shutdown-timeout SEC  time workers have to drain at a stop (default 10)\n"
           "      --max-conns N      connections per worker; past it, accepting pauses\n"
           "      --memory-limit SIZE  Lua heap per worker, at least 256K, e.g. 64M or 1G\n"
           "                         (default: none)\n"
           "      --check            load and check SCRIPT, then exit\n"
           "      --log-level LEVEL  error|warn|info|debug (default info)\n"
           "      --log-file PATH    log there instead of stderr; SIGUSR1 reopens it\n"
           "      --log-format FORMAT  text|json: lines, or one JSON object a line (default text)\n"
           "      --metrics ADDR     serve Prometheus metrics at http://ADDR/metrics (master)\n"
           "      --pid-file PATH    write the master's pid there; refuse to start if taken\n"
           "      --user USER        bind, then run the workers as USER (never as root)\n"
           "  -V, --version          print the version and exit\n"
           "  -h, --help             print this help and exit\n";
}

static enum options_result usage_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return OPTIONS_USAGE;
}

/* -w N (1..OPTIONS_MAX_WORKERS) or "auto", stored as 0. */
static int parse_workers(const char *arg, int *out)
{
    char *end;
    if (strcmp(arg, "auto") == 0) {
        *out = 0;
        return 0;
    }
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (errno || end == arg || *end || n < 1 || n > OPTIONS_MAX_WORKERS)
        return -1;
    *out = (int)n;
    return 0;
}

/* A duration in seconds, fractions allowed, at most a day. */
static int parse_seconds(const char *arg, double *out)
{
    char *end;
    errno = 0;
    double s = strtod(arg, &end);
    if (errno || end == arg || *end || !(s >= 0 && s <= 86400))
        return -1;
    *out = s;
    return 0;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *arg, size_t *out)
{
    char *end;
    errno = 0;
    double n = strtod(arg, &end);
    double unit = *end == 'K' || *end == 'k'   ? 1024.0
                  : *end == 'M' || *end == 'm' ? 1048576.0
                  : *end == 'G' || *end == 'g' ? 1073741824.0
                                               : 1.0;
    if (unit > 1.0)
        end++;
    if (errno || end == arg || *end || !(n * unit >= 1 && n * unit < 1e15))
        return -1;
    *out = (size_t)(n * unit);
    return 0;
}

/* A --memory-limit under what a worker's Lua state needs to start. */
static enum options_result too_small_memory_limit(char *err, size_t errlen, const char *arg)
{
    snprintf(err, errlen,
             "--memory-limit '%s' is too small: a worker's Lua state needs at least %zuK", arg,
             LUAHEAP_MIN_LIMIT / 1024);
    return OPTIONS_USAGE;
}

/* --max-conns and --memory-limit: 1 when c was one of them (and taken). */
static int take_limit(int c, struct options *opts, enum options_result *r, char *err, size_t errlen)
{
    long n;
    char *end;
    switch (c) {
    case OPT_MAX_CONNS:
        errno = 0;
        n = strtol(optarg, &end, 10);
        opts->max_conns = errno || *end || end == optarg || n < 1 || n > 10000000 ? 0 : n;
        if (!opts->max_conns)
            *r = usage_error(err, errlen, "invalid --max-conns '%s' (expected 1 to 10000000)",
                             optarg);
        return 1;
    case OPT_MEMORY_LIMIT:
        if (parse_size(optarg, &opts->memory_limit) < 0)
            *r =
                usage_error(err, errlen, "invalid --memory-limit '%s' (expected e.g. 64M)", optarg);
        else if (opts->memory_limit < LUAHEAP_MIN_LIMIT)
            *r = too_small_memory_limit(err, errlen, optarg);
        return 1;
    }
    return 0;
}

/* Milliseconds, a whole number from 0 to a day. */
static int parse_ms(const char *arg, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (errno || end == arg || *end || n < 0 || n > 86400000)
        return -1;
    *out = n;
    return 0;
}

/* --timeout and --grace: 1 when c was one of them (and taken). */
static int take_ms(int c, struct options *opts, enum options_result *r, char *err, size_t errlen)
{
    if (c != 't' && c != OPT_GRACE)
        return 0;
    if (parse_ms(optarg, c == 't' ? &opts->timeout_ms : &opts->grace_ms) < 0)
        *r = usage_error(err, errlen,
                         c == 't' ? "invalid --timeout '%s' (expected milliseconds, 0 = none)"
                                  : "invalid --grace '%s' (expected milliseconds, 0 = never)",
                         optarg);
    return 1;
}

/* The options that take a value and have nothing else to check. */
static int take_path(int c, struct options *opts)
{
    switch (c) {
    case OPT_PID_FILE:
        opts->pid_file = optarg;
        return 1;
    case OPT_USER:
        opts->user = optarg;
        return 1;
    case OPT_LOG_FILE:
        opts->log_file = optarg;
        return 1;
    case OPT_METRICS:
        opts->metrics = optarg;
        return 1;
    case 'c':
        opts->config = optarg;
        return 1;
    }
    return 0;
}

/* -l ADDR[,proxy][=SCRIPT]: the first "=" starts the script's path (a UNIX
 * socket path holding one cannot take a script this way). */
static enum options_result take_listen(struct options *opts, const char *arg, char *err,
                                       size_t errlen)
{
    if (opts->listen_from_config) /* the command line's replace the file's */
        opts->nlisten = 0, opts->listen_from_config = 0;
    int i = opts->nlisten;
    if (i == OPTIONS_MAX_LISTEN)
        return usage_error(err, errlen, "too many --listen addresses (at most %s)", "16");
    const char *eq = strchr(arg, '=');
    opts->listen[i] = arg;
    opts->listen_script[i] = NULL;
    if (eq) {
        size_t len = (size_t)(eq - arg);
        if (eq[1] == '\0')
            return usage_error(err, errlen, "--listen '%s': no script after '='", arg);
        if (len >= OPTIONS_LISTEN_TEXT_MAX)
            return usage_error(err, errlen, "--listen '%s': address too long", arg);
        memcpy(opts->listen_text[i], arg, len);
        opts->listen_text[i][len] = '\0';
        opts->listen[i] = opts->listen_text[i];
        opts->listen_script[i] = eq + 1;
    }
    opts->nlisten++;
    return OPTIONS_RUN;
}

/* Every listener has a script: its own, or the positional one. */
static enum options_result check_scripts(struct options *opts, int given, char *err, size_t errlen)
{
    if (given)
        return OPTIONS_RUN;
    if (opts->nlisten == 0)
        return usage_error(err, errlen, "%s", "missing SCRIPT");
    for (int i = 0; i < opts->nlisten; i++)
        if (!opts->listen_script[i])
            return usage_error(err, errlen, "missing SCRIPT (for --listen %s, which names none)",
                               opts->listen[i]);
    return OPTIONS_RUN;
}

static enum options_result take_option(int c, struct options *opts, const char *bad, char *err,
                                       size_t errlen)
{
    enum options_result r = OPTIONS_RUN;
    if (take_path(c, opts) || take_limit(c, opts, &r, err, errlen) ||
        take_ms(c, opts, &r, err, errlen))
        return r;
    switch (c) {
    case 'l':
        return take_listen(opts, optarg, err, errlen);
    case OPT_CHECK:
        opts->check = 1;
        return OPTIONS_RUN;
    case 'w':
        if (parse_workers(optarg, &opts->workers) < 0)
            return usage_error(err, errlen, "invalid --workers '%s' (expected 1..256 or auto)",
                               optarg);
        return OPTIONS_RUN;
    case OPT_SHUTDOWN_TIMEOUT:
        if (parse_seconds(optarg, &opts->shutdown_timeout) < 0)
            return usage_error(err, errlen, "invalid --shutdown-timeout '%s' (expected seconds)",
                               optarg);
        return OPTIONS_RUN;
    case OPT_LOG_LEVEL:
        opts->log_level = log_level_parse(optarg);
        if (opts->log_level < 0)
            return usage_error(err, errlen,
                               "invalid --log-level '%s' (expected error, warn, info or debug)",
                               optarg);
        return OPTIONS_RUN;
    case OPT_LOG_FORMAT:
        opts->log_format = log_format_parse(optarg);
        if (opts->log_format < 0)
            return usage_error(err, errlen, "invalid --log-format '%s' (expected text or json)",
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

void options_init(struct options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->log_level = LOG_INFO;
    opts->workers = 1;
    opts->shutdown_timeout = OPTIONS_DEFAULT_SHUTDOWN_TIMEOUT;
    opts->timeout_ms = OPTIONS_DEFAULT_TIMEOUT_MS;
    opts->grace_ms = OPTIONS_DEFAULT_GRACE_MS;
}

enum options_result options_take(int argc, char **argv, struct options *opts, int *positional,
                                 char *err, size_t errlen)
{
    optind = 0; /* glibc: 0 also resets getopt's internal state, for repeated calls */
    opterr = 0;
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(argc, argv, ":c:l:w:t:Vh", long_options, NULL);
        if (c == -1)
            break;
        enum options_result r = take_option(c, opts, prev < argc ? argv[prev] : "", err, errlen);
        if (r != OPTIONS_RUN)
            return r;
    }
    *positional = optind;
    return OPTIONS_RUN;
}

enum options_result options_finish(struct options *opts, int nscripts, const char *script,
                                   char *err, size_t errlen)
{
    if (nscripts > 1)
        return usage_error(err, errlen, "%s", "more than one SCRIPT");
    if (script)
        opts->script = script;
    enum options_result r = check_scripts(opts, opts->script != NULL, err, errlen);
    if (r != OPTIONS_RUN)
        return r;
    if (opts->nlisten == 0)
        opts->listen[opts->nlisten++] = OPTIONS_DEFAULT_LISTEN;
    return OPTIONS_RUN;
}

enum options_result options_parse(int argc, char **argv, struct options *opts, char *err,
                                  size_t errlen)
{
    int at;
    options_init(opts);
    enum options_result r = options_take(argc, argv, opts, &at, err, errlen);
    if (r != OPTIONS_RUN)
        return r;
    return options_finish(opts, argc - at, at < argc ? argv[at] : NULL, err, errlen);
}

const char *options_config_path(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2])
            path = argv[i] + 2;
    }
    return path;
}

const char *options_listen_script(const struct options *opts, int i)
{
    return opts->listen_script[i] ? opts->listen_script[i] : opts->script;
}

int options_scripts(const struct options *opts, const char **out)
{
    int n = 0;
    if (opts->script)
        out[n++] = opts->script;
    for (int i = 0; i < opts->nlisten; i++) {
        const char *s = opts->listen_script[i];
        int seen = !s;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(out[j], s) == 0;
        if (!seen)
            out[n++] = s;
    }
    return n;
}

const char *options_scripts_text(const struct options *opts, char *buf, size_t len)
{
    const char *scripts[OPTIONS_MAX_LISTEN + 1];
    int n = options_scripts(opts, scripts);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", scripts[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}
