#include "config.h"

#include "check_main.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each test maps its own slots; the slots of the earlier ones stay mapped
 * (the module keeps no way to unmap them, as a master never needs one). */
static char err[512];
static char *text; /* the last render */

static void render(void)
{
    struct evbuffer *out = evbuffer_new();
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(metrics_render(out, 0, 2), 0);
    free(text);
    size_t len = evbuffer_get_length(out);
    text = malloc(len + 1);
    evbuffer_remove(out, text, len);
    text[len] = '\0';
    evbuffer_free(out);
}

/* The last render has this line. */
static int has_line(const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define ck_line(line) ck_assert_msg(has_line(line), "no line '%s' in:\n%s", line, text)
#define ck_no_line(line) ck_assert_msg(!has_line(line), "a line '%s' in:\n%s", line, text)

static int worker(void)
{
    int slot = metrics_slot_take();
    ck_assert_int_ge(slot, 0);
    metrics_use_slot(slot);
    return slot;
}

static int declare(enum metrics_kind kind, const char *name, const char *const *labels,
                   size_t nlabels)
{
    static const double buckets[] = {0.1, 1, 10};
    struct metrics_decl d = {kind, name, "Help.", labels, nlabels, buckets, 3};
    int m = metrics_declare(&d, err, sizeof err);
    ck_assert_msg(m >= 0, "%s", err);
    return m;
}

static int series(int metric, const char *value)
{
    size_t len = strlen(value);
    int s = metrics_series(metric, &value, &len, err, sizeof err);
    ck_assert_msg(s >= 0, "%s", err);
    return s;
}

/* The script of the tests: requests_total{method}, queue, latency_seconds. */
static void run_script(double requests, double queue, double latency)
{
    static const char *const method[] = {"method"};
    int c = declare(METRICS_COUNTER, "requests_total", method, 1);
    int g = declare(METRICS_GAUGE, "queue", NULL, 0);
    int h = declare(METRICS_HISTOGRAM, "latency_seconds", NULL, 0);
    metrics_add(series(c, "GET"), requests);
    metrics_set(metrics_series(g, NULL, NULL, err, sizeof err), queue);
    metrics_observe(metrics_series(h, NULL, NULL, err, sizeof err), latency);
}

static void setup(void)
{
    ck_assert_int_eq(metrics_init(8, err, sizeof err), 0);
}

START_TEST(test_each_kind_is_summed_over_two_workers)
{
    setup();
    worker();
    run_script(2, 3, 0.5);
    worker();
    run_script(5, 4, 20);
    render();
    ck_line("# TYPE requests_total counter");
    ck_line("requests_total{method=\"GET\"} 7");
    ck_line("# TYPE queue gauge");
    ck_line("queue 7");
    ck_line("# TYPE latency_seconds histogram");
    ck_line("latency_seconds_bucket{le=\"0.1\"} 0");
    ck_line("latency_seconds_bucket{le=\"1\"} 1");
    ck_line("latency_seconds_bucket{le=\"10\"} 1");
    ck_line("latency_seconds_bucket{le=\"+Inf\"} 2");
    ck_line("latency_seconds_sum 20.5");
    ck_line("latency_seconds_count 2");
}
END_TEST

START_TEST(test_a_worker_gone_leaves_its_counters_and_takes_its_gauges)
{
    setup();
    int first = worker();
    run_script(2, 3, 0.5);
    worker();
    run_script(5, 4, 20);
    metrics_slot_release(first);
    render();
    ck_line("requests_total{method=\"GET\"} 7");
    ck_line("queue 4");
    ck_line("latency_seconds_count 2");
}
END_TEST

START_TEST(test_kept_counts_are_served_while_a_running_worker_declares_them)
{
    setup();
    int first = worker();
    run_script(2, 3, 0.5);
    metrics_slot_release(first);
    render();
    ck_assert_ptr_null(strstr(text, "requests_total"));
    worker();
    run_script(1, 1, 1);
    render();
    ck_line("requests_total{method=\"GET\"} 3");
    ck_line("queue 1");
    ck_line("latency_seconds_count 2");
}
END_TEST

START_TEST(test_the_newest_workers_declaration_wins)
{
    setup();
    worker();
    metrics_add(
        metrics_series(declare(METRICS_COUNTER, "changed", NULL, 0), NULL, NULL, err, sizeof err),
        5);
    worker();
    metrics_set(
        metrics_series(declare(METRICS_GAUGE, "changed", NULL, 0), NULL, NULL, err, sizeof err), 2);
    render();
    ck_line("# TYPE changed gauge");
    ck_line("changed 2");
    ck_no_line("# TYPE changed counter");
}
END_TEST

START_TEST(test_label_values_are_escaped)
{
    static const char *const labels[] = {"path", "code"};
    setup();
    worker();
    int c = declare(METRICS_COUNTER, "hits_total", labels, 2);
    const char *values[] = {"/a\"b\\c\nd", "200"};
    size_t lens[] = {strlen(values[0]), 3};
    int s = metrics_series(c, values, lens, err, sizeof err);
    ck_assert_int_ge(s, 0);
    metrics_add(s, 1);
    ck_assert_int_eq(metrics_series(c, values, lens, err, sizeof err), s);
    render();
    ck_line("hits_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 1");
}
END_TEST

START_TEST(test_a_labelled_metric_unused_has_no_family)
{
    static const char *const labels[] = {"k"};
    setup();
    worker();
    declare(METRICS_COUNTER, "unused_total", labels, 1);
    render();
    ck_assert_ptr_null(strstr(text, "unused_total"));
}
END_TEST

START_TEST(test_past_the_series_limit_a_new_combination_is_an_error)
{
    static const char *const labels[] = {"k"};
    char value[16];
    setup();
    worker();
    int c = declare(METRICS_COUNTER, "many_total", labels, 1);
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(value, sizeof value, "%d", i);
        series(c, value);
    }
    const char *v = "one more";
    size_t len = strlen(v);
    ck_assert_int_eq(metrics_series(c, &v, &len, err, sizeof err), -1);
    ck_assert_str_eq(err, "metric 'many_total': too many series (at most 256 label combinations "
                          "in a worker, over all its metrics); a new combination is refused");
    v = "0"; /* an old one still works */
    len = 1;
    ck_assert_int_ge(metrics_series(c, &v, &len, err, sizeof err), 0);
}
END_TEST

