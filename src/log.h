/* log: leveled log lines to stderr.
 * Each line: timestamp, level, worker, message. The level names are the
 * ones --log-level accepts. */
#ifndef MW_LOG_H
#define MW_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

int log_level_parse(const char *name);   /* level, or -1 when unknown */
void log_set_level(enum log_level level);
void log_set_worker(int worker_id);      /* -1: the master / single process */
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
