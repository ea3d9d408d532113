/* metrics: the figures each worker publishes, summed by the master and
 * served in the Prometheus text format (--metrics ADDR). Workers write their
 * figures into their own slot of a shared anonymous mapping made before
 * any fork; only the master reads them. */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* One worker's figures; the same ones mw.stats() returns. */
struct metrics_figures {
    uint64_t connections, accepted, bytes_in, bytes_out, frames, handler_errors, deadline_hits,
        heap_in_use, heap_held, tasks, timers;
};

/* Master, before forking: maps nslots slots; -1 with err set. */
int metrics_init(int nslots, char *err, size_t errlen);
/* Master: a free slot for a worker about to start, or -1 when none is left
 * (that worker goes uncounted). */
int metrics_slot_take(void);
/* Master: the worker of slot is gone; its counters are kept in the totals,
 * its gauges dropped, and the slot is free again. */
void metrics_slot_release(int slot);
/* Worker: the slot it publishes into (-1: none), set after the fork. */
void metrics_use_slot(int slot);
int metrics_enabled(void);
/* Worker: copies figures into its slot. */
void metrics_publish(const struct metrics_figures *f);
/* Master: the Prometheus text of the sums, with restarts (workers replaced
 * after dying) and workers (running now). */
int metrics_render(struct evbuffer *out, uint64_t restarts, int workers);

#endif
