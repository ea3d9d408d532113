#include "config.h"

#include "check_main.h"
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static struct proxyproto_addr pa;
static const char *why;

static long parse(const void *buf, size_t len)
{
    return proxyproto_parse(buf, len, &pa, &why);
}

static long parse_text(const char *text)
{
    return parse(text, strlen(text));
}

/* "ip:port" of an AF_INET or AF_INET6 address, for comparing. */
static const char *text_of(const struct sockaddr_storage *ss)
{
    static char buf[128];
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(buf, sizeof buf, "%s:%u", ip, ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(buf, sizeof buf, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    return buf;
}

/* Every strict prefix of a valid header asks for more. */
static void assert_prefixes_need_more(const void *buf, size_t len)
{
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(parse(buf, n) == 0, "prefix of %zu bytes: %ld (%s)", n, parse(buf, n),
                      why ? why : "");
}

/* The specification's example of a v1 header in front of an HTTP request. */
START_TEST(test_v1_spec_example_tcp4)
{
    const char *h = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    char input[256];
    snprintf(input, sizeof input, "%sGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n", h);
    ck_assert_int_eq(parse_text(input), (long)strlen(h));
    ck_assert_int_eq(pa.version, 1);
    ck_assert_int_eq(pa.local, 0);
    ck_assert_str_eq(text_of(&pa.src), "192.168.0.1:56324");
    ck_assert_str_eq(text_of(&pa.dst), "192.168.0.11:443");
    assert_prefixes_need_more(h, strlen(h));
}
END_TEST

/* The longest lines the specification lists, one per protocol. */
START_TEST(test_v1_spec_worst_cases)
{
    const char *tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    const char *tcp6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    const char *unknown = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    ck_assert_int_eq(parse_text(tcp4), 56);
    ck_assert_str_eq(text_of(&pa.src), "255.255.255.255:65535");
    ck_assert_int_eq(parse_text(tcp6), 104);
    ck_assert_str_eq(text_of(&pa.dst), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    ck_assert_int_eq(parse_text(unknown), PROXYPROTO_V1_MAX);
    ck_assert_int_eq(pa.local, 1);
}
END_TEST

START_TEST(test_v1_unknown_is_local)
{
    ck_assert_int_eq(parse_text("PROXY UNKNOWN\r\nhello"), 15);
    ck_assert_int_eq(pa.local, 1);
    ck_assert_int_eq(pa.health_check, 0); /* it may relay a client it cannot name */
}
END_TEST

START_TEST(test_v1_malformed_is_error)
{
    static const char *const bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",       /* a port missing */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81 82\r\n", /* a field too many */
        "PROXY TCP4 1.2.3.4  5.6.7.8 80 81\r\n",   /* two spaces */
        "PROXY TCP4 1.2.3.4 5.6.7.8 080 81\r\n",   /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 81\r\n", /* port out of range */
        "PROXY TCP4 ::1 ::1 80 81\r\n",            /* v6 addresses for TCP4 */
        "PROXY TCP6 1.2.3.4 5.6.7.8 80 81\r\n",    /* v4 addresses for TCP6 */
        "PROXY UDP4 1.2.3.4 5.6.7.8 80 81\r\n",    /* not a protocol of v1 */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 81\n",      /* LF without CR */
        "PROXY \r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse_text(bad[i]) == -1, "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_v1_without_crlf_in_107_bytes_is_error)
{
    char line[200];
    memset(line, 'x', sizeof line);
    memcpy(line, "PROXY TCP4 ", 11);
    ck_assert_int_eq(parse(line, 106), 0);
    ck_assert_int_eq(parse(line, 107), -1);
    ck_assert_str_eq(why, "v1 header: no CRLF within 107 bytes");
}
END_TEST

START_TEST(test_missing_header_is_error)
{
    ck_assert_int_eq(parse_text("GET / HTTP/1.0\r\n\r\n"), -1);
    ck_assert_str_eq(why, "no PROXY protocol header");
    ck_assert_int_eq(parse_text("P"), 0);
    ck_assert_int_eq(parse_text("PROXX"), -1);
    ck_assert_int_eq(parse("\r\n\r\n\0\r\nQUIX", 12), -1);
}
END_TEST

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header: signature, version/command, family, then len bytes of body. */
static size_t v2(unsigned char *out, unsigned cmd, unsigned fam, const void *body, size_t len)
{
    memcpy(out, v2_sig, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)fam;
    out[14] = (unsigned char)(len >> 8);
    out[15] = (unsigned char)len;
    memcpy(out + 16, body, len);
    return 16 + len;
}

/* TCP over IPv4, 192.168.0.1:56324 -> 192.168.0.11:443, as in the v1 example.
 */
START_TEST(test_v2_proxy_tcp4)
{
    static const unsigned char body[12] = {192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB};
    unsigned char h[64];
    size_t n = v2(h, 1, 0x11, body, sizeof body);
    ck_assert_int_eq(parse(h, n), 28);
    ck_assert_int_eq(pa.version, 2);
    ck_assert_int_eq(pa.local, 0);
    ck_assert_str_eq(text_of(&pa.src), "192.168.0.1:56324");
    ck_assert_str_eq(text_of(&pa.dst), "192.168.0.11:443");
    assert_prefixes_need_more(h, n);
}
END_TEST

/* TLVs after the addresses (HAProxy sends some) are part of the header. */
START_TEST(test_v2_proxy_tcp6_with_tlvs)
{
    unsigned char body[36 + 7] = {0};
    body[15] = 1;                     /* ::1 */
    body[16] = 0x20, body[17] = 0x01; /* 2001:: */
    body[32] = 0x30, body[33] = 0x39; /* 12345 */
    body[34] = 0x00, body[35] = 0x50; /* 80 */
    memcpy(body + 36,
           "\x04\x00\x04"
           "abcd",
           7); /* PP2_TYPE_NOOP */
    unsigned char h[128];
    size_t n = v2(h, 1, 0x21, body, sizeof body);
    ck_assert_int_eq(parse(h, n), (long)n);
    ck_assert_str_eq(text_of(&pa.src), "[::1]:12345");
    ck_assert_str_eq(text_of(&pa.dst), "[2001::]:80");
}
END_TEST

/* LOCAL: the proxy's own health check; addresses, if any, are ignored. */
START_TEST(test_v2_local_and_unspec_are_local)
{
    unsigned char h[64];
    ck_assert_int_eq(parse(h, v2(h, 0, 0x00, "", 0)), 16);
    ck_assert_int_eq(pa.local, 1);
    ck_assert_int_eq(parse(h, v2(h, 0, 0x11, "123456789012", 12)), 28);
    ck_assert_int_eq(pa.local, 1);
    ck_assert_int_eq(parse(h, v2(h, 1, 0x00, "", 0)), 16);
    ck_assert_int_eq(pa.local, 1);
}
END_TEST

/* Only LOCAL says the proxy made the connection itself: a PROXY command of
 * an unspecified family relays a client it cannot name. */
START_TEST(test_v2_local_alone_is_a_health_check)
{
    unsigned char h[64];
    ck_assert_int_eq(parse(h, v2(h, 0, 0x00, "", 0)), 16);
    ck_assert_int_eq(pa.health_check, 1);
    ck_assert_int_eq(parse(h, v2(h, 0, 0x11, "123456789012", 12)), 28);
    ck_assert_int_eq(pa.health_check, 1);
    ck_assert_int_eq(parse(h, v2(h, 1, 0x00, "", 0)), 16);
    ck_assert_int_eq(pa.health_check, 0);
    ck_assert_int_eq(parse(h, v2(h, 1, 0x11, "123456789012", 12)), 28);
    ck_assert_int_eq(pa.health_check, 0);
}
END_TEST

START_TEST(test_v2_malformed_is_error)
{
    unsigned char h[64];
    v2(h, 1, 0x11, "1234", 4); /* IPv4 needs 12 bytes */
    ck_assert_int_eq(parse(h, 20), -1);
    v2(h, 2, 0x11, "123456789012", 12); /* no command 2 */
    ck_assert_int_eq(parse(h, 28), -1);
    v2(h, 1, 0x41, "123456789012", 12); /* no family 4 */
    ck_assert_int_eq(parse(h, 28), -1);
    v2(h, 1, 0x11, "123456789012", 12);
    h[12] = 0x11; /* version 1 */
    ck_assert_int_eq(parse(h, 28), -1);
    ck_assert_str_eq(why, "v2 header: version is not 2");
}
END_TEST

static Suite *proxyproto_suite(void)
{
    Suite *s = suite_create("proxyproto");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_v1_spec_example_tcp4);
    tcase_add_test(tc, test_v1_spec_worst_cases);
    tcase_add_test(tc, test_v1_unknown_is_local);
    tcase_add_test(tc, test_v1_malformed_is_error);
    tcase_add_test(tc, test_v1_without_crlf_in_107_bytes_is_error);
    tcase_add_test(tc, test_missing_header_is_error);
    tcase_add_test(tc, test_v2_proxy_tcp4);
    tcase_add_test(tc, test_v2_proxy_tcp6_with_tlvs);
    tcase_add_test(tc, test_v2_local_and_unspec_are_local);
    tcase_add_test(tc, test_v2_local_alone_is_a_health_check);
    tcase_add_test(tc, test_v2_malformed_is_error);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(proxyproto_suite)
