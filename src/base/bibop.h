/* bibop: a big-bag-of-pages allocator for the Lua heap and the C objects Lua sees.
 * Each 32 KiB page holds one kind of object (a Lua size class, or one C type), so the
 * kind of any object is found from its address alone: no object carries a header. */
#ifndef MW_BIBOP_H
#define MW_BIBOP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Pages
 *
 * BIBOP_PAGE_SIZE is 32 KiB, and every page is aligned to it, so the page of an object
 * is its address with the low 15 bits cleared, and its kind is one load from there.
 * Why 32 KiB: a heap holds at least one partly used page of every class it touches,
 * and the long-lived objects a Lua state makes at start (library functions, names)
 * pin about forty of them; on bench/alloc/workload.lua the peak held was 13.0-14.2
 * MB with 64 KiB pages, 11.5-12.8 MB with 32 KiB and 11.0 MB with 16 KiB, against
 * 10.3 MB in use. Below 32 KiB the gain is small, while every block above a page
 * must be mapped on its own (a system call each): 32 KiB keeps LuaJIT's stacks,
 * string buffers and table parts up to 32704 bytes in pages. The 64-byte header
 * costs 0.2%.
 *
 * Pages are carved from one arena per process, reserved at first use as 64 GiB of
 * MAP_NORESERVE address space (halved until the system grants it), aligned to the
 * page size and checked to end below 2^47, as LuaJIT's GC64 mode needs. The whole
 * arena is readable, so bibop_kind_of on any address in it is safe: a page never
 * used, or given back to the system with madvise(MADV_DONTNEED), reads as zeros,
 * which is BIBOP_KIND_FREE. Each heap keeps its empty pages for reuse (the collector
 * lets the heap grow to twice its live data, so a sweep empties pages the next cycle
 * wants again), and gives back those it did not need for BIBOP_DECAY_MS: the fewest
 * it held unused at any moment of that time, beyond BIBOP_RESERVE. Giving a page
 * back costs a madvise and a TLB flush (60-70 us on the benchmark machine), and
 * taking it again a fault: giving pages back at once beyond half the pages in use
 * made 860 such calls in a run of bench/alloc/workload.lua (12% of its time), the
 * decay 135. Pages given back to the system are batched, adjacent ones in one
 * call, and their address range is reused by any heap in the process. The reserve
 * never raises the heap's peak: before a large block is mapped past the peak held,
 * as many reserve pages go back first. A heap whose objects are all freed holds
 * at most BIBOP_RESERVE pages once BIBOP_DECAY_MS has passed twice (a worker calls
 * bibop_heap_decay every second while idle). A page taken back from the system is
 * faulted in with one madvise(MADV_POPULATE_WRITE); fresh pages fault as they are
 * used until the arena has handed out 32 MiB, then 512 KiB ahead is populated at a
 * time (one system call instead of 128 faults, for a heap that grows fast; at most
 * 512 KiB of RSS ahead, and none for heaps below 32 MiB, so small heaps keep their
 * exact size).
 *
 * Size classes (bytes), from LuaJIT's own requests (bench/alloc/sizes.c on
 * bench/alloc/workload.lua and bench/alloc/echo_state.lua):
 *
 *     size   share of requests     what LuaJIT allocates there
 *       48   43% / 1%              closure with 1 upvalue, upvalue, C closure
 *       40   20% / 8%              closure with no upvalue, short strings
 *       56   19%                   closure with 2 upvalues
 *       44   -   / 68%             strings of 16-19 bytes (24 + ((len + 4) & ~3))
 *       64    5% / 9%              table (array part of up to 16 slots inside)
 *       24   -   / 7%              one hash node
 *   96, 192, 384   3%, 3%, 1%      hash parts of 4, 8, 16 nodes (24 bytes each)
 *      376    2%                   coroutine stack; grows by realloc
 *
 * Nearly every request is a multiple of 8 below 400 bytes, or a string whose size
 * is a multiple of 4. So classes are exact multiples of 8 where requests are dense,
 * then 8 classes per doubling (12.5% waste at most), then page-payload / n so large
 * slots tile a page (bibop_heap.c computes them at start from BIBOP_PAGE_SIZE; for 32 KiB
 * pages):
 *
 *     8 .. 256 step 8        (32 classes), and 28 36 44 52 60 (short strings, below)
 *     272 .. 512 step 16     (16), and 376: a coroutine's first stack, which
 *                            would waste 8 bytes in 384 on every coroutine
 *     576 .. 1024 step 64    (8)
 *     1152 .. 1920 step 128  (7)
 *     2040 2176 2336 2512 2720 2968 3264 3632 4088 4672 5448 6536 8176 10896 16352
 *     32704 = a whole page   (16: 32704 / n for n = 16 .. 1, rounded down to 8)
 *
 * Short strings: strings of 0-3, 8-11, 16-19, 24-27 and 32-35 bytes ask for 28, 36,
 * 44, 52 and 60 bytes (24 + ((len + 4) & ~3)), which an 8-byte class would round up by
 * 7-14% (48 for the 44 of a typical protocol line of 16-19 bytes: 0.9 MB of 22 on
 * bench/alloc/echo_state.lua). Every other slot of these five classes sits 4 bytes off
 * 8-byte alignment; a block is 8-byte aligned whenever its size is a multiple of 8 (it
 * then has a class of its own size or of a larger multiple of 8), and every LuaJIT
 * object but a string or a userdata or cdata with a 4 mod 8 payload has such a size.
 * Those few then hold their 8-byte header fields at a 4-byte offset, which x86-64 and
 * arm64 load and store at full speed (LuaJIT uses no atomic or aligned-vector access
 * on them); elsewhere the five classes are left out. Their payloads keep the alignment
 * their C types need: a type whose size is 4 mod 8 is aligned to 4 at most. In an ASan
 * build a 4-byte edge shared by two such slots stays addressable while either is.
 *
 * Larger requests are mapped from the system one by one (mmap, mremap to grow). On
 * free and realloc they are told apart from page objects by address (outside the
 * arena), which costs what a size test would and stays right after a shrink that
 * had to stay in place. A realloc that stays within one class does not move.
 *
 * Accounting: in_use is the sum of the sizes asked for (as Lua counts them) plus
 * the slots of live boxes; held is the bytes taken from the system: pages owned by
 * the heap (including its reserve) and large mappings. The limit caps in_use for
 * Lua allocations only: past it bibop_lua_alloc returns NULL and Lua raises "not
 * enough memory" in the code that asked. Frees and shrinks never fail. Boxes (C
 * objects) count in in_use and held but are never refused by the limit: whether to
 * accept a connection is decided by --max-conns, not by how much Lua happens to use.
 *
 * Typed boxes: connections, listeners, timers and tasks live in pages of their own
 * kind. A box's generation lives in a per-page array beside the slots, not in the
 * box: a live box gets a fresh value from a process-wide counter, a freed slot reads
 * 0, which is never handed out, so a handle to a closed object never matches the
 * slot's next tenant, even after its page went back to the system and came back as
 * another kind. One slot size per kind per heap (the first bibop_box_new sets it).
 *
 * Tools: with <valgrind/memcheck.h> (HAVE_VALGRIND_MEMCHECK_H) every object is
 * reported to memcheck as a heap block, and free slots are no-access; in an ASan
 * build (__SANITIZE_ADDRESS__) free slots and the unused tail of a slot are poisoned.
 *
 * Threads: a heap belongs to one thread; only the arena (page carving and return)
 * is locked, so heaps in different threads of one process may run side by side.
 */

