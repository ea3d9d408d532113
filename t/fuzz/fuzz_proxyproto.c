/* libFuzzer target for src/base/proxyproto.c: any bytes either make a header
 * no longer than the input (and than the protocol allows), or ask for more
 * (only while the input is shorter than the longest header), or fail with
 * a reason; never a read past the input. */
#include "proxyproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxyproto_addr pa;
    const char *why;
    /* A copy of exactly size bytes, so ASan sees any read past them. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    long n = proxyproto_parse(buf, size, &pa, &why);
    if (n > 0 && ((size_t)n > size || n > PROXYPROTO_MAX))
        abort();
    if (n == 0 && size >= PROXYPROTO_MAX)
        abort();
    if (n < 0 && !why)
        abort();
    if (n > 0 && pa.version == 1 && n > PROXYPROTO_V1_MAX)
        abort();
    free(buf);
    return 0;
}
