#include "config.h"

#include "check_main.h"
#include "suggest.h"

#include <string.h>

static const char *const fields[] = {"on_connect", "on_data",      "on_close", "on_drain",
                                     "on_eof",     "serve",        "framing",  "max_frame",
                                     "timeout",    "idle_timeout", NULL};

START_TEST(test_distance_counts_each_kind_of_edit_once)
{
    ck_assert_uint_eq(suggest_distance("on_data", "on_data"), 0);
    ck_assert_uint_eq(suggest_distance("on_dta", "on_data"), 1);   /* a deletion */
    ck_assert_uint_eq(suggest_distance("on_daata", "on_data"), 1); /* an insertion */
    ck_assert_uint_eq(suggest_distance("on_dafa", "on_data"), 1);  /* a change */
    ck_assert_uint_eq(suggest_distance("on_adta", "on_data"), 1);  /* two swapped */
    ck_assert_uint_eq(suggest_distance("onData", "on_data"), 2);
    ck_assert_uint_eq(suggest_distance("", "serve"), 5);
    ck_assert_uint_eq(suggest_distance("serve", ""), 5);
    ck_assert_uint_eq(suggest_distance("kitten", "sitting"), 3);
}
END_TEST

START_TEST(test_distance_is_symmetric)
{
    const char *words[] = {"on_dta", "on_data", "framming", "timout", "ca", "abc", ""};
    size_t n = sizeof words / sizeof words[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            ck_assert_uint_eq(suggest_distance(words[i], words[j]),
                              suggest_distance(words[j], words[i]));
}
END_TEST

START_TEST(test_names_past_the_limit_are_far)
{
    char longer[SUGGEST_MAX_NAME + 2];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ck_assert_uint_eq(suggest_distance(longer, "a"), SUGGEST_FAR);
    ck_assert_uint_eq(suggest_distance("a", longer), SUGGEST_FAR);
    longer[SUGGEST_MAX_NAME] = '\0';
    ck_assert_uint_eq(suggest_distance(longer, ""), SUGGEST_MAX_NAME);
    ck_assert_ptr_null(suggest_closest(longer, fields));
}
END_TEST

START_TEST(test_closest_names_the_misspelled_field)
{
    ck_assert_str_eq(suggest_closest("on_dta", fields), "on_data");
    ck_assert_str_eq(suggest_closest("onData", fields), "on_data");
    ck_assert_str_eq(suggest_closest("srve", fields), "serve");
    ck_assert_str_eq(suggest_closest("framming", fields), "framing");
    ck_assert_str_eq(suggest_closest("idletimeout", fields), "idle_timeout");
    ck_assert_str_eq(suggest_closest("on_closed", fields), "on_close");
}
END_TEST

START_TEST(test_a_difference_of_case_alone_is_close)
{
    ck_assert_str_eq(suggest_closest("ON_DATA", fields), "on_data");
    ck_assert_str_eq(suggest_closest("Serve", fields), "serve");
}
END_TEST

START_TEST(test_nothing_close_suggests_nothing)
{
    ck_assert_ptr_null(suggest_closest("name", fields));
    ck_assert_ptr_null(suggest_closest("on_message", fields));
    ck_assert_ptr_null(suggest_closest("x", fields));
    ck_assert_ptr_null(suggest_closest("", fields));
    ck_assert_ptr_null(suggest_closest("on_data", (const char *const[]){NULL}));
}
END_TEST

START_TEST(test_a_short_name_is_allowed_one_edit)
{
    static const char *const short_names[] = {"abc", "serve", NULL};
    ck_assert_str_eq(suggest_closest("abd", short_names), "abc");
    ck_assert_ptr_null(suggest_closest("xyc", short_names)); /* two edits from abc */
    ck_assert_str_eq(suggest_closest("serv", short_names), "serve");
    ck_assert_ptr_null(suggest_closest("sev", short_names));
}
END_TEST

START_TEST(test_the_closest_wins_and_the_first_of_equals)
{
    static const char *const names[] = {"on_drain", "on_data", "on_date", NULL};
    ck_assert_str_eq(suggest_closest("on_dat", names), "on_data");
    ck_assert_str_eq(suggest_closest("on_dxte", names), "on_date");
}
END_TEST

static Suite *suggest_suite(void)
{
    Suite *s = suite_create("suggest");
    TCase *tc = tcase_create("closest");
    tcase_add_test(tc, test_distance_counts_each_kind_of_edit_once);
    tcase_add_test(tc, test_distance_is_symmetric);
    tcase_add_test(tc, test_names_past_the_limit_are_far);
    tcase_add_test(tc, test_closest_names_the_misspelled_field);
    tcase_add_test(tc, test_a_difference_of_case_alone_is_close);
    tcase_add_test(tc, test_nothing_close_suggests_nothing);
    tcase_add_test(tc, test_a_short_name_is_allowed_one_edit);
    tcase_add_test(tc, test_the_closest_wins_and_the_first_of_equals);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suggest_suite)
