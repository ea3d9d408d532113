/* mstime: milliseconds (as moonwire counts time) to the struct timeval that
 * libevent's timers take. */
#ifndef MW_MSTIME_H
#define MW_MSTIME_H

#include <sys/time.h>

/* ms >= 0; a fraction of a millisecond is kept to the microsecond. */
static inline struct timeval ms_timeval(double ms)
{
    time_t sec = (time_t)(ms / 1000.0);
    return (struct timeval){sec, (suseconds_t)((ms - (double)sec * 1000.0) * 1000.0)};
}

#endif
