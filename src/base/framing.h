/* framing: where the next frame ends in a connection's input buffer.
 * Raw, line (LF, a trailing CR stripped), delimiter, fixed length and
 * length-prefixed framings, found with libevent's evbuffer search. */
#ifndef MW_FRAMING_H
#define MW_FRAMING_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

enum framing_kind { FRAMING_RAW, FRAMING_LINE, FRAMING_DELIMITER, FRAMING_LENGTH, FRAMING_PREFIX };

#define FRAMING_DEFAULT_MAX_FRAME (1024 * 1024)
#define FRAMING_MAX_DELIMITER 64

struct framing {
    uint8_t kind;       /* enum framing_kind */
    uint8_t prefix;     /* FRAMING_PREFIX: 1, 2 or 4 header bytes */
    uint8_t big_endian; /* FRAMING_PREFIX: byte order of the header */
    uint8_t delim_len;  /* FRAMING_DELIMITER: bytes in delim; FRAMING_LINE: 1 */
    uint32_t length;    /* FRAMING_LENGTH: bytes per frame */
    uint32_t max_frame; /* longest frame accepted, in bytes */
    const char *delim;  /* FRAMING_DELIMITER: interned by framing_intern */
};

/* Where a frame lies: skip header bytes, len frame bytes, then trail bytes
 * (the delimiter) to drop with it. */
struct framing_cut {
    size_t skip, len, trail;
};

enum framing_result { FRAMING_NEED_MORE, FRAMING_FRAME, FRAMING_TOO_LARGE };

/* Looks for the next frame at the start of in. *scanned is how far a
 * delimiter search already looked without success (0 after a frame); it
 * keeps a frame that arrives in many pieces from being searched again and
 * again. */
enum framing_result framing_find(const struct framing *f, struct evbuffer *in, size_t *scanned,
                                 struct framing_cut *cut);
/* At the end of input, after every whole frame was cut: whether the `left`
 * bytes still buffered count as one more frame. A last line or delimited
 * record without its terminator does, if it fits max_frame; a part of a
 * fixed-size or prefixed frame does not, nor anything raw framing left. */
int framing_at_eof(const struct framing *f, size_t left);
/* A copy of a delimiter that lives as long as the process; delimiters are
 * few and shared by every connection that uses them. NULL when out of memory. */
const char *framing_intern(const char *delim, size_t len);

#endif
