#define _GNU_SOURCE
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finaliser: a fast, well-mixed function of its input. */
static uint64_t msg_mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int msg_proto_parse(const char *s, enum msg_proto *p)
{
    static const char *const names[] = {"line", "raw", "resp"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *p = (enum msg_proto)i;
            return 0;
        }
    }
    return -1;
}

const char *msg_proto_name(enum msg_proto p)
{
    return p == MSG_LINE ? "line" : p == MSG_RAW ? "raw" : "resp";
}

static void msg_set_heads(struct msg_spec *m)
{
    if (m->proto != MSG_RESP) {
        m->req_len = m->rep_len = m->size;
        return;
    }
    m->req_head_len =
        (size_t)snprintf(m->req_head, sizeof m->req_head, "*2\r\n$4\r\nECHO\r\n$%zu\r\n", m->size);
    m->rep_head_len = (size_t)snprintf(m->rep_head, sizeof m->rep_head, "$%zu\r\n", m->size);
    m->req_len = m->req_head_len + m->size + 2;
    m->rep_len = m->rep_head_len + m->size + 2;
}

int msg_spec_init(struct msg_spec *m, enum msg_proto p, size_t size, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (size < (p == MSG_LINE ? 2u : 1u) || size > (16u << 20)) {
        snprintf(err, errlen, "message size %zu out of range for %s (2..16M)", size,
                 msg_proto_name(p));
        return -1;
    }
    m->proto = p;
    m->size = size;
    msg_set_heads(m);
    m->scratch = malloc(m->rep_len);
    if (m->scratch == NULL) {
        snprintf(err, errlen, "malloc %zu: out of memory", m->rep_len);
        return -1;
    }
    return 0;
}

void msg_spec_free(struct msg_spec *m)
{
    free(m->scratch);
    m->scratch = NULL;
}

/* Payload of message k: pseudo-random bytes; printable for line and RESP
 * (0x30..0x6f, never '\n' or '\r'), any byte for raw. A line ends in '\n'. */
static void msg_fill_payload(const struct msg_spec *m, uint64_t seed, uint64_t k,
                             unsigned char *out)
{
    uint64_t base = seed ^ msg_mix(k + 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < m->size; i += 8) {
        uint64_t w = msg_mix(base + i);
        size_t end = m->size - i < 8 ? m->size - i : 8;
        for (size_t j = 0; j < end; j++) {
            unsigned char b = (unsigned char)(w >> (8 * j));
            out[i + j] = m->proto == MSG_RAW ? b : (unsigned char)(0x30 + (b & 0x3f));
        }
    }
    if (m->proto == MSG_LINE)
        out[m->size - 1] = '\n';
}

void msg_fill_request(const struct msg_spec *m, uint64_t seed, uint64_t k, unsigned char *out)
{
    if (m->proto != MSG_RESP) {
        msg_fill_payload(m, seed, k, out);
        return;
    }
    memcpy(out, m->req_head, m->req_head_len);
    msg_fill_payload(m, seed, k, out + m->req_head_len);
    memcpy(out + m->req_head_len + m->size, "\r\n", 2);
}

static const unsigned char *msg_expected(struct msg_spec *m, uint64_t seed, uint64_t k)
{
    if (m->scratch_valid && m->scratch_seed == seed && m->scratch_k == k)
        return m->scratch;
    if (m->proto != MSG_RESP) {
        msg_fill_payload(m, seed, k, m->scratch);
    } else {
        memcpy(m->scratch, m->rep_head, m->rep_head_len);
        msg_fill_payload(m, seed, k, m->scratch + m->rep_head_len);
        memcpy(m->scratch + m->rep_head_len + m->size, "\r\n", 2);
    }
    m->scratch_seed = seed;
    m->scratch_k = k;
    m->scratch_valid = 1;
    return m->scratch;
}

static size_t msg_count_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (memcmp(a, b, n) == 0)
        return 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += a[i] != b[i];
    return bad;
}

size_t msg_check_reply(struct msg_spec *m, uint64_t seed, uint64_t pos, const unsigned char *in,
                       size_t n)
{
    size_t bad = 0;
    while (n > 0) {
        uint64_t k = pos / m->rep_len;
        size_t off = (size_t)(pos % m->rep_len);
        size_t take = m->rep_len - off < n ? m->rep_len - off : n;
        bad += msg_count_diff(msg_expected(m, seed, k) + off, in, take);
        pos += take;
        in += take;
        n -= take;
    }
    return bad;
}
