/* metrics_table: the table script metrics are kept in: declarations, their
 * series (one per label combination, found by a hash index), the values and
 * the text, each in fixed room; one writer, and readers in another process
 * (metrics_int.h says what they may read). */
#include "config.h"

#include "metrics_int.h"

#include "promtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NO_TEXT UINT32_MAX

static const char *const kind_names[] = {"counter", "gauge", "histogram"};
static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static uint32_t index_size(const struct mt_caps *caps)
{
    uint32_t n = 1;
    while (n < 2 * caps->series)
        n *= 2;
    return n;
}

size_t mt_size(const struct mt_caps *caps)
{
    return align8(sizeof(struct mt_table)) + align8(caps->metrics * sizeof(struct mt_metric)) +
           align8(caps->series * sizeof(struct mt_series)) +
           align8(index_size(caps) * sizeof(int32_t)) + caps->values * sizeof(_Atomic uint64_t) +
           align8(caps->text);
}

struct mt_metric *mt_metric_at(const struct mt_table *t, uint32_t m)
{
    return (struct mt_metric *)((char *)t + t->metrics_at) + m;
}

struct mt_series *mt_series_at(const struct mt_table *t, uint32_t s)
{
    return (struct mt_series *)((char *)t + t->series_at) + s;
}

static int32_t *index_of(const struct mt_table *t)
{
    return (int32_t *)((char *)t + t->index_at);
}

static _Atomic uint64_t *values_of(const struct mt_table *t)
{
    return (_Atomic uint64_t *)((char *)t + t->values_at);
}

static char *text_of(const struct mt_table *t)
{
    return (char *)t + t->text_at;
}

void mt_init(struct mt_table *t, const struct mt_caps *caps)
{
    t->cap = *caps;
    t->index_mask = index_size(caps) - 1;
    t->metrics_at = align8(sizeof *t);
    t->series_at = t->metrics_at + align8(caps->metrics * sizeof(struct mt_metric));
    t->index_at = t->series_at + align8(caps->series * sizeof(struct mt_series));
    t->values_at = t->index_at + align8(index_size(caps) * sizeof(int32_t));
    t->text_at = t->values_at + caps->values * sizeof(_Atomic uint64_t);
    mt_clear(t);
}

void mt_clear(struct mt_table *t)
{
    atomic_store(&t->nmetrics, 0);
    atomic_store(&t->nseries, 0);
    atomic_store(&t->nvalues, 0);
    atomic_store(&t->ntext, 0);
    memset(index_of(t), 0xff, (t->index_mask + 1) * sizeof(int32_t));
}

uint32_t mt_nmetrics(const struct mt_table *t)
{
    uint32_t n = atomic_load_explicit(&t->nmetrics, memory_order_acquire);
    return n < t->cap.metrics ? n : t->cap.metrics;
}

uint32_t mt_nseries(const struct mt_table *t)
{
    uint32_t n = atomic_load_explicit(&t->nseries, memory_order_acquire);
    return n < t->cap.series ? n : t->cap.series;
}

uint32_t mt_nvalues(const struct mt_table *t)
{
    return atomic_load_explicit(&t->nvalues, memory_order_acquire);
}

uint32_t mt_ntext(const struct mt_table *t)
{
    return atomic_load_explicit(&t->ntext, memory_order_acquire);
}

const char *mt_text(const struct mt_table *t, uint32_t off)
{
    if (off >= t->cap.text || !memchr(text_of(t) + off, '\0', t->cap.text - off))
        return NULL;
    return text_of(t) + off;
}

const char *mt_blob(const struct mt_table *t, uint32_t off)
{
    return text_of(t) + off;
}

