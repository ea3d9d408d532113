/* libFuzzer target for src/base/addr.c: any text given to --listen either parses
 * into an address that formats back, or fails with a message naming it. */
#include "addr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[160], err[400], back[160];
    struct addr a;
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* Names would make the fuzzer wait on DNS: numbers, bracketed v6 (never
     * looked up), and UNIX paths only. */
    int v6 = text[0] == '[', path = strncmp(text, "unix:", 5) == 0;
    if (!path && strspn(text, v6 ? "0123456789.:[]abcdefABCDEF%" : "0123456789.:*") != size)
        return 0;
    if (addr_parse(text, &a, err, sizeof err) == 0)
        addr_format((struct sockaddr *)&a.sa, a.len, back, sizeof back);
    else if (!strstr(err, "invalid address"))
        abort();
    return 0;
}
