#include "config.h"

#include "check_main.h"
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Standard error goes to a file the tests read back. */
static int capture = -1;
static char logged[16384];

static void setup(void)
{
    char path[] = "/tmp/check_log.XXXXXX";
    capture = mkstemp(path);
    ck_assert_int_ge(capture, 0);
    unlink(path);
    ck_assert_int_ge(dup2(capture, STDERR_FILENO), 0);
    log_set_level(LOG_INFO);
    log_set_format(LOG_TEXT);
    log_set_worker(-1);
}

static void teardown(void)
{
    close(capture);
}

/* What was logged since the last call, without each line's time: from the
 * level on in text ("[info] ..."), from the first member after it in json. */
static const char *line_read(void)
{
    off_t end = lseek(capture, 0, SEEK_CUR);
    ck_assert_int_lt(end, (off_t)sizeof logged);
    ssize_t n = pread(capture, logged, (size_t)end, 0);
    ck_assert_int_eq(n, end);
    logged[n] = '\0';
    ck_assert_int_eq(ftruncate(capture, 0), 0);
    lseek(capture, 0, SEEK_SET);
    char *rest = strstr(logged, "Z\",");
    if (logged[0] == '{' && rest)
        return rest + 3;
    rest = strchr(logged, ' ');
    return rest ? rest + 1 : logged;
}

static struct log_field str(const char *key, const char *value)
{
    return (struct log_field){
        .key = key, .kind = LOG_STRING, .string = value, .len = strlen(value)};
}

static struct log_field num(const char *key, double value)
{
    return (struct log_field){.key = key, .kind = LOG_NUMBER, .number = value};
}

static struct log_field flag(const char *key, int value)
{
    return (struct log_field){.key = key, .kind = LOG_BOOLEAN, .boolean = value};
}

START_TEST(test_text_fields_follow_the_message_in_the_order_of_their_keys)
{
    struct log_field f[] = {str("path", "/a"), num("ms", 12), flag("cached", 1)};
    log_set_worker(3);
    log_fields(LOG_INFO, "request", f, 3);
    ck_assert_str_eq(line_read(), "[info] worker 3: request cached=true ms=12 path=/a\n");
    log_fields(LOG_WARN, "", f, 1);
    ck_assert_str_eq(line_read(), "[warn] worker 3: path=/a\n");
    log_fields(LOG_INFO, "no fields", f, 0);
    ck_assert_str_eq(line_read(), "[info] worker 3: no fields\n");
}
END_TEST

START_TEST(test_text_values_that_would_not_read_as_one_are_quoted_and_escaped)
{
    struct log_field f[] = {str("a", "two words"),   str("b", "say \"hi\""),  str("c", "k=v"),
                            str("d", "back\\slash"), str("e", "tab\there\n"), str("f", ""),
                            str("g", "x/y:z,1")};
    log_fields(LOG_INFO, "m", f, 7);
    ck_assert_str_eq(line_read(), "[info] m a=\"two words\" b=\"say \\\"hi\\\"\" c=\"k=v\" "
                                  "d=\"back\\\\slash\" e=\"tab\\u0009here\\u000a\" f=\"\" "
                                  "g=x/y:z,1\n");
}
END_TEST

START_TEST(test_a_nul_in_a_value_is_escaped_not_an_end)
{
    struct log_field f = {.key = "bin", .kind = LOG_STRING, .string = "a\0b", .len = 3};
    log_fields(LOG_INFO, "m", &f, 1);
    ck_assert_str_eq(line_read(), "[info] m bin=\"a\\u0000b\"\n");
    log_set_format(LOG_JSON);
    log_fields(LOG_INFO, "m", &f, 1);
    ck_assert_str_eq(line_read(), "\"level\":\"info\",\"msg\":\"m\",\"bin\":\"a\\u0000b\"}\n");
}
END_TEST

START_TEST(test_json_fields_are_members_numbers_and_booleans_as_such)
{
    struct log_field f[] = {str("user", "ann \"a\"\\"), num("ms", 12.5), flag("ok", 0),
                            num("n", -3)};
    log_set_format(LOG_JSON);
    log_set_worker(0);
    log_fields(LOG_INFO, "said \"x\"", f, 4);
    ck_assert_str_eq(line_read(), "\"level\":\"info\",\"worker\":0,\"msg\":\"said \\\"x\\\"\","
                                  "\"ms\":12.5,\"n\":-3,\"ok\":false,"
                                  "\"user\":\"ann \\\"a\\\"\\\\\"}\n");
}
END_TEST