double mt_value(const struct mt_table *t, uint32_t v)
{
    uint64_t bits = atomic_load_explicit(&values_of(t)[v], memory_order_relaxed);
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

void mt_set_value(struct mt_table *t, uint32_t v, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    atomic_store_explicit(&values_of(t)[v], bits, memory_order_relaxed);
}

uint32_t mt_values_per(uint8_t kind, uint8_t nbuckets)
{
    /* a histogram: each bucket's own count, then the +Inf one's, then the sum */
    return kind == METRICS_HISTOGRAM ? (uint32_t)nbuckets + 2 : 1;
}

int mt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- declaring ---- */

static int check_labels(const struct metrics_decl *d, char *err, size_t errlen)
{
    if (d->nlabels > METRICS_MAX_LABELS)
        return mt_fail(err, errlen, "metric '%s': at most %d labels", d->name, METRICS_MAX_LABELS);
    for (size_t i = 0; i < d->nlabels; i++) {
        if (!promtext_label_name_ok(d->labels[i]))
            return mt_fail(err, errlen,
                           "metric '%s': label name '%s' is not valid (a letter or _, then "
                           "letters, digits or _; not __ first)",
                           d->name, d->labels[i]);
        if (d->kind == METRICS_HISTOGRAM && strcmp(d->labels[i], "le") == 0)
            return mt_fail(err, errlen,
                           "metric '%s': label 'le' is the histogram's own (its buckets)", d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->labels[i], d->labels[j]) == 0)
                return mt_fail(err, errlen, "metric '%s': label '%s' is named twice", d->name,
                               d->labels[i]);
    }
    return 0;
}

static int check_buckets(const struct metrics_decl *d, char *err, size_t errlen)
{
    if (d->kind != METRICS_HISTOGRAM)
        return 0;
    if (d->nbuckets < 1 || d->nbuckets > METRICS_MAX_BUCKETS)
        return mt_fail(err, errlen, "metric '%s': a histogram has from 1 to %d buckets", d->name,
                       METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < d->nbuckets; i++) {
        char a[PROMTEXT_VALUE_MAX], b[PROMTEXT_VALUE_MAX];
        if (!isfinite(d->buckets[i]))
            return mt_fail(err, errlen, "metric '%s': buckets are finite numbers (+Inf is implied)",
                           d->name);
        if (i > 0 && !(d->buckets[i] > d->buckets[i - 1])) {
            promtext_value(a, d->buckets[i]);
            promtext_value(b, d->buckets[i - 1]);
            return mt_fail(err, errlen, "metric '%s': buckets must rise (%s after %s)", d->name, a,
                           b);
        }
    }
    return 0;
}

static int check_decl(const struct metrics_decl *d, char *err, size_t errlen)
{
    if ((unsigned)d->kind > METRICS_HISTOGRAM)
        return mt_fail(err, errlen, "metric '%s': no such kind", d->name);
    if (!promtext_metric_name_ok(d->name))
        return mt_fail(err, errlen,
                       "metric name '%s' is not valid (a letter, _ or :, then letters, digits, _ "
                       "or :)",
                       d->name);
    if (!promtext_utf8_ok(d->help, strlen(d->help)))
        return mt_fail(err, errlen, "metric '%s': its help is not UTF-8", d->name);
    return check_labels(d, err, errlen) < 0 || check_buckets(d, err, errlen) < 0 ? -1 : 0;
}

/* name is base followed by one of a histogram's suffixes. */
static int is_histogram_series(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0)
        return 0;
    for (size_t i = 0; i < sizeof histogram_suffixes / sizeof *histogram_suffixes; i++)
        if (strcmp(name + n, histogram_suffixes[i]) == 0)
            return 1;
    return 0;
}

/* d's name is new, and no histogram's series is named as another metric. */
static int check_clash(const struct mt_table *t, const struct metrics_decl *d, char *err,
                       size_t errlen)
{
    for (uint32_t m = 0; m < mt_nmetrics(t); m++) {
        const struct mt_metric *e = mt_metric_at(t, m);
        const char *name = mt_text(t, e->name);
        if (!name)
            continue;
        if (strcmp(name, d->name) == 0)
            return mt_fail(err, errlen, "metric '%s' is already declared", d->name);
        if (e->kind == METRICS_HISTOGRAM && is_histogram_series(d->name, name))
            return mt_fail(err, errlen, "metric '%s' has the name of a series of histogram '%s'",
                           d->name, name);
        if (d->kind == METRICS_HISTOGRAM && is_histogram_series(name, d->name))
            return mt_fail(err, errlen, "histogram '%s' would have a series named as metric '%s'",
                           d->name, name);
    }
    return 0;
}

