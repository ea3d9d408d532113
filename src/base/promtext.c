#include "config.h"

#include "promtext.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int is_alpha_(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

int promtext_metric_name_ok(const char *name)
{
    if (!is_alpha_(name[0]) && name[0] != ':')
        return 0;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != ':')
            return 0;
    return 1;
}

int promtext_label_name_ok(const char *name)
{
    if (!is_alpha_(name[0]) || (name[0] == '_' && name[1] == '_'))
        return 0;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p))
            return 0;
    return 1;
}

/* The length of a UTF-8 sequence that starts with byte c, or 0 if none does. */
static size_t utf8_length(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    return c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are not. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len = utf8_length(s[0]);
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

int promtext_utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = p[i] ? utf8_sequence(p + i, len - i) : 0;
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t promtext_escape(char *out, size_t outlen, const char *s, size_t len, int label)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i], esc = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '"' && label ? '"' : 0;
        if (esc && n + 1 < outlen)
            out[n] = '\\';
        n += esc != 0;
        if (n + 1 < outlen)
            out[n] = esc ? esc : c;
        n++;
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return n;
}

void promtext_value(char out[PROMTEXT_VALUE_MAX], double v)
{
    if (isnan(v)) {
        snprintf(out, PROMTEXT_VALUE_MAX, "NaN");
    } else if (isinf(v)) {
        snprintf(out, PROMTEXT_VALUE_MAX, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* 2^53: exact */
        snprintf(out, PROMTEXT_VALUE_MAX, "%.0f", v);
    } else {
        for (int precision = 15; precision <= 17; precision++) {
            snprintf(out, PROMTEXT_VALUE_MAX, "%.*g", precision, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}
