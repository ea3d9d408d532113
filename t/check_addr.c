#include "config.h"

#include "addr.h"
#include "check_main.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

static struct addr a;
static char err[256];

static unsigned port_of(const struct addr *x)
{
    if (x->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&x->sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&x->sa)->sin6_port);
}

START_TEST(test_ipv4_host_and_port)
{
    ck_assert_int_eq(addr_parse("127.0.0.1:7000", &a, err, sizeof err), 0);
    ck_assert_int_eq(a.sa.ss_family, AF_INET);
    ck_assert_uint_eq(port_of(&a), 7000);
    ck_assert_str_eq(a.text, "127.0.0.1:7000");
}
END_TEST

START_TEST(test_ipv6_in_brackets)
{
    ck_assert_int_eq(addr_parse("[::1]:8080", &a, err, sizeof err), 0);
    ck_assert_int_eq(a.sa.ss_family, AF_INET6);
    ck_assert_uint_eq(port_of(&a), 8080);
}
END_TEST

START_TEST(test_unix_path)
{
    ck_assert_int_eq(addr_parse("unix:/tmp/mw.sock", &a, err, sizeof err), 0);
    ck_assert_int_eq(a.sa.ss_family, AF_UNIX);
    ck_assert_str_eq(((struct sockaddr_un *)&a.sa)->sun_path, "/tmp/mw.sock");
}
END_TEST

START_TEST(test_star_and_empty_host_mean_any)
{
    ck_assert_int_eq(addr_parse("*:0", &a, err, sizeof err), 0);
    ck_assert_int_eq(a.sa.ss_family, AF_INET);
    ck_assert_uint_eq(((struct sockaddr_in *)&a.sa)->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(addr_parse(":9", &a, err, sizeof err), 0);
    ck_assert_uint_eq(port_of(&a), 9);
}
END_TEST

/* A name is resolved as getaddrinfo resolves it: "localhost" resolves where
 * the system says it does (a bare root without /etc/hosts does not), and
 * where it does not, the error names it. */
START_TEST(test_localhost_name_resolves)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int system_resolves = getaddrinfo("localhost", "1", &hints, &res) == 0;
    if (res)
        freeaddrinfo(res);
    if (system_resolves) {
        ck_assert_int_eq(addr_parse("localhost:1", &a, err, sizeof err), 0);
        ck_assert_uint_eq(port_of(&a), 1);
    } else {
        ck_assert_int_eq(addr_parse("localhost:1", &a, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "localhost") != NULL, "error names the host: %s", err);
    }
}
END_TEST

static const char *const bad_addresses[] = {
    "127.0.0.1",      "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:-1",
    "::1:80",         "[::1]80",    "[::1",           "unix:",           "no.such.host.invalid:80",
    "1.2.3.4:123456",
};

START_TEST(test_bad_address_is_error_naming_it)
{
    const char *text = bad_addresses[_i];
    err[0] = '\0';
    ck_assert_int_eq(addr_parse(text, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, text) != NULL, "error '%s' does not name '%s'", err, text);
}
END_TEST

START_TEST(test_unix_path_too_long_is_error)
{
    char text[200] = "unix:";
    memset(text + 5, 'x', sizeof text - 6);
    text[sizeof text - 1] = '\0';
    ck_assert_int_eq(addr_parse(text, &a, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(test_format_v4_v6_unix)
{
    char buf[128];
    addr_parse("10.1.2.3:99", &a, err, sizeof err);
    ck_assert_str_eq(addr_format((struct sockaddr *)&a.sa, a.len, buf, sizeof buf), "10.1.2.3:99");
    addr_parse("[::1]:7", &a, err, sizeof err);
    ck_assert_str_eq(addr_format((struct sockaddr *)&a.sa, a.len, buf, sizeof buf), "[::1]:7");
    addr_parse("unix:/x", &a, err, sizeof err);
    ck_assert_str_eq(addr_format((struct sockaddr *)&a.sa, a.len, buf, sizeof buf), "unix:/x");
}
END_TEST

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_ipv4_host_and_port);
    tcase_add_test(tc, test_ipv6_in_brackets);
    tcase_add_test(tc, test_unix_path);
    tcase_add_test(tc, test_star_and_empty_host_mean_any);
    tcase_add_test(tc, test_localhost_name_resolves);
    tcase_add_loop_test(tc, test_bad_address_is_error_naming_it, 0,
                        sizeof bad_addresses / sizeof bad_addresses[0]);
    tcase_add_test(tc, test_unix_path_too_long_is_error);
    tcase_add_test(tc, test_format_v4_v6_unix);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(addr_suite)
