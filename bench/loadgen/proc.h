/* proc: CPU time and resident memory of the server under test, read from
 * /proc, summed over a process and all its descendants (pre-forked workers).
 *   proc_tree  proc_cpu_ns  proc_rss_bytes */
#ifndef MW_BENCH_PROC_H
#define MW_BENCH_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_MAX_PIDS 256

struct proc_set {
    size_t n;
    pid_t pids[PROC_MAX_PIDS];
};

/* Fills set with root and its descendants. Returns 0, or -1 with the
 * system's reason in err when root cannot be read. */
int proc_tree(pid_t root, struct proc_set *set, char *err, size_t errlen);

/* utime + stime of every process in set, in nanoseconds. */
int proc_cpu_ns(const struct proc_set *set, uint64_t *out, char *err, size_t errlen);

/* Sum of VmRSS of every process in set, in bytes. */
int proc_rss_bytes(const struct proc_set *set, uint64_t *out, char *err, size_t errlen);

#endif