START_TEST(test_past_the_metrics_limit_a_declaration_is_an_error)
{
    char name[32];
    setup();
    worker();
    for (int i = 0; i < METRICS_MAX_METRICS; i++) {
        snprintf(name, sizeof name, "m%d", i);
        declare(METRICS_GAUGE, name, NULL, 0);
    }
    struct metrics_decl d = {METRICS_GAUGE, "last", "Help.", NULL, 0, NULL, 0};
    ck_assert_int_eq(metrics_declare(&d, err, sizeof err), -1);
    ck_assert_str_eq(err, "metric 'last': too many metrics (at most 64 in a worker)");
}
END_TEST

START_TEST(test_past_the_text_limit_a_declaration_is_an_error)
{
    char *help = malloc(METRICS_MAX_TEXT);
    memset(help, 'h', METRICS_MAX_TEXT - 1);
    help[METRICS_MAX_TEXT - 1] = '\0';
    setup();
    worker();
    struct metrics_decl d = {METRICS_GAUGE, "wordy", help, NULL, 0, NULL, 0};
    ck_assert_int_eq(metrics_declare(&d, err, sizeof err), -1);
    ck_assert_str_eq(err, "metric 'wordy': out of room for text (at most 32768 bytes of names, "
                          "help texts and label values in a worker)");
    free(help);
    declare(METRICS_GAUGE, "short", NULL, 0); /* what failed took no room */
}
END_TEST

#define DECL(...) ((struct metrics_decl){__VA_ARGS__}) /* a counter unless said */

/* declaring d fails with err starting with expected. */
static void ck_refused(struct metrics_decl d, const char *expected)
{
    if (!d.help)
        d.help = "Help.";
    ck_assert_msg(metrics_declare(&d, err, sizeof err) == -1, "'%s' declared", d.name);
    ck_assert_msg(strncmp(err, expected, strlen(expected)) == 0, "'%s' is not '%s...'", err,
                  expected);
}

