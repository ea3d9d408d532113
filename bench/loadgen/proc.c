#define _GNU_SOURCE
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a whole small /proc file into buf; returns its length or -1. */
static ssize_t proc_read(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, len - 1, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "read %s: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static void proc_add(struct proc_set *set, pid_t pid)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->pids[i] == pid)
            return;
    if (set->n < PROC_MAX_PIDS)
        set->pids[set->n++] = pid;
}

/* Adds the children listed by every thread of pid. */
static void proc_add_children(struct proc_set *set, pid_t pid)
{
    char path[64], buf[4096], err[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
        if (proc_read(path, buf, sizeof buf, err, sizeof err) < 0)
            continue;
        for (char *s = buf, *end; *s != '\0'; s = end) {
            long c = strtol(s, &end, 10);
            if (end == s)
                break;
            proc_add(set, (pid_t)c);
        }
    }
    closedir(d);
}

int proc_tree(pid_t root, struct proc_set *set, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)root);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "server pid %d: %s", (int)root, strerror(errno));
        return -1;
    }
    set->n = 0;
    proc_add(set, root);
    for (size_t i = 0; i < set->n; i++)
        proc_add_children(set, set->pids[i]);
    return 0;
}

/* Fields 14 and 15 of /proc/PID/stat, counted after the ')' that closes
 * the command name (which may itself hold spaces and parentheses). */
static int proc_one_cpu(pid_t pid, uint64_t *ticks, char *err, size_t errlen)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (proc_read(path, buf, sizeof buf, err, errlen) < 0)
        return -1;
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        snprintf(err, errlen, "%s: unexpected format", path);
        return -1;
    }
    *ticks = ut + st;
    return 0;
}

int proc_cpu_ns(const struct proc_set *set, uint64_t *out, char *err, size_t errlen)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) {
        snprintf(err, errlen, "sysconf(_SC_CLK_TCK): %s", strerror(errno));
        return -1;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < set->n; i++) {
        uint64_t t;
        if (proc_one_cpu(set->pids[i], &t, err, errlen) < 0)
            return -1;
        sum += t;
    }
    *out = sum * (1000000000ULL / (uint64_t)hz);
    return 0;
}

static int proc_one_rss(pid_t pid, uint64_t *bytes, char *err, size_t errlen)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (proc_read(path, buf, sizeof buf, err, errlen) < 0)
        return -1;
    const char *p = strstr(buf, "\nVmRSS:");
    unsigned long long kb;
    if (p == NULL || sscanf(p + 7, "%llu", &kb) != 1) {
        snprintf(err, errlen, "%s: no VmRSS", path);
        return -1;
    }
    *bytes = kb * 1024;
    return 0;
}

int proc_rss_bytes(const struct proc_set *set, uint64_t *out, char *err, size_t errlen)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < set->n; i++) {
        uint64_t b;
        if (proc_one_rss(set->pids[i], &b, err, errlen) < 0)
            return -1;
        sum += b;
    }
    *out = sum;
    return 0;
}
