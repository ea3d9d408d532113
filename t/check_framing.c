#include "config.h"

#include "check_main.h"
#include "framing.h"

#include <event2/buffer.h>
#include <string.h>

static struct evbuffer *in;
static size_t scanned;
static struct framing_cut cut;

static void setup(void)
{
    in = evbuffer_new();
    scanned = 0;
}

static void teardown(void)
{
    evbuffer_free(in);
}

/* Adds text in pieces of `piece` bytes, each its own evbuffer chain. */
static void add_in_pieces(const char *text, size_t len, size_t piece)
{
    for (size_t at = 0; at < len; at += piece) {
        struct evbuffer *chunk = evbuffer_new();
        evbuffer_add(chunk, text + at, len - at < piece ? len - at : piece);
        evbuffer_add_buffer(in, chunk);
        evbuffer_free(chunk);
    }
}

static void add(const char *text)
{
    evbuffer_add(in, text, strlen(text));
}

static struct framing line(uint32_t max)
{
    return (struct framing){.kind = FRAMING_LINE, .delim_len = 1, .max_frame = max};
}

/* The next frame as a string (cut out of in), or "<need more>"/"<too large>". */
static const char *next(const struct framing *f)
{
    static char frame[256];
    enum framing_result r = framing_find(f, in, &scanned, &cut);
    if (r != FRAMING_FRAME)
        return r == FRAMING_NEED_MORE ? "<need more>" : "<too large>";
    ck_assert_uint_lt(cut.len, sizeof frame);
    evbuffer_drain(in, cut.skip);
    evbuffer_remove(in, frame, cut.len);
    evbuffer_drain(in, cut.trail);
    frame[cut.len] = '\0';
    scanned = 0;
    return frame;
}

START_TEST(test_line_strips_lf_and_crlf)
{
    struct framing f = line(100);
    add("one\ntwo\r\n\nthree");
    ck_assert_str_eq(next(&f), "one");
    ck_assert_str_eq(next(&f), "two");
    ck_assert_str_eq(next(&f), "");
    ck_assert_str_eq(next(&f), "<need more>");
    add("\n");
    ck_assert_str_eq(next(&f), "three");
}
END_TEST

START_TEST(test_line_across_chains)
{
    struct framing f = line(100);
    const char *text = "alpha\r\nbeta\ngamma\n";
    add_in_pieces(text, strlen(text), 1);
    ck_assert_str_eq(next(&f), "alpha");
    ck_assert_str_eq(next(&f), "beta");
    ck_assert_str_eq(next(&f), "gamma");
}
END_TEST

START_TEST(test_line_of_max_frame_passes_one_more_is_too_large)
{
    struct framing f = line(5);
    add("12345\n123456\n");
    ck_assert_str_eq(next(&f), "12345");
    ck_assert_str_eq(next(&f), "<too large>");
}
END_TEST

START_TEST(test_unterminated_line_past_max_frame_is_too_large)
{
    struct framing f = line(5);
    add("12345");
    ck_assert_str_eq(next(&f), "<need more>");
    add("6");
    ck_assert_str_eq(next(&f), "<need more>"); /* one byte of slack: it may be the CR of a CRLF */
    add("7");
    ck_assert_str_eq(next(&f), "<too large>");
}
END_TEST

START_TEST(test_delimiter_straddling_chains)
{
    struct framing f = {.kind = FRAMING_DELIMITER, .max_frame = 100};
    f.delim = framing_intern("\r\n\r\n", 4);
    f.delim_len = 4;
    const char *text = "head one\r\n\r\nhead two\r\n\r\n";
    add_in_pieces(text, strlen(text), 3);
    ck_assert_str_eq(next(&f), "head one");
    ck_assert_str_eq(next(&f), "head two");
    ck_assert_str_eq(next(&f), "<need more>");
}
END_TEST

START_TEST(test_delimiter_search_resumes_where_it_stopped)
{
    struct framing f = {.kind = FRAMING_DELIMITER, .max_frame = 100, .delim_len = 2};
    f.delim = framing_intern("||", 2);
    add("abc|");
    ck_assert_str_eq(next(&f), "<need more>");
    ck_assert_uint_eq(scanned, 3); /* the last byte may begin the delimiter */
    add("|def");
    ck_assert_str_eq(next(&f), "abc");
}
END_TEST

START_TEST(test_intern_shares_equal_delimiters)
{
    ck_assert_ptr_eq(framing_intern("ab", 2), framing_intern("ab", 2));
    ck_assert_ptr_ne(framing_intern("ab", 2), framing_intern("abc", 3));
}
END_TEST

START_TEST(test_fixed_length)
{
    struct framing f = {.kind = FRAMING_LENGTH, .length = 3, .max_frame = 100};
    add("abcdefg");
    ck_assert_str_eq(next(&f), "abc");
    ck_assert_str_eq(next(&f), "def");
    ck_assert_str_eq(next(&f), "<need more>");
}
END_TEST

START_TEST(test_prefix_big_and_little_endian)
{
    struct framing big = {.kind = FRAMING_PREFIX, .prefix = 2, .big_endian = 1, .max_frame = 100};
    struct framing little = {.kind = FRAMING_PREFIX, .prefix = 4, .max_frame = 100};
    evbuffer_add(in,
                 "\x00\x03"
                 "abc",
                 5);
    evbuffer_add(in,
                 "\x02\x00\x00\x00"
                 "de",
                 6);
    ck_assert_str_eq(next(&big), "abc");
    ck_assert_str_eq(next(&little), "de");
}
END_TEST