#ifndef BIBOP_PAGE_SHIFT
#define BIBOP_PAGE_SHIFT 15
#endif
#define BIBOP_PAGE_SIZE ((size_t)1 << BIBOP_PAGE_SHIFT)
#define BIBOP_RESERVE 8
#define BIBOP_DECAY_MS 250
#define BIBOP_MAX_CLASS (BIBOP_PAGE_SIZE - 64)

enum bibop_kind {
    BIBOP_KIND_FREE,  /* an unused page, or an address no heap owns */
    BIBOP_KIND_SMALL, /* Lua size-class pages, the whole-page class included */
    BIBOP_KIND_LARGE, /* a Lua block mapped from the system, outside the arena */
    BIBOP_KIND_CONN,
    BIBOP_KIND_LISTENER,
    BIBOP_KIND_TIMER,
    BIBOP_KIND_TASK,
    BIBOP_KIND_COUNT
};

/* What Lua holds for a box: checked by kind and generation before every use. */
struct bibop_handle {
    void *box;
    uint32_t gen;
    int kind;
};

struct bibop_heap;

/* Heaps. limit caps Lua allocations (in_use bytes); 0 means none. */
struct bibop_heap *bibop_heap_new(size_t limit);
void bibop_heap_free(struct bibop_heap *heap);
void bibop_set_limit(struct bibop_heap *heap, size_t limit);
size_t bibop_limit(const struct bibop_heap *heap);

/* Empty pages: bibop_heap_decay gives back those the heap has not needed for
 * BIBOP_DECAY_MS (it runs whenever a page empties; call it from an idle loop too);
 * bibop_heap_trim gives back every one beyond BIBOP_RESERVE now. */
void bibop_heap_decay(struct bibop_heap *heap);
void bibop_heap_trim(struct bibop_heap *heap);

/* The lua_Alloc of a Lua state: lua_newstate(bibop_lua_alloc, heap). */
void *bibop_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Accounting, in bytes: see "Accounting" above. */
size_t bibop_in_use(const struct bibop_heap *heap);
size_t bibop_held(const struct bibop_heap *heap);
size_t bibop_peak_held(const struct bibop_heap *heap);

/* Size classes, smallest first, for tests and tools. */
unsigned bibop_class_count(void);
size_t bibop_class_size(unsigned index);

/* The kind of an object from any heap, by its address: constant time. */
int bibop_kind_of(const void *ptr);
const char *bibop_kind_name(int kind);

/* Typed boxes: size bytes (zeroed) in a page of the given kind, which is one of
 * BIBOP_KIND_CONN .. BIBOP_KIND_TASK. NULL with errno set when the system refuses a
 * page (ENOMEM) or kind or size is wrong for this heap (EINVAL). */
void *bibop_box_new(struct bibop_heap *heap, int kind, size_t size, uint32_t *generation_out);
void bibop_box_free(void *box);
uint32_t bibop_box_generation(const void *box);

/* Handles: bibop_handle_of makes one for a live box; bibop_handle_get returns the box
 * if the handle is of that kind and still current. Otherwise NULL, and why is the
 * kind name of what the handle is (for "connection expected, got timer"), or
 * "<kind> is closed" when the object is gone. */
struct bibop_handle bibop_handle_of(void *box);
void *bibop_handle_get(const struct bibop_handle *handle, int kind, const char **why);

#endif
