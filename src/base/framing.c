/* framing: cuts a connection's input into frames (raw, line, delimiter, fixed
 * length, length-prefixed), and says what of the rest still counts at end of
 * input. Knows evbuffers, not connections. */
#include "config.h"

#include "framing.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

struct interned {
    struct interned *next;
    size_t len;
    char bytes[];
};

static struct interned *interned_delimiters;

const char *framing_intern(const char *delim, size_t len)
{
    for (struct interned *i = interned_delimiters; i; i = i->next)
        if (i->len == len && memcmp(i->bytes, delim, len) == 0)
            return i->bytes;
    struct interned *i = malloc(sizeof *i + len);
    if (!i)
        return NULL;
    i->len = len;
    memcpy(i->bytes, delim, len);
    i->next = interned_delimiters;
    interned_delimiters = i;
    return i->bytes;
}

/* No delimiter in the first `have` bytes: a frame longer than max_frame can
 * no longer end in time. */
static enum framing_result not_found(const struct framing *f, size_t have, size_t *scanned)
{
    size_t keep = f->delim_len - 1u; /* a delimiter may straddle what comes next */
    *scanned = have > keep ? have - keep : 0;
    return have > (size_t)f->max_frame + f->delim_len ? FRAMING_TOO_LARGE : FRAMING_NEED_MORE;
}

static enum framing_result finish_delimited(const struct framing *f, size_t pos, size_t trail,
                                            struct framing_cut *cut)
{
    if (pos > f->max_frame)
        return FRAMING_TOO_LARGE;
    *cut = (struct framing_cut){0, pos, trail};
    return FRAMING_FRAME;
}

static enum framing_result find_line(const struct framing *f, struct evbuffer *in, size_t *scanned,
                                     struct framing_cut *cut)
{
    struct evbuffer_ptr start;
    size_t eol_len;
    evbuffer_ptr_set(in, &start, *scanned, EVBUFFER_PTR_SET);
    struct evbuffer_ptr at = evbuffer_search_eol(in, &start, &eol_len, EVBUFFER_EOL_LF);
    if (at.pos < 0)
        return not_found(f, evbuffer_get_length(in), scanned);
    size_t pos = (size_t)at.pos, trail = eol_len;
    char before;
    if (pos > 0 && evbuffer_ptr_set(in, &at, pos - 1, EVBUFFER_PTR_SET) == 0 &&
        evbuffer_copyout_from(in, &at, &before, 1) == 1 && before == '\r')
        pos--, trail++;
    return finish_delimited(f, pos, trail, cut);
}

static enum framing_result find_delimiter(const struct framing *f, struct evbuffer *in,
                                          size_t *scanned, struct framing_cut *cut)
{
    struct evbuffer_ptr start;
    evbuffer_ptr_set(in, &start, *scanned, EVBUFFER_PTR_SET);
    struct evbuffer_ptr at = evbuffer_search(in, f->delim, f->delim_len, &start);
    if (at.pos < 0)
        return not_found(f, evbuffer_get_length(in), scanned);
    return finish_delimited(f, (size_t)at.pos, f->delim_len, cut);
}

static uint32_t decode_prefix(const uint8_t *h, int n, int big_endian)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint32_t)h[big_endian ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

static enum framing_result find_prefixed(const struct framing *f, struct evbuffer *in,
                                         struct framing_cut *cut)
{
    uint8_t header[4];
    size_t have = evbuffer_get_length(in);
    if (have < f->prefix)
        return FRAMING_NEED_MORE;
    evbuffer_copyout(in, header, f->prefix);
    uint32_t len = decode_prefix(header, f->prefix, f->big_endian);
    if (len > f->max_frame)
        return FRAMING_TOO_LARGE;
    if (have - f->prefix < len)
        return FRAMING_NEED_MORE;
    *cut = (struct framing_cut){f->prefix, len, 0};
    return FRAMING_FRAME;
}

enum framing_result framing_find(const struct framing *f, struct evbuffer *in, size_t *scanned,
                                 struct framing_cut *cut)
{
    size_t have = evbuffer_get_length(in);
    switch (f->kind) {
    case FRAMING_LINE:
        return find_line(f, in, scanned, cut);
    case FRAMING_DELIMITER:
        return find_delimiter(f, in, scanned, cut);
    case FRAMING_LENGTH:
        if (have < f->length)
            return FRAMING_NEED_MORE;
        *cut = (struct framing_cut){0, f->length, 0};
        return FRAMING_FRAME;
    case FRAMING_PREFIX:
        return find_prefixed(f, in, cut);
    default: /* raw: what is buffered, in pieces of at most max_frame */
        if (have == 0)
            return FRAMING_NEED_MORE;
        *cut = (struct framing_cut){0, have < f->max_frame ? have : f->max_frame, 0};
        return FRAMING_FRAME;
    }
}

int framing_at_eof(const struct framing *f, size_t left)
{
    int delimited = f->kind == FRAMING_LINE || f->kind == FRAMING_DELIMITER;
    return left && delimited && left <= f->max_frame;
}
