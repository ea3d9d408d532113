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

/* For a worker that drains: a connection is idle when no input came for
 * idle_ms and nothing is queued either way, so closing it cuts no exchange. */
size_t conn_close_idle(uint32_t idle_ms, const char *reason)
{
    size_t closed = 0;
    for (struct conn_group *g = groups; g; g = g->next) {
        uint64_t now = loop_ms(event_get_base(&g->idle_timer));
        /* Every connection is looked at: the order by last input is only
         * kept for groups with an idle timeout. */
        for (struct conn *c = g->live.head, *next; c; c = next) {
            next = c->next; /* conn_fail moves c to the dying list */
            if (c->last_input_ms + idle_ms > now || c->in || c->out ||
                (c->flags & (CONN_CONNECTING | CONN_DISPATCH)))
                continue;
            conn_fail(c, reason);
            closed++;
        }
    }
    return closed;
}
