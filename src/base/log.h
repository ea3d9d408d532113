/* log: leveled log lines to stderr, or to --log-file (made stderr).
 * Each line: timestamp, level, worker, message. The level names are the
 * ones --log-level accepts. */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
/* text: "TIME [LEVEL] worker N: message"; json: one object per line with
 * time, level, worker (absent for the master) and msg. */
enum log_format { LOG_TEXT, LOG_JSON };

/* One closed connection, for log_access. */
struct log_access {
    uint64_t conn;
    const char *peer, *reason;
    uint64_t duration_ms, bytes_in, bytes_out;
};

int log_level_parse(const char *name); /* level, or -1 when unknown */
void log_set_level(enum log_level level);
int log_format_parse(const char *name); /* format, or -1 when unknown */
void log_set_format(enum log_format format);
/* The access line of a closed connection (at info level, but for a load
 * balancer's health checks): logfmt fields in text ("access: conn=7 peer=...
 * reason=\"eof\""), their own keys in json. */
void log_access(enum log_level level, const struct log_access *a);
void log_set_worker(int worker_id); /* -1: the master / single process */
/* Appends to path from now on, as standard error; -1 with err set on failure. */
int log_open_file(const char *path, char *err, size_t errlen);
/* Opens the log file again (after it was rotated); 0 when there is none. */
int log_reopen(char *err, size_t errlen);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
