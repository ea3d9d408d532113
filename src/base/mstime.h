/* mstime: milliseconds, as moonwire counts time: the monotonic clock in them
 * (and in nanoseconds, for deadlines), and them as the struct timeval that
 * libevent's timers take. */
#ifndef MW_MSTIME_H
#define MW_MSTIME_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Milliseconds of the monotonic clock, for intervals. */
static inline uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Nanoseconds of the monotonic clock, for the deadline scheduler. */
static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ms >= 0; a fraction of a millisecond is kept to the microsecond. */
static inline struct timeval ms_timeval(double ms)
{
    time_t sec = (time_t)(ms / 1000.0);
    return (struct timeval){sec, (suseconds_t)((ms - (double)sec * 1000.0) * 1000.0)};
}

#endif