static uint32_t put_text(struct mt_table *t, const char *s, size_t len)
{
    uint32_t at = atomic_load_explicit(&t->ntext, memory_order_relaxed);
    if (len > t->cap.text - at)
        return NO_TEXT;
    memcpy(text_of(t) + at, s, len);
    atomic_store_explicit(&t->ntext, at + (uint32_t)len, memory_order_relaxed);
    return at;
}

static uint32_t put_string(struct mt_table *t, const char *s)
{
    return put_text(t, s, strlen(s) + 1);
}

static int no_room(struct mt_table *t, const char *name, uint32_t text_was, char *err,
                   size_t errlen)
{
    atomic_store_explicit(&t->ntext, text_was, memory_order_relaxed);
    return mt_fail(err, errlen,
                   "metric '%s': out of room for text (at most %u bytes of names, help texts and "
                   "label values in a worker)",
                   name, t->cap.text);
}

int mt_declare(struct mt_table *t, const struct metrics_decl *d, int unique, char *err,
               size_t errlen)
{
    if (check_decl(d, err, errlen) < 0 || (unique && check_clash(t, d, err, errlen) < 0))
        return -1;
    uint32_t n = mt_nmetrics(t), text_was = mt_ntext(t);
    if (n == t->cap.metrics)
        return mt_fail(err, errlen, "metric '%s': too many metrics (at most %u in a worker)",
                       d->name, t->cap.metrics);
    struct mt_metric *m = mt_metric_at(t, n);
    *m = (struct mt_metric){
        .kind = (uint8_t)d->kind, .nlabels = (uint8_t)d->nlabels, .first = -1, .last = -1};
    m->name = put_string(t, d->name);
    m->help = put_string(t, d->help);
    for (size_t i = 0; i < d->nlabels; i++)
        if ((m->label[i] = put_string(t, d->labels[i])) == NO_TEXT)
            return no_room(t, d->name, text_was, err, errlen);
    if (m->name == NO_TEXT || m->help == NO_TEXT)
        return no_room(t, d->name, text_was, err, errlen);
    if (d->kind == METRICS_HISTOGRAM) {
        m->nbuckets = (uint8_t)d->nbuckets;
        memcpy(m->bucket, d->buckets, d->nbuckets * sizeof *d->buckets);
    }
    atomic_store_explicit(&t->nmetrics, n + 1, memory_order_release);
    return (int)n;
}

int mt_decl(const struct mt_table *t, uint32_t m, struct metrics_decl *d,
            const char *labels[METRICS_MAX_LABELS])
{
    const struct mt_metric *e = mt_metric_at(t, m);
    uint8_t kind = e->kind, nlabels = e->nlabels, nbuckets = e->nbuckets;
    if (kind > METRICS_HISTOGRAM || nlabels > METRICS_MAX_LABELS || nbuckets > METRICS_MAX_BUCKETS)
        return -1;
    *d = (struct metrics_decl){.kind = kind,
                               .name = mt_text(t, e->name),
                               .help = mt_text(t, e->help),
                               .labels = labels,
                               .nlabels = nlabels,
                               .buckets = e->bucket,
                               .nbuckets = kind == METRICS_HISTOGRAM ? nbuckets : 0};
    for (size_t i = 0; i < nlabels; i++)
        if (!(labels[i] = mt_text(t, e->label[i])))
            return -1;
    return d->name && d->help ? 0 : -1;
}

int mt_find(const struct mt_table *t, const char *name)
{
    for (uint32_t m = 0; m < mt_nmetrics(t); m++) {
        const char *s = mt_text(t, mt_metric_at(t, m)->name);
        if (s && strcmp(s, name) == 0)
            return (int)m;
    }
    return -1;
}

