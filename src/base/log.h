/* log: leveled log lines to stderr, or to --log-file (made stderr).
 * Each line: timestamp, level, worker, message, and fields if any. The
 * level names are the ones --log-level accepts. */
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

/* One field of a line of log_fields: a name, and a string (of len bytes), a
 * number or a boolean. */
enum log_field_kind { LOG_STRING, LOG_NUMBER, LOG_BOOLEAN };
struct log_field {
    const char *key;
    enum log_field_kind kind;
    const char *string;
    size_t len;
    double number;
    int boolean;
};
#define LOG_MAX_FIELDS 64

int log_level_parse(const char *name); /* level, or -1 when unknown */
void log_set_level(enum log_level level);
int log_format_parse(const char *name); /* format, or -1 when unknown */
void log_set_format(enum log_format format);
/* The access line of a closed connection (at info level, but for a load
 * balancer's health checks): logfmt fields in text ("access: conn=7 peer=...
 * reason=\"eof\""), their own keys in json. */
void log_access(enum log_level level, const struct log_access *a);
/* A message with fields (the first LOG_MAX_FIELDS, in the order of their
 * keys): key=value pairs after it in text, a value that holds a space, a
 * quote, '=', a backslash or a control byte (or is empty) quoted and escaped
 * as in JSON; members after msg in json, numbers and booleans as such. */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);
/* What makes key unfit to name a field ("reserved: ..."), or NULL: a name
 * is letters, digits, '_', '.' and '-', and not time, level, worker or msg. */
const char *log_field_key_error(const char *key);
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
