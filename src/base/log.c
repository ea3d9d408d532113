#include "config.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Appends the slen bytes of s to buf (of size len, holding *n bytes) as a
 * JSON string body, cut to fit. */
static void json_escape(char *buf, size_t len, size_t *n, const char *s, size_t slen)
{
    for (size_t i = 0; i < slen && *n + 7 < len; i++) {
        unsigned char c = (unsigned char)s[i];
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

/* Appends the formatted text to buf (of size size, holding *n bytes), cut to fit. */
static void put(char *buf, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
    if (*n + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, size - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < size - *n ? (size_t)w : size - *n - 1;
}

/* Whether a value in text must be quoted to read as one: empty, or holding
 * a space, a quote, '=', a backslash or a control byte. */
static int needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Integers whole (to 2^53), others as Lua's tostring shows them; JSON has
 * no NaN or infinity: null. */
static void put_number(char *buf, size_t size, size_t *n, double v, int json)
{
    if (isnan(v) || isinf(v))
        put(buf, size, n, "%s", json ? "null" : isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(long long)v == v)
        put(buf, size, n, "%lld", (long long)v);
    else
        put(buf, size, n, "%.14g", v);
}

/* 'key=value' after sep in text, ',"key":value' in json. */
static void put_field(char *buf, size_t size, size_t *n, const struct log_field *f, int json,
                      const char *sep)
{
    if (json)
        put(buf, size, n, ",\"%s\":", f->key);
    else
        put(buf, size, n, "%s%s=", sep, f->key);
    if (f->kind == LOG_NUMBER) {
        put_number(buf, size, n, f->number, json);
    } else if (f->kind == LOG_BOOLEAN) {
        put(buf, size, n, "%s", f->boolean ? "true" : "false");
    } else if (!json && !needs_quotes(f->string, f->len)) {
        put(buf, size, n, "%.*s", (int)f->len, f->string);
    } else {
        put(buf, size, n, "\"");
        json_escape(buf, size - 3, n, f->string, f->len);
        put(buf, size, n, "\"");
    }
}

/* The room a field needs besides its key: a number, or the start of a
 * string cut short, and the end of the line. A field that does not find it
 * is left out with the ones after it, so that a cut line still closes. */
#define FIELD_ROOM 48

/* The line: prefix, msg, the fields in the order given, the end. */
static void write_line(enum log_level level, const char *msg, const struct log_field *const *fields,
                       size_t nfields)
{
    char line[4096];
    int json = current_format == LOG_JSON;
    size_t n = line_prefix(line, sizeof line, level);
    if (json) {
        put(line, sizeof line, &n, "\"msg\":\"");
        json_escape(line, sizeof line - 3, &n, msg, strlen(msg));
        put(line, sizeof line, &n, "\"");
    } else {
        put(line, sizeof line, &n, "%s", msg);
    }
    for (size_t i = 0; i < nfields && n + strlen(fields[i]->key) + FIELD_ROOM < sizeof line; i++)
        put_field(line, sizeof line, &n, fields[i], json, *msg || i > 0 ? " " : "");
    if (json)
        put(line, sizeof line, &n, "}");
    emit(line, sizeof line, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    write_line(level, msg, NULL, 0);
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(const struct log_field *const *)a)->key,
                  (*(const struct log_field *const *)b)->key);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    const struct log_field *sorted[LOG_MAX_FIELDS];
    if (n > LOG_MAX_FIELDS)
        n = LOG_MAX_FIELDS;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &fields[i];
    qsort(sorted, n, sizeof sorted[0], by_key);
    write_line(level, msg, sorted, n);
}

static const char *const reserved_keys[] = {"time", "level", "worker", "msg", NULL};

const char *log_field_key_error(const char *key)
{
    if (!*key)
        return "an empty name";
    for (const char *const *r = reserved_keys; *r; r++)
        if (strcmp(key, *r) == 0)
            return "reserved (time, level, worker and msg are every line's own)";
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            return "not a name (letters, digits, '_', '.' and '-')";
    return NULL;
}

static void json_access(enum log_level level, const struct log_access *a)
{
    char line[1024];
    size_t n = line_prefix(line, sizeof line, level);
    n += (size_t)snprintf(line + n, sizeof line - n, "\"msg\":\"access\",\"conn\":%llu,\"peer\":\"",
                          (unsigned long long)a->conn);
    json_escape(line, sizeof line - 200, &n, a->peer, strlen(a->peer));
    n += (size_t)snprintf(
        line + n, sizeof line - n,
        "\",\"duration_ms\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,\"reason\":\"",
        (unsigned long long)a->duration_ms, (unsigned long long)a->bytes_in,
        (unsigned long long)a->bytes_out);
    json_escape(line, sizeof line - 3, &n, a->reason, strlen(a->reason));
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
