/* metrics_int: what the rooms of metrics share, and no one else: the table
 * the script metrics are kept in (metrics_table.c: a worker's in its slot,
 * the master's kept counts, the sums of a scrape) and the slots' tables
 * (metrics.c). Only src/core/metrics*.c include it. */
#ifndef MW_METRICS_INT_H
#define MW_METRICS_INT_H

#include "metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The room a table has. */
struct mt_caps {
    uint32_t metrics, series, values, text;
};

struct mt_metric {
    uint32_t name, help;                /* offsets into the text */
    uint32_t label[METRICS_MAX_LABELS]; /* the label names' */
    uint8_t kind, nlabels, nbuckets;
    double bucket[METRICS_MAX_BUCKETS];
    /* Its series in the order made; changed as series are made, so a reader
     * in another process does not follow them. */
    int32_t first, last;
};

struct mt_series {
    uint32_t metric;
    uint32_t labels, labels_len; /* its label values, each ending in NUL, in the metric's order */
    uint32_t value;              /* its first value: 1 of them, or nbuckets + 2 for a histogram */
    uint32_t hash;
    int32_t next; /* the metric's next series (the writer's, as first and last) */
};

/* One writer appends; a reader in another process reads what the counts,
 * published with release, cover: a metric or series is never changed once
 * counted (but for its chain), its values are single atomic words. The
 * arrays follow the header (offsets from the table). */
struct mt_table {
    struct mt_caps cap;
    uint32_t index_mask; /* of the hash index of series: a power of two, less one */
    _Atomic uint32_t nmetrics, nseries, nvalues, ntext;
    size_t metrics_at, series_at, index_at, values_at, text_at;
};

/* Bytes a table with caps takes, and making one in them. */
size_t mt_size(const struct mt_caps *caps);
void mt_init(struct mt_table *t, const struct mt_caps *caps);
/* Empties t, for a worker about to start. */
void mt_clear(struct mt_table *t);

/* Declares d in t (names checked as Prometheus wants them); with unique, a
 * name must be new and not clash with a histogram's series. The metric's
 * number, or -1 with err set. */
int mt_declare(struct mt_table *t, const struct metrics_decl *d, int unique, char *err,
               size_t errlen);
/* Writes the message into err; returns -1, for "return mt_fail(...)". */
int mt_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Metric m of t as a declaration (pointers into t, the label names in
 * labels): 0, or -1 when it is not sound (a reader's check). */
int mt_decl(const struct mt_table *t, uint32_t m, struct metrics_decl *d,
            const char *labels[METRICS_MAX_LABELS]);
/* The metric named name, or -1. */
int mt_find(const struct mt_table *t, const char *name);
/* The metric of the same name, kind, labels and buckets as d, or -1. */
int mt_find_shape(const struct mt_table *t, const struct metrics_decl *d);
int mt_same_shape(const struct metrics_decl *a, const struct metrics_decl *b);
/* The series of metric with the label values labels (len bytes), made if
 * new: its number, or -1 with err set (a limit). */
int mt_series(struct mt_table *t, uint32_t metric, const char *labels, size_t len, char *err,
              size_t errlen);
/* Series s, checked for a reader: metric below nmetrics, text and values
 * inside t; NULL when it is not sound. */
const struct mt_series *mt_series_read(const struct mt_table *t, uint32_t s, uint32_t nmetrics);
/* Values per series of a metric of kind with nbuckets. */
uint32_t mt_values_per(uint8_t kind, uint8_t nbuckets);
/* "counter", "gauge" or "histogram", as a TYPE line says it. */
const char *mt_kind_name(uint8_t kind);

struct mt_metric *mt_metric_at(const struct mt_table *t, uint32_t m);
struct mt_series *mt_series_at(const struct mt_table *t, uint32_t s);
/* The string at off, or NULL when it does not end inside t. */
const char *mt_text(const struct mt_table *t, uint32_t off);
/* The bytes at off (a series' label values, which mt_series_read checked). */
const char *mt_blob(const struct mt_table *t, uint32_t off);
double mt_value(const struct mt_table *t, uint32_t v);
void mt_set_value(struct mt_table *t, uint32_t v, double x);
/* The published counts, read with acquire. */
uint32_t mt_nmetrics(const struct mt_table *t);
uint32_t mt_nseries(const struct mt_table *t);
uint32_t mt_nvalues(const struct mt_table *t);
uint32_t mt_ntext(const struct mt_table *t);

/* metrics.c: the slots, for the script metrics' room. */
int metrics_nslots(void);
int metrics_slot_used(int slot);
/* When slot was taken, in the order of takes: a larger one is newer. */
uint64_t metrics_slot_seq(int slot);
struct mt_table *metrics_slot_table(int slot);
/* This worker's slot, or -1. */
int metrics_my_slot(void);
/* The room of a worker's table. */
extern const struct mt_caps metrics_worker_caps;

/* metrics_script.c: the master's side. */

/* The counters and histograms of t, a worker's that is gone, go into the
 * kept counts. */
void metrics_script_retire(const struct mt_table *t);
/* The sums of the script metrics over the running workers and the kept
 * counts, as Prometheus text; 0, or -1 out of memory. */
int metrics_script_render(struct evbuffer *out);

#endif
