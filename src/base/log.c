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
static int current_worker = -1; /* until a worker says which it is */
static const char *log_path;    /* --log-file, reopened on request */
static enum log_format current_format = LOG_TEXT;
static const char *const format_names[] = {"text", "json"};

/* The index of name among the n names, or -1. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

int log_level_parse(const char *name)
{
    return name_index(level_names, LOG_DEBUG + 1, name);
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_format_parse(const char *name)
{
    return name_index(format_names, LOG_JSON + 1, name);
}

void log_set_format(enum log_format format)
{
    current_format = format;
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

/* Appends s to buf (of size len, holding *n bytes) as a JSON string body. */
static void json_escape(char *buf, size_t len, size_t *n, const char *s)
{
    for (; *s && *n + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            *n += (size_t)snprintf(buf + *n, len - *n, "\\%c", c);
        else if (c < 0x20)
            *n += (size_t)snprintf(buf + *n, len - *n, "\\u%04x", c);
        else
            buf[(*n)++] = (char)c;
    }
    buf[*n] = '\0';
}

/* The start of a line: "TIME [LEVEL] worker N: " or '{"time":...,'. */
static size_t line_prefix(char *buf, size_t len, enum log_level level)
{
    char stamp[40];
    int n;
    format_timestamp(stamp, sizeof stamp);
    if (current_format == LOG_JSON)
        n = snprintf(buf, len, "{\"time\":\"%s\",\"level\":\"%s\",", stamp, level_names[level]);
    else
        n = snprintf(buf, len, "%s [%s] ", stamp, level_names[level]);
    const char *worker = current_format == LOG_JSON ? "\"worker\":%d," : "worker %d: ";
    if (current_worker >= 0)
        n += snprintf(buf + n, len - (size_t)n, worker, current_worker);
    return (size_t)n;
}

/* Ends the line (cut to fit) and writes it in one write, which keeps lines
 * whole when several processes share stderr. */
static void emit(char *line, size_t size, size_t len)
{
    if (len > size - 2)
        len = size - 2;
    if (current_format == LOG_JSON && line[len - 1] != '}')
        line[len - 1] = '}'; /* a cut object still closes */
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[4096], msg[3072];
    size_t n = line_prefix(line, sizeof line, level);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(current_format == LOG_JSON ? msg : line + n, sizeof msg, fmt, ap);
    va_end(ap);
    if (current_format == LOG_JSON) {
        n += (size_t)snprintf(line + n, sizeof line - n, "\"msg\":\"");
        json_escape(line, sizeof line - 3, &n, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}");
    } else {
        n += strlen(line + n);
    }
    emit(line, sizeof line, n);
}

static void json_access(enum log_level level, const struct log_access *a)
{
    char line[1024];
    size_t n = line_prefix(line, sizeof line, level);
    n += (size_t)snprintf(line + n, sizeof line - n, "\"msg\":\"access\",\"conn\":%llu,\"peer\":\"",
                          (unsigned long long)a->conn);
    json_escape(line, sizeof line - 200, &n, a->peer);
    n += (size_t)snprintf(
        line + n, sizeof line - n,
        "\",\"duration_ms\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,\"reason\":\"",
        (unsigned long long)a->duration_ms, (unsigned long long)a->bytes_in,
        (unsigned long long)a->bytes_out);
    json_escape(line, sizeof line - 3, &n, a->reason);
    n += (size_t)snprintf(line + n, sizeof line - n, "\"}");
    emit(line, sizeof line, n);
}

void log_access(enum log_level level, const struct log_access *a)
{
    if (!log_enabled(level))
        return;
    if (current_format == LOG_JSON)
        return json_access(level, a);
    log_msg(level,
            "access: conn=%llu peer=%s duration_ms=%llu bytes_in=%llu bytes_out=%llu "
            "reason=\"%s\"",
            (unsigned long long)a->conn, a->peer, (unsigned long long)a->duration_ms,
            (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out, a->reason);
}
