#include "config.h"

#include "luaheap.h"

#include "bibop.h"

static struct bibop_heap *heap;

struct bibop_heap *luaheap(void)
{
    if (!heap)
        heap = bibop_heap_new(0);
    return heap;
}

void luaheap_set_limit(size_t bytes)
{
    if (luaheap())
        bibop_set_limit(heap, bytes);
}

size_t luaheap_in_use(void)
{
    return heap ? bibop_in_use(heap) : 0;
}

size_t luaheap_held(void)
{
    return heap ? bibop_held(heap) : 0;
}

void luaheap_decay(void)
{
    if (heap)
        bibop_heap_decay(heap);
}
