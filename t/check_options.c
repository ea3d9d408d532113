#include "config.h"

#include "check_main.h"
#include "log.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static struct options o;
static char err[256];

/* Parses a NULL-terminated list of arguments after "moonwire". */
#define PARSE(...)                                                                         \
    ({                                                                                     \
        char *argv[] = {"moonwire", __VA_ARGS__, NULL};                                    \
        options_parse((int)(sizeof argv / sizeof argv[0]) - 1, argv, &o, err, sizeof err); \
    })

START_TEST(test_script_alone_listens_on_default)
{
    ck_assert_int_eq(PARSE("echo.lua"), OPTIONS_RUN);
    ck_assert_str_eq(o.script, "echo.lua");
    ck_assert_int_eq(o.nlisten, 1);
    ck_assert_str_eq(o.listen[0], OPTIONS_DEFAULT_LISTEN);
    ck_assert_int_eq(o.log_level, LOG_INFO);
    ck_assert_int_eq(o.check, 0);
}
END_TEST

START_TEST(test_listen_is_repeatable_short_and_long)
{
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1", "--listen", "[::1]:2", "--listen=unix:/s", "x.lua"),
                     OPTIONS_RUN);
    ck_assert_int_eq(o.nlisten, 3);
    ck_assert_str_eq(o.listen[0], "127.0.0.1:1");
    ck_assert_str_eq(o.listen[1], "[::1]:2");
    ck_assert_str_eq(o.listen[2], "unix:/s");
}
END_TEST

START_TEST(test_check_and_log_level)
{
    ck_assert_int_eq(PARSE("--check", "--log-level", "debug", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.check, 1);
    ck_assert_int_eq(o.log_level, LOG_DEBUG);
}
END_TEST

START_TEST(test_help_and_version)
{
    ck_assert_int_eq(PARSE("-h"), OPTIONS_HELP);
    ck_assert_int_eq(PARSE("--help"), OPTIONS_HELP);
    ck_assert_int_eq(PARSE("-V"), OPTIONS_VERSION);
    ck_assert_int_eq(PARSE("--version"), OPTIONS_VERSION);
}
END_TEST

START_TEST(test_unknown_option_is_usage_error)
{
    ck_assert_int_eq(PARSE("--frobnicate", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--frobnicate"));
    ck_assert_int_eq(PARSE("-q", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "-q"));
}
END_TEST

START_TEST(test_bad_log_level_is_usage_error)
{
    ck_assert_int_eq(PARSE("--log-level", "loud", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "loud"));
}
END_TEST

START_TEST(test_log_format_text_or_json)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.log_format, LOG_TEXT);
    ck_assert_int_eq(PARSE("--log-format", "json", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.log_format, LOG_JSON);
    ck_assert_int_eq(PARSE("--log-format", "xml", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "'xml'"));
}
END_TEST

START_TEST(test_missing_value_is_usage_error)
{
    ck_assert_int_eq(PARSE("x.lua", "-l"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "needs a value"));
}
END_TEST

START_TEST(test_missing_or_extra_script_is_usage_error)
{
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "missing SCRIPT"));
    ck_assert_int_eq(PARSE("a.lua", "b.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "more than one"));
}
END_TEST

START_TEST(test_listen_with_its_own_script)
{
    const char *scripts[OPTIONS_MAX_LISTEN + 1];
    char text[256];
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1=kv.lua", "-l", "127.0.0.1:2,proxy=http.lua", "-l",
                           "127.0.0.1:3", "-l", "127.0.0.1:4=kv.lua", "echo.lua"),
                     OPTIONS_RUN);
    ck_assert_str_eq(o.listen[0], "127.0.0.1:1");
    ck_assert_str_eq(o.listen[1], "127.0.0.1:2,proxy");
    ck_assert_str_eq(options_listen_script(&o, 0), "kv.lua");
    ck_assert_str_eq(options_listen_script(&o, 1), "http.lua");
    ck_assert_str_eq(options_listen_script(&o, 2), "echo.lua");
    ck_assert_int_eq(options_scripts(&o, scripts), 3); /* each once, SCRIPT first */
    ck_assert_str_eq(scripts[0], "echo.lua");
    ck_assert_str_eq(scripts[1], "kv.lua");
    ck_assert_str_eq(scripts[2], "http.lua");
    ck_assert_str_eq(options_scripts_text(&o, text, sizeof text), "echo.lua, kv.lua, http.lua");
}
END_TEST

START_TEST(test_script_may_go_when_every_listener_names_one)
{
    const char *scripts[OPTIONS_MAX_LISTEN + 1];
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1=kv.lua", "-l", "unix:/s=http.lua"), OPTIONS_RUN);
    ck_assert_ptr_null(o.script);
    ck_assert_str_eq(o.listen[1], "unix:/s");
    ck_assert_int_eq(options_scripts(&o, scripts), 2);
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1=kv.lua", "-l", "127.0.0.1:2"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "for --listen 127.0.0.1:2, which names none"));
    ck_assert_int_eq(PARSE("-l", "127.0.0.1:1=", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "no script after '='"));
}
END_TEST

