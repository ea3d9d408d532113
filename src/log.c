#include "config.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static enum log_level current_level = LOG_INFO;
static int current_worker = 0;
static const char *log_path; /* --log-file, reopened on request */

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

void log_set_worker(int worker_id)
{
    current_worker = worker_id;
}

/* Opens path for appending as standard error, so that whatever else writes
 * there (Lua's io.stderr, a library) lands in the log file too. */
static int open_as_stderr(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "log file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
        snprintf(err, errlen, "log file %s: dup2: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (fd != STDERR_FILENO)
        close(fd);
    return 0;
}

int log_open_file(const char *path, char *err, size_t errlen)
{
    if (open_as_stderr(path, err, errlen) < 0)
        return -1;
    log_path = path;
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    return log_path ? open_as_stderr(log_path, err, errlen) : 0;
}

int log_enabled(enum log_level level)
{
    return level <= current_level;
}

/* Writes "2026-11-23T10:31:33.123Z" into buf. */
static void format_timestamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char stamp[40], line[4096];
    format_timestamp(stamp, sizeof stamp);
    int n = snprintf(line, sizeof line, "%s [%s] ", stamp, level_names[level]);
    if (current_worker >= 0)
        n += snprintf(line + n, sizeof line - n, "worker %d: ", current_worker);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len == sizeof line - 1)
        len--;
    line[len++] = '\n';
    /* One write per line keeps lines whole when several processes share stderr. */
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}
