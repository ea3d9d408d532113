/* luaheap: the worker's one BiBOP heap, shared by its Lua state (the Lua
 * allocator, capped by --memory-limit) and the C objects Lua sees (boxes,
 * never refused by the cap). Made at first use, one per process. */
#ifndef MW_LUAHEAP_H
#define MW_LUAHEAP_H

#include <stddef.h>

struct bibop_heap;

/* The process's heap; NULL only when the system refuses the arena. */
struct bibop_heap *luaheap(void);
void luaheap_set_limit(size_t bytes);
size_t luaheap_in_use(void);
size_t luaheap_held(void);
/* Gives back the empty pages the heap has not needed lately (bibop_heap_decay). */
void luaheap_decay(void);

#endif