START_TEST(test_config_path_and_command_line_over_it)
{
    char *argv[] = {"moonwire", "-w", "2", "--config", "a.lua", "-c", "b.lua", NULL};
    char *argv2[] = {"moonwire", "--config=c.lua", NULL};
    char *later[] = {"moonwire", "-l", "127.0.0.1:9", "x.lua", NULL};
    int at;
    ck_assert_str_eq(options_config_path(7, argv), "b.lua"); /* the last one */
    ck_assert_str_eq(options_config_path(2, argv2), "c.lua");
    ck_assert_ptr_null(options_config_path(3, argv));
    /* What a file set, then the command line: its -l replaces the listeners. */
    options_init(&o);
    char *file[] = {"moonwire", "--listen=127.0.0.1:1=kv.lua", "--workers=3", NULL};
    ck_assert_int_eq(options_take(3, file, &o, &at, err, sizeof err), OPTIONS_RUN);
    o.listen_from_config = 1;
    ck_assert_int_eq(options_take(4, later, &o, &at, err, sizeof err), OPTIONS_RUN);
    ck_assert_int_eq(options_finish(&o, 4 - at, later[at], err, sizeof err), OPTIONS_RUN);
    ck_assert_int_eq(o.nlisten, 1);
    ck_assert_str_eq(o.listen[0], "127.0.0.1:9");
    ck_assert_str_eq(options_listen_script(&o, 0), "x.lua");
    ck_assert_int_eq(o.workers, 3);
}
END_TEST

START_TEST(test_too_many_listen_addresses)
{
    char *argv[2 * OPTIONS_MAX_LISTEN + 4] = {"moonwire"};
    int argc = 1;
    for (int i = 0; i <= OPTIONS_MAX_LISTEN; i++) {
        argv[argc++] = "-l";
        argv[argc++] = "127.0.0.1:1";
    }
    argv[argc++] = "x.lua";
    ck_assert_int_eq(options_parse(argc, argv, &o, err, sizeof err), OPTIONS_USAGE);
}
END_TEST

START_TEST(test_workers_default_number_and_auto)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.workers, 1);
    ck_assert_int_eq(PARSE("-w", "4", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.workers, 4);
    ck_assert_int_eq(PARSE("--workers=auto", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.workers, 0);
}
END_TEST

START_TEST(test_bad_workers_is_usage_error)
{
    const char *bad[] = {"0", "-1", "257", "2x", "", "many"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(PARSE("-w", (char *)bad[i], "x.lua"), OPTIONS_USAGE);
        ck_assert_ptr_nonnull(strstr(err, "invalid --workers"));
    }
}
END_TEST

START_TEST(test_shutdown_timeout_in_seconds)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert(o.shutdown_timeout == 10.0);
    ck_assert_int_eq(PARSE("--shutdown-timeout", "0.5", "x.lua"), OPTIONS_RUN);
    ck_assert(o.shutdown_timeout == 0.5);
    ck_assert_int_eq(PARSE("--shutdown-timeout", "-1", "x.lua"), OPTIONS_USAGE);
    ck_assert_int_eq(PARSE("--shutdown-timeout", "10s", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "10s"));
}
END_TEST

