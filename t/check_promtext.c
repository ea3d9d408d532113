#include "config.h"

#include "check_main.h"
#include "promtext.h"

#include <math.h>
#include <string.h>

START_TEST(test_metric_names_follow_the_data_model)
{
    const char *good[] = {"a", "_", ":", "http_requests_total", "job:rate5m", "A9_:b", "__x"};
    const char *bad[] = {"", "9a", "a-b", "a b", "a.b", "é", "a\n"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(promtext_metric_name_ok(good[i]), "refused: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!promtext_metric_name_ok(bad[i]), "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_label_names_take_no_colon_nor_a_leading_double_underscore)
{
    const char *good[] = {"a", "_", "_a", "method", "le", "A_9"};
    const char *bad[] = {"", "9", "a:b", "__", "__name__", "a-b", "a.b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(promtext_label_name_ok(good[i]), "refused: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!promtext_label_name_ok(bad[i]), "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_utf8_is_checked_strictly)
{
    ck_assert(promtext_utf8_ok("", 0));
    ck_assert(promtext_utf8_ok("plain", 5));
    const char *mixed = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    ck_assert(promtext_utf8_ok(mixed, strlen(mixed)));
    ck_assert(!promtext_utf8_ok("a\0b", 3));             /* a NUL */
    ck_assert(!promtext_utf8_ok("\xff", 1));             /* never UTF-8 */
    ck_assert(!promtext_utf8_ok("\xc3", 1));             /* cut short */
    ck_assert(!promtext_utf8_ok("\xc0\xaf", 2));         /* overlong */
    ck_assert(!promtext_utf8_ok("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!promtext_utf8_ok("\xed\xa0\x80", 3));     /* a surrogate */
    ck_assert(!promtext_utf8_ok("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}
END_TEST

START_TEST(test_label_values_escape_backslash_quote_and_newline)
{
    char out[64];
    const char *in = "a\\b\"c\nd";
    ck_assert_uint_eq(promtext_escape(out, sizeof out, in, strlen(in), 1), 10);
    ck_assert_str_eq(out, "a\\\\b\\\"c\\nd");
    ck_assert_uint_eq(promtext_escape(out, sizeof out, in, strlen(in), 0), 9);
    ck_assert_str_eq(out, "a\\\\b\"c\\nd"); /* a help text keeps its quotes */
}
END_TEST

START_TEST(test_escape_says_the_whole_length_when_cut)
{
    char out[4];
    ck_assert_uint_eq(promtext_escape(out, sizeof out, "\"\"\"", 3, 1), 6);
    ck_assert_uint_eq(strlen(out), 3);
    ck_assert_uint_eq(promtext_escape(NULL, 0, "ab", 2, 1), 2);
}
END_TEST

START_TEST(test_values_are_written_as_prometheus_reads_them)
{
    char out[PROMTEXT_VALUE_MAX];
    struct {
        double v;
        const char *text;
    } cases[] = {{0, "0"},
                 {42, "42"},
                 {-3, "-3"},
                 {0.5, "0.5"},
                 {0.1, "0.1"},
                 {1e21, "1e+21"},
                 {1.5e-7, "1.5e-07"},
                 {1.0 / 3, "0.3333333333333333"},
                 {INFINITY, "+Inf"},
                 {-INFINITY, "-Inf"},
                 {NAN, "NaN"},
                 {1e15, "1000000000000000"},
                 {9007199254740992.0, "9007199254740992"},
                 {1e16 + 2, "10000000000000002"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        promtext_value(out, cases[i].v);
        ck_assert_str_eq(out, cases[i].text);
    }
}
END_TEST

static Suite *promtext_suite(void)
{
    Suite *s = suite_create("promtext");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_metric_names_follow_the_data_model);
    tcase_add_test(tc, test_label_names_take_no_colon_nor_a_leading_double_underscore);
    tcase_add_test(tc, test_utf8_is_checked_strictly);
    tcase_add_test(tc, test_label_values_escape_backslash_quote_and_newline);
    tcase_add_test(tc, test_escape_says_the_whole_length_when_cut);
    tcase_add_test(tc, test_values_are_written_as_prometheus_reads_them);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(promtext_suite)
