/* metrics_script: the script's own metrics (mw.metrics). A worker declares
 * them and moves their values in its table (its slot's, or its own without
 * --metrics); the master sums the running workers' tables at each scrape
 * (a metric as the newest worker declared it), and keeps the counters and
 * histograms of the workers gone, served while a running worker declares
 * the same metric. */
#include "config.h"

#include "metrics_int.h"

#include "log.h"
#include "promtext.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESERVED_PREFIX "moonwire_"

/* The master's kept counts: room for many generations of workers. */
static const struct mt_caps kept_caps = {1024, 16384, 262144, 1 << 20};

static struct mt_table *own;  /* a process without a slot: its own table */
static struct mt_table *kept; /* master: counts of workers gone */
static int kept_full_told;

static struct mt_table *new_table(const struct mt_caps *caps)
{
    struct mt_table *t = malloc(mt_size(caps));
    if (t)
        mt_init(t, caps);
    return t;
}

/* This process's table. */
static struct mt_table *table(void)
{
    int slot = metrics_my_slot();
    if (slot >= 0)
        return metrics_slot_table(slot);
    if (!own)
        own = new_table(&metrics_worker_caps);
    return own;
}

/* ---- a worker's side ---- */

int metrics_declare(const struct metrics_decl *d, char *err, size_t errlen)
{
    struct mt_table *t = table();
    if (!t)
        return mt_fail(err, errlen, "metric '%s': out of memory", d->name);
    if (strncmp(d->name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0)
        return mt_fail(err, errlen, "metric '%s': names beginning with %s are moonwire's own",
                       d->name, RESERVED_PREFIX);
    int m = mt_declare(t, d, 1, err, errlen);
    if (m >= 0 && d->nlabels == 0 && mt_series(t, (uint32_t)m, "", 0, err, errlen) < 0)
        return -1;
    return m;
}

size_t metrics_nlabels(int metric)
{
    return mt_metric_at(table(), (uint32_t)metric)->nlabels;
}

const char *metrics_label(int metric, size_t i)
{
    struct mt_table *t = table();
    return mt_text(t, mt_metric_at(t, (uint32_t)metric)->label[i]);
}

int metrics_series(int metric, const char *const *values, const size_t *lens, char *err,
                   size_t errlen)
{
    static char joined[METRICS_MAX_TEXT]; /* the values, each with its NUL */
    struct mt_table *t = table();
    const struct mt_metric *m = mt_metric_at(t, (uint32_t)metric);
    size_t len = 0;
    for (size_t i = 0; i < m->nlabels; i++) {
        if (!promtext_utf8_ok(values[i], lens[i]))
            return mt_fail(err, errlen, "metric '%s': label %s's value is not UTF-8 without NUL",
                           mt_text(t, m->name), mt_text(t, m->label[i]));
        if (lens[i] + 1 > sizeof joined - len)
            return mt_fail(err, errlen,
                           "metric '%s': out of room for text (at most %u bytes of names, help "
                           "texts and label values in a worker)",
                           mt_text(t, m->name), t->cap.text);
        memcpy(joined + len, values[i], lens[i]);
        joined[len + lens[i]] = '\0';
        len += lens[i] + 1;
    }
    return mt_series(t, (uint32_t)metric, joined, len, err, errlen);
}

static void add_value(struct mt_table *t, uint32_t v, double n)
{
    mt_set_value(t, v, mt_value(t, v) + n);
}

void metrics_add(int series, double n)
{
    struct mt_table *t = table();
    add_value(t, mt_series_at(t, (uint32_t)series)->value, n);
}

void metrics_set(int series, double v)
{
    struct mt_table *t = table();
    mt_set_value(t, mt_series_at(t, (uint32_t)series)->value, v);
}

void metrics_observe(int series, double v)
{
    struct mt_table *t = table();
    const struct mt_series *s = mt_series_at(t, (uint32_t)series);
    const struct mt_metric *m = mt_metric_at(t, s->metric);
    uint32_t b = 0;
    while (b < m->nbuckets && !(v <= m->bucket[b]))
        b++;
    add_value(t, s->value + b, 1);
    add_value(t, s->value + m->nbuckets + 1, v);
}

/* ---- the master's side ---- */

/* Adds the values of series s of from (read as a reader) to series to of
 * into. */
static void add_series(struct mt_table *into, uint32_t to, const struct mt_table *from,
                       const struct mt_series *s)
{
    const struct mt_metric *m = mt_metric_at(from, s->metric);
    uint32_t k = mt_values_per(m->kind, m->nbuckets), v = mt_series_at(into, to)->value;
    for (uint32_t i = 0; i < k; i++)
        add_value(into, v + i, mt_value(from, s->value + i));
}

/* The metric of into that metric m of from goes to, or -1 (a gauge when
 * keeping, or one that does not fit). */
static int kept_metric(const struct mt_table *from, uint32_t m)
{
    const char *labels[METRICS_MAX_LABELS];
    struct metrics_decl d;
    char err[256];
    if (mt_decl(from, m, &d, labels) < 0 || d.kind == METRICS_GAUGE)
        return -1;
    int k = mt_find_shape(kept, &d);
    return k >= 0 ? k : mt_declare(kept, &d, 0, err, sizeof err);
}

void metrics_script_retire(const struct mt_table *t)
{
    uint32_t nm = mt_nmetrics(t), ns = mt_nseries(t);
    int map[METRICS_MAX_METRICS];
    char err[256];
    if (nm > METRICS_MAX_METRICS || ns == 0 || (!kept && !(kept = new_table(&kept_caps))))
        return;
    for (uint32_t m = 0; m < nm; m++)
        map[m] = kept_metric(t, m);
    for (uint32_t i = 0; i < ns; i++) {
        const struct mt_series *s = mt_series_read(t, i, nm);
        if (!s || map[s->metric] < 0)
            continue;
        int to = mt_series(kept, (uint32_t)map[s->metric], mt_blob(t, s->labels), s->labels_len,
                           err, sizeof err);
        if (to >= 0)
            add_series(kept, (uint32_t)to, t, s);
        else if (!kept_full_told++)
            log_warn("metrics: no room to keep the counts of workers gone (%u series); some are "
                     "dropped",
                     kept_caps.series);
    }
}

/* The metric of sums that metric m of from adds to: the one of that name if
 * it has the same shape, else a new one unless only_known; or -1. */
static int sum_metric(struct mt_table *sums, const struct mt_table *from, uint32_t m,
                      int only_known)
{
    const char *labels[METRICS_MAX_LABELS], *have_labels[METRICS_MAX_LABELS];
    struct metrics_decl d, have;
    char err[256];
    if (mt_decl(from, m, &d, labels) < 0)
        return -1;
    int s = mt_find(sums, d.name);
    if (s >= 0)
        return mt_decl(sums, (uint32_t)s, &have, have_labels) == 0 && mt_same_shape(&d, &have) ? s
                                                                                               : -1;
    return only_known ? -1 : mt_declare(sums, &d, 1, err, sizeof err);
}

/* A table as a scrape sums it: what its counts covered when first read, so
 * that the room made for the sums is enough. */
struct part {
    const struct mt_table *t;
    uint32_t nmetrics, nseries;
};

/* Adds the part to sums (only_known: to the metrics sums has already). */
static int add_part(struct mt_table *sums, const struct part *p, int only_known)
{
    char err[256];
    int *map = malloc((p->nmetrics ? p->nmetrics : 1) * sizeof *map);
    if (!map)
        return -1;
    for (uint32_t m = 0; m < p->nmetrics; m++)
        map[m] = sum_metric(sums, p->t, m, only_known);
    for (uint32_t i = 0; i < p->nseries; i++) {
        const struct mt_series *s = mt_series_read(p->t, i, p->nmetrics);
        int to = s && map[s->metric] >= 0
                     ? mt_series(sums, (uint32_t)map[s->metric], mt_blob(p->t, s->labels),
                                 s->labels_len, err, sizeof err)
                     : -1;
        if (to >= 0)
            add_series(sums, (uint32_t)to, p->t, s);
    }
    free(map);
    return 0;
}

/* Reads the counts of t (series before the values and text they use) and
 * adds the room it needs to caps. */
static struct part read_part(const struct mt_table *t, struct mt_caps *caps)
{
    struct part p = {t, mt_nmetrics(t), 0};
    p.nseries = mt_nseries(t);
    caps->metrics += p.nmetrics;
    caps->series += p.nseries;
    caps->values += mt_nvalues(t);
    caps->text += mt_ntext(t);
    return p;
}

static int newest_first(const void *a, const void *b)
{
    uint64_t x = metrics_slot_seq(*(const int *)a), y = metrics_slot_seq(*(const int *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The running workers' slots, newest first, in order (room for all); their
 * number. */
static int running_slots(int *order)
{
    int n = 0;
    for (int i = 0; i < metrics_nslots(); i++)
        if (metrics_slot_used(i))
            order[n++] = i;
    qsort(order, (size_t)n, sizeof *order, newest_first);
    return n;
}

/* The sums over the running workers, newest first, then the kept counts of
 * the metrics they declare; NULL out of memory. */
static struct mt_table *sum_tables(void)
{
    int nslots = metrics_nslots(), *order = malloc((size_t)(nslots + 1) * sizeof *order);
    struct part *parts = malloc((size_t)(nslots + 1) * sizeof *parts);
    struct mt_caps caps = {1, 1, 1, 1};
    struct mt_table *sums = NULL;
    int n = order && parts ? running_slots(order) : 0, rc = 0;
    for (int i = 0; i < n; i++)
        parts[i] = read_part(metrics_slot_table(order[i]), &caps);
    if (parts && kept)
        parts[n] = read_part(kept, &caps);
    if (order && parts && (sums = new_table(&caps))) {
        for (int i = 0; i <= n; i++)
            if (i < n || kept)
                rc |= add_part(sums, &parts[i], i == n);
        if (rc < 0) {
            free(sums);
            sums = NULL;
        }
    }
    free(order);
    free(parts);
    return sums;
}

/* ---- the text ---- */

static int add_escaped(struct evbuffer *out, const char *s, size_t len, int label)
{
    char small[256];
    size_t n = promtext_escape(small, sizeof small, s, len, label);
    if (n < sizeof small)
        return evbuffer_add(out, small, n);
    char *big = malloc(n + 1);
    int rc = big ? 0 : -1;
    if (big) {
        promtext_escape(big, n + 1, s, len, label);
        rc = evbuffer_add(out, big, n);
        free(big);
    }
    return rc;
}

/* {a="x",b="y"} of series s, with le="bound" last for a bucket; nothing
 * for a series without labels that is not a bucket. */
static int add_labels(struct evbuffer *out, const struct mt_table *t, const struct mt_series *s,
                      const char *le)
{
    const struct mt_metric *m = mt_metric_at(t, s->metric);
    const char *value = mt_blob(t, s->labels);
    int rc = 0;
    if (m->nlabels == 0 && !le)
        return 0;
    rc |= evbuffer_add(out, "{", 1);
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t len = strlen(value);
        rc |= evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", mt_text(t, m->label[i]));
        rc |= add_escaped(out, value, len, 1);
        rc |= evbuffer_add(out, "\"", 1);
        value += len + 1;
    }
    if (le)
        rc |= evbuffer_add_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    rc |= evbuffer_add(out, "}", 1);
    return rc;
}

static int add_sample(struct evbuffer *out, const struct mt_table *t, const struct mt_series *s,
                      const char *suffix, const char *le, double v)
{
    char value[PROMTEXT_VALUE_MAX];
    promtext_value(value, v);
    int rc = evbuffer_add_printf(out, "%s%s", mt_text(t, mt_metric_at(t, s->metric)->name), suffix);
    rc |= add_labels(out, t, s, le);
    rc |= evbuffer_add_printf(out, " %s\n", value);
    return rc;
}

/* A histogram's cumulative buckets, +Inf, sum and count; its count is its
 * +Inf bucket, so the two agree though a worker moves them while read. */
static int add_histogram(struct evbuffer *out, const struct mt_table *t, const struct mt_series *s)
{
    const struct mt_metric *m = mt_metric_at(t, s->metric);
    char le[PROMTEXT_VALUE_MAX];
    double count = 0;
    int rc = 0;
    for (uint32_t b = 0; b <= m->nbuckets; b++) {
        count += mt_value(t, s->value + b);
        promtext_value(le, b < m->nbuckets ? m->bucket[b] : INFINITY);
        rc |= add_sample(out, t, s, "_bucket", le, count);
    }
    rc |= add_sample(out, t, s, "_sum", NULL, mt_value(t, s->value + m->nbuckets + 1));
    rc |= add_sample(out, t, s, "_count", NULL, count);
    return rc;
}

static int add_metric(struct evbuffer *out, const struct mt_table *t, uint32_t metric)
{
    const struct mt_metric *m = mt_metric_at(t, metric);
    const char *name = mt_text(t, m->name), *help = mt_text(t, m->help);
    int rc = 0;
    if (m->first < 0)
        return 0; /* labelled, and no combination used yet */
    rc |= evbuffer_add_printf(out, "# HELP %s ", name);
    rc |= add_escaped(out, help, strlen(help), 0);
    rc |= evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, mt_kind_name(m->kind));
    for (int32_t i = m->first; i >= 0; i = mt_series_at(t, (uint32_t)i)->next) {
        const struct mt_series *s = mt_series_at(t, (uint32_t)i);
        rc |= m->kind == METRICS_HISTOGRAM ? add_histogram(out, t, s)
                                           : add_sample(out, t, s, "", NULL, mt_value(t, s->value));
    }
    return rc;
}

int metrics_script_render(struct evbuffer *out)
{
    struct mt_table *sums = sum_tables();
    int rc = sums ? 0 : -1;
    for (uint32_t m = 0; sums && m < mt_nmetrics(sums); m++)
        rc |= add_metric(out, sums, m);
    free(sums);
    return rc < 0 ? -1 : 0;
}
