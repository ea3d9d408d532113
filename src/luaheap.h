/* luaheap: the allocator behind the worker's Lua state, and its accounting.
 * The system allocator, counted, until the BiBOP heap takes its place. */
#ifndef MW_LUAHEAP_H
#define MW_LUAHEAP_H

#include <stddef.h>

void *luaheap_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
size_t luaheap_in_use(void);
size_t luaheap_held(void);

#endif
