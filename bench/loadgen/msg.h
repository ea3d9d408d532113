/* msg: the bytes the load generator sends and the bytes it expects back.
 * Message k of a connection is a pure function of (protocol, seed, k), so
 * every echoed byte can be checked without keeping a copy of what was sent.
 *   msg_proto_parse  msg_spec_init  msg_spec_free  msg_fill_request  msg_check_reply */
#ifndef MW_BENCH_MSG_H
#define MW_BENCH_MSG_H

#include <stddef.h>
#include <stdint.h>

enum msg_proto { MSG_LINE, MSG_RAW, MSG_RESP };

struct msg_spec {
    enum msg_proto proto;
    size_t size;       /* payload bytes (line: including the '\n') */
    size_t req_len;    /* bytes of one request on the wire */
    size_t rep_len;    /* bytes of one expected reply on the wire */
    char req_head[48]; /* RESP framing around the payload */
    char rep_head[32];
    size_t req_head_len, rep_head_len;
    unsigned char *scratch; /* one expected reply, cached by (seed, k) */
    uint64_t scratch_seed, scratch_k;
    int scratch_valid;
};

/* Returns 0 and sets *p for "line", "raw" or "resp"; -1 otherwise. */
int msg_proto_parse(const char *s, enum msg_proto *p);
const char *msg_proto_name(enum msg_proto p);

/* Returns 0, or -1 with a reason in err when size does not suit proto. */
int msg_spec_init(struct msg_spec *m, enum msg_proto p, size_t size, char *err, size_t errlen);
void msg_spec_free(struct msg_spec *m);

/* Writes request k of the connection seeded by seed: m->req_len bytes. */
void msg_fill_request(const struct msg_spec *m, uint64_t seed, uint64_t k, unsigned char *out);

/* Compares n bytes received at offset pos of the reply stream with what
 * the server should have sent; returns how many of them differ. */
size_t msg_check_reply(struct msg_spec *m, uint64_t seed, uint64_t pos, const unsigned char *in,
                       size_t n);

#endif