int mt_same_shape(const struct metrics_decl *a, const struct metrics_decl *b)
{
    if (a->kind != b->kind || a->nlabels != b->nlabels || a->nbuckets != b->nbuckets ||
        strcmp(a->name, b->name) != 0)
        return 0;
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->nbuckets; i++)
        if (a->buckets[i] != b->buckets[i])
            return 0;
    return 1;
}

int mt_find_shape(const struct mt_table *t, const struct metrics_decl *d)
{
    const char *labels[METRICS_MAX_LABELS];
    struct metrics_decl e;
    for (uint32_t m = 0; m < mt_nmetrics(t); m++)
        if (mt_decl(t, m, &e, labels) == 0 && mt_same_shape(&e, d))
            return (int)m;
    return -1;
}

const char *mt_kind_name(uint8_t kind)
{
    return kind <= METRICS_HISTOGRAM ? kind_names[kind] : "untyped";
}

/* ---- series ---- */

static uint32_t series_hash(uint32_t metric, const char *labels, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 4; i++)
        h = (h ^ ((metric >> (8 * i)) & 0xff)) * 16777619u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)labels[i]) * 16777619u;
    return h;
}

/* The index position of the series of metric with labels, or of the empty
 * place where it goes. */
static uint32_t index_find(const struct mt_table *t, uint32_t metric, const char *labels,
                           size_t len, uint32_t h)
{
    const int32_t *index = index_of(t);
    uint32_t i = h & t->index_mask;
    for (; index[i] >= 0; i = (i + 1) & t->index_mask) {
        const struct mt_series *s = mt_series_at(t, (uint32_t)index[i]);
        if (s->hash == h && s->metric == metric && s->labels_len == len &&
            memcmp(text_of(t) + s->labels, labels, len) == 0)
            break;
    }
    return i;
}

static int too_many_series(struct mt_table *t, const char *name, char *err, size_t errlen)
{
    return mt_fail(err, errlen,
                   "metric '%s': too many series (at most %u label combinations in a worker, over "
                   "all its metrics); a new combination is refused",
                   name, t->cap.series);
}

int mt_series(struct mt_table *t, uint32_t metric, const char *labels, size_t len, char *err,
              size_t errlen)
{
    struct mt_metric *m = mt_metric_at(t, metric);
    uint32_t h = series_hash(metric, labels, len), at = index_find(t, metric, labels, len, h);
    if (index_of(t)[at] >= 0)
        return index_of(t)[at];
    uint32_t n = mt_nseries(t), nvalues = mt_nvalues(t), k = mt_values_per(m->kind, m->nbuckets);
    const char *name = mt_text(t, m->name);
    if (n == t->cap.series || k > t->cap.values - nvalues)
        return too_many_series(t, name, err, errlen);
    uint32_t text_was = mt_ntext(t), off = put_text(t, labels, len);
    if (off == NO_TEXT)
        return no_room(t, name, text_was, err, errlen);
    for (uint32_t v = 0; v < k; v++)
        mt_set_value(t, nvalues + v, 0);
    *mt_series_at(t, n) = (struct mt_series){metric, off, (uint32_t)len, nvalues, h, -1};
    atomic_store_explicit(&t->nvalues, nvalues + k, memory_order_relaxed);
    atomic_store_explicit(&t->nseries, n + 1, memory_order_release);
    index_of(t)[at] = (int32_t)n;
    if (m->last >= 0)
        mt_series_at(t, (uint32_t)m->last)->next = (int32_t)n;
    else
        m->first = (int32_t)n;
    m->last = (int32_t)n;
    return (int)n;
}

const struct mt_series *mt_series_read(const struct mt_table *t, uint32_t s, uint32_t nmetrics)
{
    const struct mt_series *e = mt_series_at(t, s);
    uint32_t metric = e->metric, labels = e->labels, len = e->labels_len, value = e->value;
    if (metric >= nmetrics || labels > t->cap.text || len > t->cap.text - labels)
        return NULL;
    const struct mt_metric *m = mt_metric_at(t, metric);
    uint32_t k = mt_values_per(m->kind, m->nbuckets);
    return value <= t->cap.values && k <= t->cap.values - value ? e : NULL;
}