START_TEST(test_names_are_checked_as_prometheus_wants_them)
{
    static const char *const reserved[] = {"__name__"}, *const twice[] = {"a", "a"},
                             *const le[] = {"le"}, *const dash[] = {"a-b"};
    static const double falling[] = {1, 0.5}, nan[] = {0.0 / 0.0};
    setup();
    worker();
    declare(METRICS_HISTOGRAM, "h", NULL, 0);
    declare(METRICS_COUNTER, "c_total", NULL, 0);
    declare(METRICS_GAUGE, "d_sum", NULL, 0);
    ck_refused(DECL(.name = "a-b"), "metric name 'a-b' is not valid");
    ck_refused(DECL(.name = "1a"), "metric name '1a' is not valid");
    ck_refused(DECL(.name = ""), "metric name '' is not valid");
    ck_refused(DECL(.name = "moonwire_mine"),
               "metric 'moonwire_mine': names beginning with moonwire_ are moonwire's own");
    ck_refused(DECL(.name = "x", .labels = reserved, .nlabels = 1),
               "metric 'x': label name '__name__' is not valid");
    ck_refused(DECL(.name = "x", .labels = dash, .nlabels = 1),
               "metric 'x': label name 'a-b' is not valid");
    ck_refused(DECL(.name = "x", .labels = twice, .nlabels = 2),
               "metric 'x': label 'a' is named twice");
    ck_refused(DECL(.kind = METRICS_HISTOGRAM, .name = "x", .labels = le, .nlabels = 1,
                    .buckets = falling + 1, .nbuckets = 1),
               "metric 'x': label 'le' is the histogram's own");
    ck_refused(DECL(.kind = METRICS_HISTOGRAM, .name = "x", .buckets = falling, .nbuckets = 2),
               "metric 'x': buckets must rise (0.5 after 1)");
    ck_refused(DECL(.kind = METRICS_HISTOGRAM, .name = "x", .buckets = nan, .nbuckets = 1),
               "metric 'x': buckets are finite numbers");
    ck_refused(DECL(.kind = METRICS_HISTOGRAM, .name = "x", .buckets = falling),
               "metric 'x': a histogram has from 1 to 32 buckets");
    ck_refused(DECL(.name = "x", .help = "\xff"), "metric 'x': its help is not UTF-8");
    ck_refused(DECL(.kind = METRICS_GAUGE, .name = "c_total"),
               "metric 'c_total' is already declared");
    ck_refused(DECL(.name = "h_count"),
               "metric 'h_count' has the name of a series of histogram 'h'");
    ck_refused(DECL(.kind = METRICS_HISTOGRAM, .name = "d", .buckets = falling, .nbuckets = 1),
               "histogram 'd' would have a series named as metric 'd_sum'");
}
END_TEST

START_TEST(test_a_label_value_must_be_utf8)
{
    static const char *const labels[] = {"k"};
    setup();
    worker();
    int c = declare(METRICS_COUNTER, "bytes_total", labels, 1);
    const char *v = "\xc3(";
    size_t len = 2;
    ck_assert_int_eq(metrics_series(c, &v, &len, err, sizeof err), -1);
    ck_assert_str_eq(err, "metric 'bytes_total': label k's value is not UTF-8 without NUL");
}
END_TEST

START_TEST(test_built_in_figures_are_split_by_listener)
{
    static const char *const names[] = {"127.0.0.1:7000", "unix:/run/a\"b"};
    setup();
    metrics_set_listeners(names, 2);
    worker();
    struct metrics_figures f = {.bytes_in = 60, .accepted = 3, .handler_errors = 1};
    f.by_listener[0][METRICS_FIG_bytes_in] = 10;
    f.by_listener[1][METRICS_FIG_bytes_in] = 20;
    f.by_listener[METRICS_OUTBOUND][METRICS_FIG_bytes_in] = 30;
    f.by_listener[0][METRICS_FIG_accepted] = 3;
    metrics_publish(&f);
    worker();
    metrics_publish(&f);
    render();
    ck_line("moonwire_bytes_in_total{listener=\"127.0.0.1:7000\"} 20");
    ck_line("moonwire_bytes_in_total{listener=\"unix:/run/a\\\"b\"} 40");
    ck_line("moonwire_bytes_in_total{listener=\"outbound\"} 60");
    ck_line("moonwire_connections_accepted_total{listener=\"127.0.0.1:7000\"} 6");
    ck_line("moonwire_connections_accepted_total{listener=\"unix:/run/a\\\"b\"} 0");
    ck_no_line("moonwire_connections_accepted_total{listener=\"outbound\"} 0");
    ck_no_line("moonwire_bytes_in_total 120");
    ck_line("moonwire_handler_errors_total 2");
    metrics_set_listeners(NULL, 0);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_each_kind_is_summed_over_two_workers);
    tcase_add_test(tc, test_a_worker_gone_leaves_its_counters_and_takes_its_gauges);
    tcase_add_test(tc, test_kept_counts_are_served_while_a_running_worker_declares_them);
    tcase_add_test(tc, test_the_newest_workers_declaration_wins);
    tcase_add_test(tc, test_label_values_are_escaped);
    tcase_add_test(tc, test_a_labelled_metric_unused_has_no_family);
    tcase_add_test(tc, test_past_the_series_limit_a_new_combination_is_an_error);
    tcase_add_test(tc, test_past_the_metrics_limit_a_declaration_is_an_error);
    tcase_add_test(tc, test_past_the_text_limit_a_declaration_is_an_error);
    tcase_add_test(tc, test_names_are_checked_as_prometheus_wants_them);
    tcase_add_test(tc, test_a_label_value_must_be_utf8);
    tcase_add_test(tc, test_built_in_figures_are_split_by_listener);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(metrics_suite)
