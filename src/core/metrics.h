/* metrics: the figures each worker publishes, summed by the master and
 * served in the Prometheus text format (--metrics ADDR): the built-in ones,
 * some by listener, and the script's own (mw.metrics). Workers write into
 * their own slot of a shared anonymous mapping made before any fork; only
 * the master reads them. Its rooms: metrics.c (slots, the built-in figures),
 * metrics_script.c (the script's metrics: a worker's calls, the master's
 * sums and kept counts), metrics_table.c (the table they are kept in). */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* The one list of a worker's figures: X(field, Prometheus name, counter or
 * gauge, split, help). The field is also the key mw.stats() returns it
 * under; a counter is kept across worker restarts, a gauge is not. split:
 * worker (one sample), accepts (one per listener: listener="ADDR"), conns
 * (one per listener, and listener="outbound" for the connections no listener
 * accepted: mw.connect's). Adding a figure: a line here, and where a worker
 * gathers it (lmoonwire_figures). */
#define METRICS_FIGURES(X)                                                                        \
    X(connections, "moonwire_connections_open", gauge, conns,                                     \
      "Connections open now, by listener.")                                                       \
    X(accepted, "moonwire_connections_accepted_total", counter, accepts,                          \
      "Connections accepted, by listener.")                                                       \
    X(bytes_in, "moonwire_bytes_in_total", counter, conns,                                        \
      "Bytes read from connections, by listener.")                                                \
    X(bytes_out, "moonwire_bytes_out_total", counter, conns,                                      \
      "Bytes written to connections, by listener.")                                               \
    X(frames, "moonwire_frames_total", counter, conns, "Frames handed to handlers, by listener.") \
    X(handler_errors, "moonwire_handler_errors_total", counter, worker,                           \
      "Errors raised by connection handlers.")                                                    \
    X(deadline_hits, "moonwire_deadline_hits_total", counter, worker,                             \
      "Entries into Lua that missed their deadline.")                                             \
    X(heap_in_use, "moonwire_lua_heap_in_use_bytes", gauge, worker,                               \
      "Bytes of the Lua heaps in use.")                                                           \
    X(heap_held, "moonwire_lua_heap_held_bytes", gauge, worker,                                   \
      "Bytes of the Lua heaps held from the system.")                                             \
    X(tasks, "moonwire_tasks_pending", gauge, worker, "Tasks pending or live.")                   \
    X(timers, "moonwire_timers_pending", gauge, worker, "Timers pending.")

enum {
#define METRICS_INDEX(field, name, type, split, help) METRICS_FIG_##field,
    METRICS_FIGURES(METRICS_INDEX)
#undef METRICS_INDEX
        METRICS_NFIGURES
};

/* Listeners a worker's figures are split by (options allow 16), and the row
 * of the connections of none. */
#define METRICS_MAX_LISTENERS 16
#define METRICS_OUTBOUND METRICS_MAX_LISTENERS

/* One worker's figures: the fields are its totals, the ones mw.stats()
 * returns; by_listener[k][METRICS_FIG_x] is the share of listener k (in the
 * order of metrics_set_listeners) of a split figure x. */
struct metrics_figures {
#define METRICS_FIELD(field, name, type, split, help) uint64_t field;
    METRICS_FIGURES(METRICS_FIELD)
#undef METRICS_FIELD
    uint64_t by_listener[METRICS_MAX_LISTENERS + 1][METRICS_NFIGURES];
};

/* The key of figure k (its field's name), as mw.stats() returns it. */
const char *metrics_key(size_t k);
/* Figure k of f (its total), in the order of the list. */
uint64_t metrics_figure(const struct metrics_figures *f, size_t k);

/* Master, before forking: maps nslots slots; -1 with err set. */
int metrics_init(int nslots, char *err, size_t errlen);
/* Master, before forking: the names of the listeners (their addresses as
 * bound), in order; the workers' sockets have the same names. At most
 * METRICS_MAX_LISTENERS; the array must outlive the master's scrapes. */
void metrics_set_listeners(const char *const *names, int n);
/* The position of the listener named name in that list, or -1. */
int metrics_listener_index(const char *name);
/* Master: a free slot for a worker about to start, or -1 when none is left
 * (that worker goes uncounted). */
int metrics_slot_take(void);
/* Master: the worker of slot is gone; its counters (its script's too) are
 * kept in the totals, its gauges dropped, and the slot is free again. */
void metrics_slot_release(int slot);
/* Worker: the slot it publishes into (-1: none), set after the fork. */
void metrics_use_slot(int slot);
int metrics_enabled(void);
/* Worker: copies figures into its slot. */
void metrics_publish(const struct metrics_figures *f);
/* Master: the Prometheus text of the sums, with restarts (workers replaced
 * after dying) and workers (running now), then the scripts' metrics. */
int metrics_render(struct evbuffer *out, uint64_t restarts, int workers);

/* ---- the script's metrics (metrics_script.c) ---- */

/* A worker's limits: past one, a declaration or a new label combination is
 * refused with an error naming the metric and the limit. Text counts the
 * names, help texts, label names and label values, each with a NUL. */
#define METRICS_MAX_METRICS 64
#define METRICS_MAX_SERIES 256
#define METRICS_MAX_TEXT 32768
#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 32

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_decl {
    enum metrics_kind kind;
    const char *name, *help;
    const char *const *labels; /* the label names */
    size_t nlabels;
    const double *buckets; /* a histogram's upper bounds, rising; a last +Inf is implied */
    size_t nbuckets;
};

/* Worker (or a script's check): declares a metric in this process's table
 * (its slot's under --metrics, else its own); the metric's number, or -1
 * with err set (a name Prometheus does not take, one declared already, one
 * beginning with moonwire_, a limit). A metric without labels has its one
 * series from now on. */
int metrics_declare(const struct metrics_decl *d, char *err, size_t errlen);
/* The number and the names of metric's labels. */
size_t metrics_nlabels(int metric);
const char *metrics_label(int metric, size_t i);
/* The series of metric with these label values (one per label, in the
 * order declared), made at its first use: its number, or -1 with err set
 * (a value not UTF-8, the series or text limit). */
int metrics_series(int metric, const char *const *values, const size_t *lens, char *err,
                   size_t errlen);
/* A counter or gauge goes up by n (a gauge down, for n < 0). */
void metrics_add(int series, double n);
/* A gauge is v. */
void metrics_set(int series, double v);
/* A histogram counts v in its bucket, and in its sum and count. */
void metrics_observe(int series, double v);

#endif