START_TEST(test_prefix_waits_for_header_and_body)
{
    struct framing f = {.kind = FRAMING_PREFIX, .prefix = 1, .big_endian = 1, .max_frame = 100};
    evbuffer_add(in, "", 0);
    ck_assert_str_eq(next(&f), "<need more>");
    evbuffer_add(in,
                 "\x04"
                 "ab",
                 3);
    ck_assert_str_eq(next(&f), "<need more>");
    evbuffer_add(in, "cd", 2);
    ck_assert_str_eq(next(&f), "abcd");
}
END_TEST

START_TEST(test_prefix_zero_length_frame)
{
    struct framing f = {.kind = FRAMING_PREFIX, .prefix = 1, .max_frame = 100};
    evbuffer_add(in, "\x00", 1);
    ck_assert_str_eq(next(&f), "");
    ck_assert_uint_eq(evbuffer_get_length(in), 0);
}
END_TEST

START_TEST(test_prefix_over_max_frame_is_too_large_at_once)
{
    struct framing f = {.kind = FRAMING_PREFIX, .prefix = 4, .big_endian = 1, .max_frame = 1000};
    evbuffer_add(in, "\x7f\xff\xff\xff", 4);
    ck_assert_str_eq(next(&f), "<too large>");
}
END_TEST

START_TEST(test_raw_takes_everything)
{
    struct framing f = {.kind = FRAMING_RAW, .max_frame = 100};
    ck_assert_str_eq(next(&f), "<need more>");
    add("any\nthing");
    ck_assert_str_eq(next(&f), "any\nthing");
}
END_TEST

START_TEST(test_raw_is_cut_at_max_frame)
{
    struct framing f = {.kind = FRAMING_RAW, .max_frame = 4};
    add("abcdefghij");
    ck_assert_str_eq(next(&f), "abcd");
    ck_assert_str_eq(next(&f), "efgh");
    ck_assert_str_eq(next(&f), "ij");
}
END_TEST

/* What framing_find leaves in `in` is a frame at EOF or it is not. */
static int tail_counts(const struct framing *f)
{
    return framing_at_eof(f, evbuffer_get_length(in));
}

START_TEST(test_last_line_without_lf_counts_at_eof)
{
    struct framing f = line(100);
    add("one\ntwo");
    ck_assert_str_eq(next(&f), "one");
    ck_assert_str_eq(next(&f), "<need more>");
    ck_assert_int_eq(tail_counts(&f), 1);
}
END_TEST

START_TEST(test_last_delimited_record_counts_at_eof)
{
    struct framing f = {.kind = FRAMING_DELIMITER, .max_frame = 100, .delim_len = 2};
    f.delim = framing_intern("||", 2);
    add("abc||de|");
    ck_assert_str_eq(next(&f), "abc");
    ck_assert_str_eq(next(&f), "<need more>");
    ck_assert_int_eq(tail_counts(&f), 1);
}
END_TEST

START_TEST(test_tail_over_max_frame_does_not_count_at_eof)
{
    struct framing f = line(5);
    add("12345");
    ck_assert_int_eq(tail_counts(&f), 1);
    add("6");
    ck_assert_str_eq(next(&f), "<need more>"); /* the slack byte of a CRLF */
    ck_assert_int_eq(tail_counts(&f), 0);
}
END_TEST

START_TEST(test_part_of_fixed_or_prefixed_frame_does_not_count_at_eof)
{
    struct framing fixed = {.kind = FRAMING_LENGTH, .length = 4, .max_frame = 100};
    struct framing prefixed = {.kind = FRAMING_PREFIX, .prefix = 1, .max_frame = 100};
    evbuffer_add(in,
                 "\x05"
                 "ab",
                 3);
    ck_assert_str_eq(next(&fixed), "<need more>");
    ck_assert_int_eq(tail_counts(&fixed), 0);
    ck_assert_str_eq(next(&prefixed), "<need more>");
    ck_assert_int_eq(tail_counts(&prefixed), 0);
}
END_TEST

START_TEST(test_nothing_left_is_no_frame_at_eof)
{
    struct framing f = line(100);
    struct framing raw = {.kind = FRAMING_RAW, .max_frame = 100};
    add("one\n");
    ck_assert_str_eq(next(&f), "one");
    ck_assert_int_eq(tail_counts(&f), 0);
    ck_assert_int_eq(tail_counts(&raw), 0);
}
END_TEST

static Suite *framing_suite(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("find");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_line_strips_lf_and_crlf);
    tcase_add_test(tc, test_line_across_chains);
    tcase_add_test(tc, test_line_of_max_frame_passes_one_more_is_too_large);
    tcase_add_test(tc, test_unterminated_line_past_max_frame_is_too_large);
    tcase_add_test(tc, test_delimiter_straddling_chains);
    tcase_add_test(tc, test_delimiter_search_resumes_where_it_stopped);
    tcase_add_test(tc, test_intern_shares_equal_delimiters);
    tcase_add_test(tc, test_fixed_length);
    tcase_add_test(tc, test_prefix_big_and_little_endian);
    tcase_add_test(tc, test_prefix_waits_for_header_and_body);
    tcase_add_test(tc, test_prefix_zero_length_frame);
    tcase_add_test(tc, test_prefix_over_max_frame_is_too_large_at_once);
    tcase_add_test(tc, test_raw_takes_everything);
    tcase_add_test(tc, test_raw_is_cut_at_max_frame);
    tcase_add_test(tc, test_last_line_without_lf_counts_at_eof);
    tcase_add_test(tc, test_last_delimited_record_counts_at_eof);
    tcase_add_test(tc, test_tail_over_max_frame_does_not_count_at_eof);
    tcase_add_test(tc, test_part_of_fixed_or_prefixed_frame_does_not_count_at_eof);
    tcase_add_test(tc, test_nothing_left_is_no_frame_at_eof);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(framing_suite)