START_TEST(test_timeout_and_grace_in_ms_zero_is_off)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.timeout_ms, 5000);
    ck_assert_int_eq(o.grace_ms, 1000);
    ck_assert_int_eq(PARSE("-t", "250", "--grace", "0", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.timeout_ms, 250);
    ck_assert_int_eq(o.grace_ms, 0);
    ck_assert_int_eq(PARSE("--timeout", "0", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.timeout_ms, 0);
    ck_assert_int_eq(PARSE("--timeout", "5s", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--timeout '5s'"));
    ck_assert_int_eq(PARSE("--grace", "-1", "x.lua"), OPTIONS_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--grace '-1'"));
    ck_assert_int_eq(PARSE("--timeout", "86400001", "x.lua"), OPTIONS_USAGE);
}
END_TEST

START_TEST(test_pid_file_user_and_log_file)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_ptr_null(o.pid_file);
    ck_assert_ptr_null(o.user);
    ck_assert_ptr_null(o.log_file);
    ck_assert_int_eq(PARSE("--pid-file", "/run/mw.pid", "--user", "nobody", "--log-file",
                           "/var/log/mw.log", "x.lua"),
                     OPTIONS_RUN);
    ck_assert_str_eq(o.pid_file, "/run/mw.pid");
    ck_assert_str_eq(o.user, "nobody");
    ck_assert_str_eq(o.log_file, "/var/log/mw.log");
}
END_TEST

START_TEST(test_max_conns_whole_number_1_to_10_million)
{
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.max_conns, 0); /* no limit */
    ck_assert_int_eq(PARSE("--max-conns", "1", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.max_conns, 1);
    ck_assert_int_eq(PARSE("--max-conns=10000000", "x.lua"), OPTIONS_RUN);
    ck_assert_int_eq(o.max_conns, 10000000);
}
END_TEST

START_TEST(test_bad_max_conns_is_usage_error)
{
    /* Zero, negative, past the bound, past a long (overflow), a suffix
     * (sizes take one, counts do not), not a number, empty. */
    const char *bad[] = {"0", "-1", "10000001", "99999999999999999999", "1K", "5x", "abc", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[128];
        ck_assert_int_eq(PARSE("--max-conns", (char *)bad[i], "x.lua"), OPTIONS_USAGE);
        snprintf(want, sizeof want, "invalid --max-conns '%s' (expected 1 to 10000000)", bad[i]);
        ck_assert_str_eq(err, want);
        ck_assert_int_eq(o.max_conns, 0);
    }
}
END_TEST

START_TEST(test_memory_limit_bytes_or_k_m_g)
{
    static const struct {
        const char *arg;
        size_t bytes;
    } good[] = {
        {"262144", 262144},
        {"256K", 262144},
        {"512k", 524288},
        {"64M", 67108864},
        {"64m", 67108864},
        {"1G", 1073741824},
        {"2g", 2147483648u},
        {"1.5M", 1572864},
        {"0.25M", 262144}, /* the size counts, not the number before its suffix */
        {"900000G", (size_t)900000 * 1073741824},
    };
    ck_assert_int_eq(PARSE("x.lua"), OPTIONS_RUN);
    ck_assert_uint_eq(o.memory_limit, 0); /* no limit */
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(PARSE("--memory-limit", (char *)good[i].arg, "x.lua") == OPTIONS_RUN,
                      "--memory-limit %s refused: %s", good[i].arg, err);
        ck_assert_uint_eq(o.memory_limit, good[i].bytes);
    }
}
END_TEST

START_TEST(test_bad_memory_limit_is_usage_error)
{
    /* Zero, under a byte, negative, an unknown or doubled suffix, a unit
     * word, a space, no number, overflow (of a double, and past 1e15 bytes). */
    const char *bad[] = {"0",     "0K",       "0.5",         "-1", "-64M", "64MB", "10T",
                         "1KK",   "64 M",     "M",           "",   "abc",  "nan",  "inf",
                         "1e400", "1000000G", "99999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[128];
        ck_assert_msg(PARSE("--memory-limit", (char *)bad[i], "x.lua") == OPTIONS_USAGE,
                      "--memory-limit '%s' accepted", bad[i]);
        snprintf(want, sizeof want, "invalid --memory-limit '%s' (expected e.g. 64M)", bad[i]);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

START_TEST(test_memory_limit_too_small_for_a_lua_state_is_usage_error)
{
    const char *small[] = {"1", "4096", "1K", "64K", "255K", "262143", "0.2M"};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        char want[128];
        ck_assert_msg(PARSE("--memory-limit", (char *)small[i], "x.lua") == OPTIONS_USAGE,
                      "--memory-limit '%s' accepted", small[i]);
        snprintf(want, sizeof want,
                 "--memory-limit '%s' is too small: a worker's Lua state needs at least 256K",
                 small[i]);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

START_TEST(test_usage_names_every_option)
{
    const char *u = options_usage();
    const char *names[] = {"--listen",    "--check",       "--log-level",        "--version",
                           "--help",      "--workers",     "--shutdown-timeout", "--pid-file",
                           "--user",      "--log-file",    "--timeout",          "--grace",
                           "--max-conns", "--memory-limit"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_ptr_nonnull(strstr(u, names[i]));
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_script_alone_listens_on_default);
    tcase_add_test(tc, test_listen_is_repeatable_short_and_long);
    tcase_add_test(tc, test_check_and_log_level);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_unknown_option_is_usage_error);
    tcase_add_test(tc, test_bad_log_level_is_usage_error);
    tcase_add_test(tc, test_missing_value_is_usage_error);
    tcase_add_test(tc, test_missing_or_extra_script_is_usage_error);
    tcase_add_test(tc, test_listen_with_its_own_script);
    tcase_add_test(tc, test_script_may_go_when_every_listener_names_one);
    tcase_add_test(tc, test_config_path_and_command_line_over_it);
    tcase_add_test(tc, test_too_many_listen_addresses);
    tcase_add_test(tc, test_workers_default_number_and_auto);
    tcase_add_test(tc, test_bad_workers_is_usage_error);
    tcase_add_test(tc, test_shutdown_timeout_in_seconds);
    tcase_add_test(tc, test_pid_file_user_and_log_file);
    tcase_add_test(tc, test_timeout_and_grace_in_ms_zero_is_off);
    tcase_add_test(tc, test_usage_names_every_option);
    tcase_add_test(tc, test_log_format_text_or_json);
    tcase_add_test(tc, test_max_conns_whole_number_1_to_10_million);
    tcase_add_test(tc, test_bad_max_conns_is_usage_error);
    tcase_add_test(tc, test_memory_limit_bytes_or_k_m_g);
    tcase_add_test(tc, test_bad_memory_limit_is_usage_error);
    tcase_add_test(tc, test_memory_limit_too_small_for_a_lua_state_is_usage_error);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(options_suite)
