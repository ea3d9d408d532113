/* options: the command line, parsed into a struct options.
 * Parsing never exits or prints: it returns what main should do and, on a
 * usage error, the message to show above the usage text. */
#ifndef MW_OPTIONS_H
#define MW_OPTIONS_H

#include <stddef.h>

#define OPTIONS_MAX_LISTEN 16
#define OPTIONS_LISTEN_TEXT_MAX 256 /* an address with its flags, before "=SCRIPT" */
#define OPTIONS_DEFAULT_LISTEN "127.0.0.1:7000"
#define OPTIONS_MAX_WORKERS 256
#define OPTIONS_DEFAULT_SHUTDOWN_TIMEOUT 10.0
#define OPTIONS_DEFAULT_TIMEOUT_MS 5000
#define OPTIONS_DEFAULT_GRACE_MS 1000

struct options {
    const char
        *listen[OPTIONS_MAX_LISTEN]; /* as written, without "=SCRIPT"; parsed by addr_parse */
    const char *listen_script[OPTIONS_MAX_LISTEN]; /* -l ADDR=SCRIPT; NULL: script */
    char listen_text[OPTIONS_MAX_LISTEN]
                    [OPTIONS_LISTEN_TEXT_MAX]; /* what listen[i] points at then */
    int nlisten;
    int listen_from_config;  /* the listeners came from --config: a -l replaces them */
    const char *config;      /* --config FILE; NULL: none */
    const char *script;      /* the positional SCRIPT; NULL when every -l names its own */
    int check;               /* --check: load the script and exit */
    int log_level;           /* enum log_level */
    int log_format;          /* enum log_format */
    int workers;             /* worker processes; 0 = auto (online CPUs) */
    double shutdown_timeout; /* seconds a stopping worker has to drain */
    const char *pid_file;    /* NULL: none */
    const char *user;        /* NULL: do not change user */
    const char *log_file;    /* NULL: standard error */
    const char *metrics;     /* --metrics ADDR; NULL: none */
    long max_conns;          /* per worker; 0 = no limit */
    size_t memory_limit;     /* Lua heap bytes per worker; 0 = no limit */
    long timeout_ms;         /* deadline of each entry into Lua; 0 = none */
    long grace_ms;           /* past a deadline, then the worker is ended; 0 = never */
};

enum options_result {
    OPTIONS_RUN,  /* serve, or check, as the options say */
    OPTIONS_HELP, /* -h: print usage on stdout, exit 0 */
    OPTIONS_VERSION,
    OPTIONS_USAGE, /* bad command line: err says why; usage on stderr, exit 2 */
};

/* The whole command line, from the defaults. */
enum options_result options_parse(int argc, char **argv, struct options *opts, char *err,
                                  size_t errlen);
/* In steps, for a --config file read between the defaults and the command
 * line: options_init sets the defaults; options_take takes argv's options
 * over what opts holds (the first argument that is not one: *positional);
 * options_finish takes the nscripts positional arguments (script, the
 * first) and checks that every listener has a script. */
void options_init(struct options *opts);
enum options_result options_take(int argc, char **argv, struct options *opts, int *positional,
                                 char *err, size_t errlen);
enum options_result options_finish(struct options *opts, int nscripts, const char *script,
                                   char *err, size_t errlen);
/* The FILE of -c FILE, --config FILE or --config=FILE in argv, or NULL. */
const char *options_config_path(int argc, char **argv);
const char *options_usage(void);
/* The script that serves listener i (opts->listen[i]). */
const char *options_listen_script(const struct options *opts, int i);
/* The scripts to load, each once: the positional one first, then those the
 * listeners name, in order. Returns how many (at most OPTIONS_MAX_LISTEN + 1). */
int options_scripts(const struct options *opts, const char **out);
/* Those scripts as text for a message: "a.lua", or "a.lua, b.lua". */
const char *options_scripts_text(const struct options *opts, char *buf, size_t len);

#endif
