#include "config.h"

#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define NFIGURES METRICS_NFIGURES

/* Written by one worker, read by the master: each figure is one aligned
 * 64-bit word, stored and loaded atomically, so a reader never sees half. */
struct slot {
    _Atomic uint64_t figure[NFIGURES];
    _Atomic int used; /* master's bookkeeping */
};

struct metric {
    const char *key, *name, *type, *help;
    int counter; /* kept across worker restarts; a gauge is not */
};

static const struct metric metrics[NFIGURES] = {
#define METRICS_ROW(field, name, type, help) {#field, name, #type, help, METRICS_IS_##type},
#define METRICS_IS_counter 1
#define METRICS_IS_gauge 0
    METRICS_FIGURES(METRICS_ROW)
#undef METRICS_ROW
};

const char *metrics_key(size_t k)
{
    return metrics[k].key;
}

uint64_t metrics_figure(const struct metrics_figures *f, size_t k)
{
    return ((const uint64_t *)f)[k];
}

static struct slot *slots; /* shared with the workers */
static int nslots;
static int my_slot = -1;           /* in a worker */
static uint64_t retired[NFIGURES]; /* master: counters of workers gone */

int metrics_init(int n, char *err, size_t errlen)
{
    size_t size = (size_t)n * sizeof *slots;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "metrics: mmap %zu bytes: %s", size, strerror(errno));
        return -1;
    }
    slots = p;
    nslots = n;
    return 0;
}

int metrics_slot_take(void)
{
    for (int i = 0; i < nslots; i++) {
        if (!atomic_load(&slots[i].used)) {
            for (size_t k = 0; k < NFIGURES; k++)
                atomic_store(&slots[i].figure[k], 0);
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
    for (size_t k = 0; k < NFIGURES; k++)
        if (metrics[k].counter)
            retired[k] += atomic_load(&slots[slot].figure[k]);
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
    for (size_t k = 0; k < NFIGURES; k++)
        atomic_store_explicit(&slots[my_slot].figure[k], v[k], memory_order_relaxed);
}

static uint64_t sum(size_t k)
{
    uint64_t total = metrics[k].counter ? retired[k] : 0;
    for (int i = 0; i < nslots; i++)
        if (atomic_load(&slots[i].used))
            total += atomic_load_explicit(&slots[i].figure[k], memory_order_relaxed);
    return total;
}

static int render_one(struct evbuffer *out, const char *name, const char *type, const char *help,
                      uint64_t value)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
                               name, (unsigned long long)value);
}

int metrics_render(struct evbuffer *out, uint64_t restarts, int workers)
{
    for (size_t k = 0; k < NFIGURES; k++)
        if (render_one(out, metrics[k].name, metrics[k].type, metrics[k].help, sum(k)) < 0)
            return -1;
    if (render_one(out, "moonwire_worker_restarts_total", "counter",
                   "Workers replaced after they died.", restarts) < 0 ||
        render_one(out, "moonwire_workers", "gauge", "Worker processes running.",
                   (uint64_t)workers) < 0)
        return -1;
    return 0;
}
