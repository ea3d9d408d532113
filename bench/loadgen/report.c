#define _GNU_SOURCE
#include "report.h"

static double lg_tv_sec(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double lg_self_cpu(const struct lg_run *r)
{
    return lg_tv_sec(r->ru1.ru_utime) + lg_tv_sec(r->ru1.ru_stime) - lg_tv_sec(r->ru0.ru_utime) -
           lg_tv_sec(r->ru0.ru_stime);
}

static void lg_report_echo(FILE *f, const struct lg_run *r)
{
    const struct lg_opts *o = r->o;
    double sec = (double)(r->t1_ns - r->t0_ns) / 1e9;
    double rps = sec > 0 ? (double)r->msgs / sec : 0;
    double us[4] = {hist_percentile(&r->hist, 50) / 1e3, hist_percentile(&r->hist, 99) / 1e3,
                    hist_percentile(&r->hist, 99.9) / 1e3, r->hist.max / 1e3};
    double srv = r->have_server ? (double)(r->srv_cpu1 - r->srv_cpu0) / 1e9 : -1;
    double per = r->have_server && r->msgs ? srv * 1e9 / (double)r->msgs : -1;
    fprintf(f, "loadgen: %s %s, %u connections x %zu B, depth %u, %.1f s warm-up + %.1f s\n",
            o->target, msg_proto_name(o->proto), o->conns, o->size, o->depth, o->warmup,
            o->duration);
    fprintf(f, "requests: %llu in %.3f s = %.0f req/s\n", (unsigned long long)r->msgs, sec, rps);
    fprintf(f, "latency us: p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", us[0], us[1], us[2], us[3]);
    fprintf(f, "mismatched bytes: %llu, errors: %llu\n", (unsigned long long)r->mismatches,
            (unsigned long long)r->errors);
    if (r->have_server)
        fprintf(f, "server: %zu process(es), CPU %.3f s = %.0f ns per message\n", r->server.n, srv,
                per);
    fprintf(f, "loadgen CPU: %.3f s (%.0f%% of one core)\n", lg_self_cpu(r),
            sec > 0 ? 100 * lg_self_cpu(r) / sec : 0);
    fprintf(f,
            "RESULT mode=echo proto=%s conns=%u size=%zu depth=%u seconds=%.3f msgs=%llu "
            "rps=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mismatches=%llu "
            "errors=%llu srv_cpu_s=%.3f srv_ns_per_msg=%.1f lg_cpu_s=%.3f lg_cpu_pct=%.1f\n",
            msg_proto_name(o->proto), o->conns, o->size, o->depth, sec, (unsigned long long)r->msgs,
            rps, us[0], us[1], us[2], us[3], (unsigned long long)r->mismatches,
            (unsigned long long)r->errors, srv, per, lg_self_cpu(r),
            sec > 0 ? 100 * lg_self_cpu(r) / sec : 0);
}

static void lg_report_idle(FILE *f, const struct lg_run *r)
{
    const struct lg_opts *o = r->o;
    long long delta = (long long)r->rss1 - (long long)r->rss0;
    double per = r->established ? (double)delta / r->established : 0;
    fprintf(f, "idle: %u of %u connections set up, each echoed once, held %.1f s\n", r->established,
            o->conns, o->hold);
    fprintf(f, "mismatched bytes: %llu, errors: %llu\n", (unsigned long long)r->mismatches,
            (unsigned long long)r->errors);
    if (r->have_server)
        fprintf(f, "server RSS: %llu kB before, %llu kB after: %.0f B per connection\n",
                (unsigned long long)r->rss0 / 1024, (unsigned long long)r->rss1 / 1024, per);
    fprintf(f,
            "RESULT mode=idle conns=%u established=%u rss0_kb=%llu rss1_kb=%llu "
            "bytes_per_conn=%.0f mismatches=%llu errors=%llu\n",
            o->conns, r->established, (unsigned long long)r->rss0 / 1024,
            (unsigned long long)r->rss1 / 1024, r->have_server ? per : -1.0,
            (unsigned long long)r->mismatches, (unsigned long long)r->errors);
}

void lg_report(FILE *f, const struct lg_run *r)
{
    if (r->o->idle)
        lg_report_idle(f, r);
    else
        lg_report_echo(f, r);
}
