#define _GNU_SOURCE
#include "hist.h"

#include <string.h>

#define HIST_SUB (1u << HIST_SUB_BITS)

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

/* Values below 2^(SUB_BITS+1) have a bucket each; above, every power of two
 * is split into HIST_SUB equal buckets. */
static unsigned hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - HIST_SUB_BITS;
    return ((shift + 1) << HIST_SUB_BITS) + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

static uint64_t hist_highest(unsigned idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    unsigned shift = (idx >> HIST_SUB_BITS) - 1;
    uint64_t low = (uint64_t)(HIST_SUB + (idx & (HIST_SUB - 1))) << shift;
    return low + ((uint64_t)1 << shift) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    uint64_t cap = ((uint64_t)1 << HIST_MAX_BITS) - 1;
    if (v > cap)
        v = cap;
    h->buckets[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    double exact = pct / 100.0 * (double)h->count;
    uint64_t want = (uint64_t)exact;
    if ((double)want < exact || want < 1)
        want++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want)
            return hist_highest(i) < h->max ? hist_highest(i) : h->max;
    }
    return h->max;
}
