/* master_metrics: --metrics ADDR, the master's own HTTP endpoint (evhttp on
 * the master's loop): GET /metrics renders the workers' figures, summed by
 * metrics.h, in the Prometheus text format. The workers never run it. */
#include "config.h"

#include "master_int.h"

#include "addr.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

_Static_assert(OPTIONS_MAX_LISTEN <= METRICS_MAX_LISTENERS, "metrics split by every listener");

static int running_workers(const struct master *m)
{
    int n = 0;
    for (int id = 0; id < m->nworkers; id++)
        n += m->slots[id].pid > 0;
    return n;
}

/* GET /metrics: the workers' figures summed, in Prometheus text format. */
static void serve_metrics(struct evhttp_request *req, void *arg)
{
    struct master *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *body = evbuffer_new();
    if (!body || !path || strcmp(path, "/metrics") != 0 ||
        metrics_render(body, m->restarts, running_workers(m)) < 0) {
        evhttp_send_error(req, body ? HTTP_NOTFOUND : HTTP_INTERNAL, NULL);
        if (body)
            evbuffer_free(body);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

/* --metrics: the shared figures (before any worker is forked) and the socket. */
int master_metrics_bind(struct master *m)
{
    char err[ERR_MAX];
    struct addr addr, bound;
    if (!m->opts->metrics)
        return 0;
    if (addr_parse(m->opts->metrics, &addr, err, sizeof err) < 0 ||
        metrics_init(4 * m->nworkers + 4, err, sizeof err) < 0) {
        log_error("--metrics: %s", err);
        return -1;
    }
    for (int i = 0; i < m->naddrs; i++)
        m->listener_names[i] = m->bound[i].text;
    metrics_set_listeners(m->listener_names, m->naddrs);
    if ((m->metrics_fd = listener_bind(&addr, 0, &bound, err, sizeof err)) < 0) {
        master_bind_hint(&addr, errno, err, sizeof err);
        log_error("--metrics: %s", err);
        return -1;
    }
    log_info("metrics on http://%s/metrics", bound.text);
    return 0;
}

/* The HTTP server on the master's loop; the workers never run it. */
int master_metrics_serve(struct master *m)
{
    if (m->metrics_fd < 0)
        return 0;
    m->metrics_http = evhttp_new(m->base);
    if (!m->metrics_http || evhttp_accept_socket(m->metrics_http, m->metrics_fd) < 0)
        return -1;
    m->metrics_fd = -1; /* the evhttp owns it now */
    evhttp_set_allowed_methods(m->metrics_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m->metrics_http, serve_metrics, m);
    return 0;
}
