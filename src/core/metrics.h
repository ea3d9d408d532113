/* metrics: the figures each worker publishes, summed by the master and
 * served in the Prometheus text format (--metrics ADDR). Workers write their
 * figures into their own slot of a shared anonymous mapping made before
 * any fork; only the master reads them. */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* The one list of a worker's figures: X(field, Prometheus name, counter or
 * gauge, help). The field is also the key mw.stats() returns it under; a
 * counter is kept across worker restarts, a gauge is not. Adding a figure:
 * a line here, and where a worker gathers it (lmoonwire_figures). */
#define METRICS_FIGURES(X)                                                                    \
    X(connections, "moonwire_connections_open", gauge, "Connections open now.")               \
    X(accepted, "moonwire_connections_accepted_total", counter, "Connections accepted.")      \
    X(bytes_in, "moonwire_bytes_in_total", counter, "Bytes read from connections.")           \
    X(bytes_out, "moonwire_bytes_out_total", counter, "Bytes written to connections.")        \
    X(frames, "moonwire_frames_total", counter, "Frames handed to handlers.")                 \
    X(handler_errors, "moonwire_handler_errors_total", counter,                               \
      "Errors raised by connection handlers.")                                                \
    X(deadline_hits, "moonwire_deadline_hits_total", counter,                                 \
      "Entries into Lua that missed their deadline.")                                         \
    X(heap_in_use, "moonwire_lua_heap_in_use_bytes", gauge, "Bytes of the Lua heaps in use.") \
    X(heap_held, "moonwire_lua_heap_held_bytes", gauge,                                       \
      "Bytes of the Lua heaps held from the system.")                                         \
    X(tasks, "moonwire_tasks_pending", gauge, "Tasks pending or live.")                       \
    X(timers, "moonwire_timers_pending", gauge, "Timers pending.")

/* One worker's figures; the same ones mw.stats() returns. */
struct metrics_figures {
#define METRICS_FIELD(field, name, type, help) uint64_t field;
    METRICS_FIGURES(METRICS_FIELD)
#undef METRICS_FIELD
};

enum { METRICS_NFIGURES = sizeof(struct metrics_figures) / sizeof(uint64_t) };

/* The key of figure k (its field's name), as mw.stats() returns it. */
const char *metrics_key(size_t k);
/* Figure k of f, in the order of the list. */
uint64_t metrics_figure(const struct metrics_figures *f, size_t k);

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
