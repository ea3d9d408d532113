/* metrics: the slots the workers publish into, the built-in figures (some
 * by listener), and the master's sums of them; the script metrics' room is
 * metrics_script.c. */
#include "config.h"

#include "metrics_int.h"

#include "addr.h"
#include "promtext.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define NFIGURES METRICS_NFIGURES
#define NROWS (METRICS_MAX_LISTENERS + 1) /* the listeners', then outbound */

/* Written by one worker, read by the master: each figure is one aligned
 * 64-bit word, stored and loaded atomically, so a reader never sees half.
 * The slot's table of script metrics is in a mapping of its own. */
struct slot {
    _Atomic uint64_t figure[NFIGURES];
    _Atomic uint64_t by_listener[NROWS][NFIGURES];
    _Atomic int used; /* master's bookkeeping */
    uint64_t seq;     /* the master's: when it was taken */
};

enum split { SPLIT_worker, SPLIT_accepts, SPLIT_conns };

struct metric {
    const char *key, *name, *type, *help;
    int counter; /* kept across worker restarts; a gauge is not */
    enum split split;
};

static const struct metric metrics[NFIGURES] = {
#define METRICS_ROW(field, name, type, split, help) \
    {#field, name, #type, help, METRICS_IS_##type, SPLIT_##split},
#define METRICS_IS_counter 1
#define METRICS_IS_gauge 0
    METRICS_FIGURES(METRICS_ROW)
#undef METRICS_ROW
};

const struct mt_caps metrics_worker_caps = {METRICS_MAX_METRICS, METRICS_MAX_SERIES,
                                            METRICS_MAX_SERIES *(METRICS_MAX_BUCKETS + 2),
                                            METRICS_MAX_TEXT};

const char *metrics_key(size_t k)
{
    return metrics[k].key;
}

uint64_t metrics_figure(const struct metrics_figures *f, size_t k)
{
    return ((const uint64_t *)f)[k];
}

static struct slot *slots; /* shared with the workers */
static char *tables;       /* the slots' tables, table_size bytes each */
static size_t table_size;
static int nslots;
static uint64_t slots_taken;
static int my_slot = -1;           /* in a worker */
static uint64_t retired[NFIGURES]; /* master: counters of workers gone */
static uint64_t retired_by[NROWS][NFIGURES];
static const char *const *listener_names; /* master's, inherited by the workers */
static int nlisteners;

static void *map_shared(size_t size, char *err, size_t errlen)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "metrics: mmap %zu bytes: %s", size, strerror(errno));
        return NULL;
    }
    return p;
}

/* The tables' pages are touched only by the workers that use them. */
int metrics_init(int n, char *err, size_t errlen)
{
    size_t size = (size_t)n * sizeof *slots;
    table_size = (mt_size(&metrics_worker_caps) + 63) & ~(size_t)63;
    if (!(slots = map_shared(size, err, errlen)))
        return -1;
    if (!(tables = map_shared((size_t)n * table_size, err, errlen))) {
        munmap(slots, size);
        slots = NULL;
        return -1;
    }
    nslots = n;
    return 0;
}

void metrics_set_listeners(const char *const *names, int n)
{
    listener_names = names;
    nlisteners = n < METRICS_MAX_LISTENERS ? n : METRICS_MAX_LISTENERS;
}

int metrics_listener_index(const char *name)
{
    for (int i = 0; i < nlisteners; i++)
        if (strcmp(listener_names[i], name) == 0)
            return i;
    return -1;
}

int metrics_nslots(void)
{
    return nslots;
}

int metrics_slot_used(int slot)
{
    return atomic_load(&slots[slot].used);
}

uint64_t metrics_slot_seq(int slot)
{
    return slots[slot].seq;
}

struct mt_table *metrics_slot_table(int slot)
{
    return (struct mt_table *)(tables + (size_t)slot * table_size);
}

int metrics_my_slot(void)
{
    return my_slot;
}

