/* promtext: the rules of the Prometheus text format (version 0.0.4) that
 * /metrics follows: which metric and label names are valid (the data model's
 * [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*, no leading __ on a
 * label), UTF-8, the escapes of help texts and label values, how a value is
 * written. Uses nothing else of moonwire. */
#ifndef MW_PROMTEXT_H
#define MW_PROMTEXT_H

#include <stddef.h>

/* Room for any value promtext_value writes, with its NUL. */
#define PROMTEXT_VALUE_MAX 32

/* 1 when name is a valid metric name, else 0. */
int promtext_metric_name_ok(const char *name);
/* 1 when name is a valid label name and not reserved (a leading __), else 0. */
int promtext_label_name_ok(const char *name);
/* 1 when the len bytes at s are valid UTF-8 with no NUL byte, else 0. */
int promtext_utf8_ok(const char *s, size_t len);
/* The len bytes of s escaped as a label value (label: \\, \" and \n) or as a
 * help text (\\ and \n), written to out as snprintf would: at most outlen - 1
 * bytes and a NUL; returns the length of the whole escaped text. */
size_t promtext_escape(char *out, size_t outlen, const char *s, size_t len, int label);
/* v as the format writes it: "+Inf", "-Inf", "NaN", a whole number without
 * a point, else the shortest %g that reads back as v. */
void promtext_value(char out[PROMTEXT_VALUE_MAX], double v);

#endif
