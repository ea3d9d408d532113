/* luaheap: the worker's one BiBOP heap, shared by its Lua state (the Lua
 * allocator, capped by --memory-limit) and the C objects Lua sees (boxes,
 * never refused by the cap). Made at first use, one per process. */
#ifndef MW_LUAHEAP_H
#define MW_LUAHEAP_H

#include <stddef.h>

struct bibop_heap;

/* The smallest --memory-limit a worker can start under. A fresh state with
 * the standard libraries and the moonwire module takes about 45 KiB, the
 * bundled kv.lua (with moonwire.resp) loads in 256 KiB; a cap below what
 * the state itself needs would fail every start (LuaJIT cannot even report
 * it cleanly under 48 KiB), so it is refused as a usage error instead. */
#define LUAHEAP_MIN_LIMIT ((size_t)256 * 1024)

/* The process's heap; NULL only when the system refuses the arena. */
struct bibop_heap *luaheap(void);
void luaheap_set_limit(size_t bytes);
size_t luaheap_in_use(void);
size_t luaheap_held(void);
/* Gives back the empty pages the heap has not needed lately (bibop_heap_decay). */
void luaheap_decay(void);

#endif