int metrics_slot_take(void)
{
    for (int i = 0; i < nslots; i++) {
        if (!atomic_load(&slots[i].used)) {
            for (size_t k = 0; k < NFIGURES; k++) {
                atomic_store(&slots[i].figure[k], 0);
                for (int l = 0; l < NROWS; l++)
                    atomic_store(&slots[i].by_listener[l][k], 0);
            }
            mt_init(metrics_slot_table(i), &metrics_worker_caps);
            slots[i].seq = ++slots_taken;
            atomic_store(&slots[i].used, 1);
            return i;
        }
    }
    return -1;
}

void metrics_slot_release(int slot)
{
    if (!slots || slot < 0 || slot >= nslots)
        return;
    for (size_t k = 0; k < NFIGURES; k++) {
        if (!metrics[k].counter)
            continue;
        retired[k] += atomic_load(&slots[slot].figure[k]);
        for (int l = 0; l < NROWS; l++)
            retired_by[l][k] += atomic_load(&slots[slot].by_listener[l][k]);
    }
    metrics_script_retire(metrics_slot_table(slot));
    atomic_store(&slots[slot].used, 0);
}

void metrics_use_slot(int slot)
{
    my_slot = slots && slot >= 0 && slot < nslots ? slot : -1;
}

int metrics_enabled(void)
{
    return my_slot >= 0;
}

void metrics_publish(const struct metrics_figures *f)
{
    const uint64_t *v = (const uint64_t *)f;
    if (my_slot < 0)
        return;
    struct slot *s = &slots[my_slot];
    for (size_t k = 0; k < NFIGURES; k++) {
        atomic_store_explicit(&s->figure[k], v[k], memory_order_relaxed);
        if (metrics[k].split != SPLIT_worker)
            for (int l = 0; l < NROWS; l++)
                atomic_store_explicit(&s->by_listener[l][k], f->by_listener[l][k],
                                      memory_order_relaxed);
    }
}

/* Figure k summed over the running workers (row -1: their totals, else
 * that row's share), with the counts of workers gone for a counter. */
static uint64_t sum(size_t k, int row)
{
    uint64_t total = !metrics[k].counter ? 0 : row < 0 ? retired[k] : retired_by[row][k];
    for (int i = 0; i < nslots; i++) {
        if (!atomic_load(&slots[i].used))
            continue;
        _Atomic uint64_t *v = row < 0 ? &slots[i].figure[k] : &slots[i].by_listener[row][k];
        total += atomic_load_explicit(v, memory_order_relaxed);
    }
    return total;
}

static int render_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int render_one(struct evbuffer *out, const char *name, const char *type, const char *help,
                      uint64_t value)
{
    if (render_head(out, name, type, help) < 0)
        return -1;
    return evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

/* One sample per listener (the label value escaped), and outbound. */
static int render_split(struct evbuffer *out, size_t k)
{
    const struct metric *m = &metrics[k];
    char label[2 * ADDR_TEXT_MAX + 1]; /* a name escaped */
    if (render_head(out, m->name, m->type, m->help) < 0)
        return -1;
    for (int l = 0; l < nlisteners; l++) {
        const char *name = listener_names[l];
        promtext_escape(label, sizeof label, name, strlen(name), 1);
        if (evbuffer_add_printf(out, "%s{listener=\"%s\"} %llu\n", m->name, label,
                                (unsigned long long)sum(k, l)) < 0)
            return -1;
    }
    if (m->split == SPLIT_conns &&
        evbuffer_add_printf(out, "%s{listener=\"outbound\"} %llu\n", m->name,
                            (unsigned long long)sum(k, METRICS_OUTBOUND)) < 0)
        return -1;
    return 0;
}

int metrics_render(struct evbuffer *out, uint64_t restarts, int workers)
{
    for (size_t k = 0; k < NFIGURES; k++) {
        const struct metric *m = &metrics[k];
        if (m->split != SPLIT_worker ? render_split(out, k) < 0
                                     : render_one(out, m->name, m->type, m->help, sum(k, -1)) < 0)
            return -1;
    }
    if (render_one(out, "moonwire_worker_restarts_total", "counter",
                   "Workers replaced after they died.", restarts) < 0 ||
        render_one(out, "moonwire_workers", "gauge", "Worker processes running.",
                   (uint64_t)workers) < 0)
        return -1;
    return metrics_script_render(out);
}
