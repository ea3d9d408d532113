/* hist: a latency histogram in the manner of HdrHistogram: log-linear
 * buckets with a bounded relative error (< 1/128), fixed memory however many
 * samples are recorded. Values are nanoseconds.
 *   hist_reset  hist_record  hist_percentile */
#ifndef MW_BENCH_HIST_H
#define MW_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_MAX_BITS 40 /* values up to 2^40 ns (18 minutes); larger are clamped */
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t v);

/* Returns the highest value equivalent to the pct-th percentile (0 < pct <= 100),
 * or 0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double pct);

#endif
