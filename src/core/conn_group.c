/* conn_group: the connections made with one config and callbacks, kept in
 * order of last input so that the idle ones are at the front: idle_timeout's
 * one timer per group, and the sweeps of a worker that stops (abort all) or
 * drains (close the idle). */
#include "config.h"

#include "conn_int.h"

#include "log.h"
#include "mstime.h"

#include <stdlib.h>

static struct conn_group *groups;

static void idle_timer_cb(evutil_socket_t fd, short what, void *arg);

struct conn_group *conn_group_new(struct event_base *base, const struct conn_config *config,
                                  const struct conn_callbacks *cb)
{
    struct conn_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->config = *config;
    g->cb = cb;
    evtimer_assign(&g->idle_timer, base, idle_timer_cb, g);
    g->next = groups;
    if (groups)
        groups->prev = g;
    groups = g;
    return g;
}

void conn_group_free(struct conn_group *g)
{
    event_del(&g->idle_timer);
    if (g->prev)
        g->prev->next = g->next;
    else
        groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    free(g);
}

void conn_group_release(struct conn_group *g)
{
    g->released = 1;
    if (g->count == 0)
        conn_group_free(g);
}

/* ---- idle_timeout ---- */

/* A timer that cannot be added is tried again by the next connection made,
 * or the next time the timer fires. */
void conn_idle_arm(struct conn_group *g)
{
    if (!g->config.idle_timeout_ms || !g->live.head || evtimer_pending(&g->idle_timer, NULL))
        return;
    uint64_t now = loop_ms(event_get_base(&g->idle_timer));
    uint64_t due = g->live.head->last_input_ms + g->config.idle_timeout_ms;
    uint64_t wait = due > now ? due - now : 0;
    struct timeval tv = ms_timeval((double)wait);
    if (evtimer_add(&g->idle_timer, &tv) < 0)
        log_warn("idle timeout: cannot arm the timer: out of memory");
}

static void idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn_group *g = arg;
    (void)fd, (void)what;
    uint64_t now = loop_ms(event_get_base(&g->idle_timer));
    /* conn_fail takes a connection out of the order, so the head moves on. */
    while (g->live.head && g->live.head->last_input_ms + g->config.idle_timeout_ms <= now)
        conn_fail(g->live.head, "idle timeout");
    conn_idle_arm(g);
}

/* ---- the sweeps of a stopping or draining worker ---- */

void conn_abort_all(const char *reason)
{
    for (struct conn_group *g = groups, *next; g; g = next) {
        next = g->next; /* a released group frees itself with its last connection */
        while (g->live.head)
            conn_fail(g->live.head, reason);
        while (g->dying.head) {
            int last = g->count == 1; /* destroying it may free a released group */
            conn_destroy(g->dying.head);
            if (last)
                break;
        }
    }
}

/* The open connections are listed first, then told: fn may close any
 * of them, or open new ones (which are not told). None is freed meanwhile:
 * a failed connection is destroyed from its own event, on a later turn. */
int conn_each_open(void (*fn)(struct conn *conn, void *ud, void *arg), void *arg)
{
    size_t n = 0, i = 0;
    for (struct conn_group *g = groups; g; g = g->next)
        for (struct conn *c = g->live.head; c; c = c->next)
            n++;
    struct conn **all = n ? malloc(n * sizeof *all) : NULL;
    if (n && !all)
        return -1;
    for (struct conn_group *g = groups; g; g = g->next)
        for (struct conn *c = g->live.head; c; c = c->next)
            all[i++] = c;
    for (i = 0; i < n; i++)
        if (conn_is_open(all[i]))
            fn(all[i], all[i]->ud, arg);
    free(all);
    return 0;
}
