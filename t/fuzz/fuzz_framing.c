/* libFuzzer target for src/base/framing.c: the first bytes choose a framing and
 * how the input is split into evbuffer chains; the rest is cut into frames.
 * Checks that every cut lies inside the buffer and respects max_frame, and that
 * what is left at the end counts as a last frame only if it fits max_frame. */
#include "framing.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct framing choose(const uint8_t *cfg)
{
    static const char *const delims[] = {"\r\n", "||", "\r\n\r\n", "x"};
    struct framing f = {.kind = cfg[0] % 5, .max_frame = 1 + cfg[1] * 4u};
    const char *d = delims[cfg[2] % 4];
    f.delim = framing_intern(d, strlen(d));
    f.delim_len = f.kind == FRAMING_LINE ? 1 : (uint8_t)strlen(d);
    f.length = 1 + cfg[2] % 64;
    if (f.length > f.max_frame) /* refused when a handler or conn:read asks for it */
        f.length = f.max_frame;
    f.prefix = (uint8_t[]){1, 2, 4}[cfg[3] % 3];
    f.big_endian = cfg[3] & 4;
    return f;
}

/* Cuts every whole frame out of in, checking each cut. */
static void cut_all(const struct framing *f, struct evbuffer *in, size_t *scanned)
{
    struct framing_cut cut;
    enum framing_result r;
    while ((r = framing_find(f, in, scanned, &cut)) == FRAMING_FRAME) {
        size_t total = cut.skip + cut.len + cut.trail;
        if (total > evbuffer_get_length(in) || cut.len > f->max_frame || total == 0)
            abort();
        if (!evbuffer_pullup(in, (ssize_t)total))
            abort();
        evbuffer_drain(in, total);
        *scanned = 0;
    }
    if (r == FRAMING_TOO_LARGE) { /* the connection fails: start afresh */
        evbuffer_drain(in, evbuffer_get_length(in));
        *scanned = 0;
    }
    if (*scanned > evbuffer_get_length(in))
        abort();
}

/* The end of input: what no whole frame took may still be one (framing_at_eof). */
static void check_eof(const struct framing *f, struct evbuffer *in)
{
    size_t left = evbuffer_get_length(in);
    if (!framing_at_eof(f, left))
        return;
    if (left == 0 || left > f->max_frame || !evbuffer_pullup(in, -1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    struct framing f = choose(data);
    size_t piece = 1 + data[4] % 32, scanned = 0;
    struct evbuffer *in = evbuffer_new();
    for (size_t at = 5; at < size; at += piece) {
        evbuffer_add(in, data + at, size - at < piece ? size - at : piece);
        cut_all(&f, in, &scanned);
    }
    check_eof(&f, in);
    evbuffer_free(in);
    return 0;
}
