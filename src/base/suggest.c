#include "config.h"

#include "suggest.h"

#include <string.h>
#include <strings.h>

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
    unsigned m = a < b ? a : b;
    return m < c ? m : c;
}

/* The optimal string alignment distance, row by row: row i holds the edits
 * from the first i bytes of a to each prefix of b; two rows back is kept
 * for a swap of neighbours. */
unsigned suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_NAME || m > SUGGEST_MAX_NAME)
        return SUGGEST_FAR;
    unsigned rows[3][SUGGEST_MAX_NAME + 1];
    for (size_t j = 0; j <= m; j++)
        rows[0][j] = (unsigned)j;
    for (size_t i = 1; i <= n; i++) {
        unsigned *row = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= m; j++) {
            unsigned change = a[i - 1] != b[j - 1];
            row[j] = min3(up[j] + 1, row[j - 1] + 1, up[j - 1] + change);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                up2[j - 2] + 1 < row[j])
                row[j] = up2[j - 2] + 1;
        }
    }
    return rows[n % 3][m];
}

const char *suggest_closest(const char *name, const char *const *known)
{
    size_t len = strlen(name);
    unsigned best = (unsigned)(len < 3 ? 3 : len) / 3 + 1;
    const char *closest = NULL;
    for (; *known; known++) {
        if (strcasecmp(name, *known) == 0)
            return *known;
        unsigned d = suggest_distance(name, *known);
        if (d < best)
            best = d, closest = *known;
    }
    return closest;
}
