#include "config.h"

#include "luaheap.h"

#include <stdlib.h>

static size_t bytes_in_use;

void *luaheap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        if (ptr)
            bytes_in_use -= osize;
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        bytes_in_use += nsize - (ptr ? osize : 0);
    return p;
}

size_t luaheap_in_use(void)
{
    return bytes_in_use;
}

/* malloc does not say what it holds; in use is the best figure it gives. */
size_t luaheap_held(void)
{
    return bytes_in_use;
}
