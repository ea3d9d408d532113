/* The loop thread's cost of a deadline: arm + disarm per entry, with the
 * scheduler thread running, against a clock_gettime per entry (what arming
 * would cost if the loop read the clock). */
#include "config.h"

#include "deadline.h"

#include <stdio.h>
#include <time.h>

#define N 50000000L

static void nothing(void *ud)
{
    (void)ud;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    char err[128];
    if (deadline_start(5000, 1000, nothing, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t0 = now_s();
    for (long i = 0; i < N; i++) {
        deadline_arm(-1, "bench");
        deadline_disarm();
    }
    double t1 = now_s();
    struct timespec ts;
    long sink = 0;
    for (long i = 0; i < N; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec & 1;
    }
    double t2 = now_s();
    deadline_stop();
    printf("RESULT arm_disarm_ns=%.2f clock_gettime_ns=%.2f (sink %ld)\n", (t1 - t0) / N * 1e9,
           (t2 - t1) / N * 1e9, sink);
    return 0;
}