START_TEST(test_numbers_integers_whole_others_as_lua_shows_them)
{
    struct log_field f[] = {num("a", 9007199254740991.0),
                            num("b", 9007199254740992.0),
                            num("c", 0.1),
                            num("d", 1e300),
                            num("e", NAN),
                            num("f", INFINITY),
                            num("g", -INFINITY)};
    log_fields(LOG_INFO, "m", f, 7);
    ck_assert_str_eq(line_read(),
                     "[info] m a=9007199254740991 b=9.007199254741e+15 c=0.1 d=1e+300 e=nan "
                     "f=inf g=-inf\n");
    log_set_format(LOG_JSON);
    log_fields(LOG_INFO, "m", f, 7);
    ck_assert_str_eq(line_read(), "\"level\":\"info\",\"msg\":\"m\",\"a\":9007199254740991,"
                                  "\"b\":9.007199254741e+15,\"c\":0.1,\"d\":1e+300,\"e\":null,"
                                  "\"f\":null,\"g\":null}\n");
}
END_TEST

START_TEST(test_a_line_cut_to_fit_still_closes)
{
    static char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[0] = ' '; /* quoted in text too */
    struct log_field f[] = {str("a", "first"), str("b", big), str("c", "after")};
    log_set_format(LOG_JSON);
    log_fields(LOG_INFO, "m", f, 3);
    ck_assert_ptr_nonnull(strstr(line_read(), "\"a\":\"first\",\"b\":\" xxx"));
    size_t len = strlen(logged);
    ck_assert_uint_le(len, 4096);
    ck_assert_ptr_null(strstr(logged, "\"c\""));
    ck_assert_str_eq(logged + len - 4, "x\"}\n");
    log_set_format(LOG_TEXT);
    log_fields(LOG_INFO, "m", f, 3);
    ck_assert_ptr_nonnull(strstr(line_read(), "m a=first b=\" xxx"));
    len = strlen(logged);
    ck_assert_uint_le(len, 4096);
    ck_assert_ptr_null(strstr(logged, "c=after"));
    ck_assert_str_eq(logged + len - 3, "x\"\n");
}
END_TEST

START_TEST(test_more_fields_than_the_most_logs_the_first_in_key_order)
{
    struct log_field f[LOG_MAX_FIELDS + 1];
    char keys[LOG_MAX_FIELDS + 1][8];
    for (int i = 0; i <= LOG_MAX_FIELDS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%03d", i);
        f[i] = num(keys[i], i);
    }
    log_fields(LOG_INFO, "m", f, LOG_MAX_FIELDS + 1);
    const char *line = line_read();
    ck_assert_ptr_nonnull(strstr(line, " k063=63\n"));
    ck_assert_ptr_null(strstr(line, "k064"));
}
END_TEST

START_TEST(test_a_level_left_out_writes_nothing)
{
    struct log_field f = num("n", 1);
    log_fields(LOG_DEBUG, "m", &f, 1);
    ck_assert_str_eq(line_read(), "");
}
END_TEST

START_TEST(test_key_errors_say_what_is_wrong)
{
    ck_assert_ptr_null(log_field_key_error("duration_ms"));
    ck_assert_ptr_null(log_field_key_error("http.status-code2"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("msg"), "reserved"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("time"), "reserved"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("level"), "reserved"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("worker"), "reserved"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("two words"), "not a name"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("k=v"), "not a name"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error("q\""), "not a name"));
    ck_assert_ptr_nonnull(strstr(log_field_key_error(""), "empty"));
}
END_TEST

START_TEST(test_log_msg_is_as_before)
{
    log_msg(LOG_INFO, "said \"%s\"\tand\\ more", "a");
    ck_assert_str_eq(line_read(), "[info] said \"a\"\tand\\ more\n");
    log_set_format(LOG_JSON);
    log_msg(LOG_INFO, "said \"%s\"\tand\\ more", "a");
    ck_assert_str_eq(line_read(),
                     "\"level\":\"info\",\"msg\":\"said \\\"a\\\"\\u0009and\\\\ more\"}\n");
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("fields");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_text_fields_follow_the_message_in_the_order_of_their_keys);
    tcase_add_test(tc, test_text_values_that_would_not_read_as_one_are_quoted_and_escaped);
    tcase_add_test(tc, test_a_nul_in_a_value_is_escaped_not_an_end);
    tcase_add_test(tc, test_json_fields_are_members_numbers_and_booleans_as_such);
    tcase_add_test(tc, test_numbers_integers_whole_others_as_lua_shows_them);
    tcase_add_test(tc, test_a_line_cut_to_fit_still_closes);
    tcase_add_test(tc, test_more_fields_than_the_most_logs_the_first_in_key_order);
    tcase_add_test(tc, test_a_level_left_out_writes_nothing);
    tcase_add_test(tc, test_key_errors_say_what_is_wrong);
    tcase_add_test(tc, test_log_msg_is_as_before);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(log_suite)
