#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#define HAVE_VALGRIND_MEMCHECK_H 1
#endif
#endif

#include "bibop.h"
#include "mstime.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Each valgrind client request costs a dozen instructions, and an allocation
 * with its free makes five or six: they are made only when valgrind runs the
 * process (8% of the CPU time of bench/alloc/workload.lua otherwise). */
#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
static bool under_valgrind;
#define VG(request)             \
    do {                        \
        if (under_valgrind)     \
            request;            \
    } while (0)
#define VG_DETECT() (under_valgrind = RUNNING_ON_VALGRIND != 0)
#else
#define under_valgrind false
#define VG(request) ((void)0)
#define VG_DETECT() ((void)0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_WANT ((size_t)64 << 30)
#define ARENA_LEAST ((size_t)256 << 20)
/* memcheck's leak check reads every readable mapping: on a 64 GiB arena it grew
 * to 24 GB and was killed (2.1 GB on a 2 GiB one). Heaps under valgrind are test-sized. */
#define ARENA_UNDER_VALGRIND ARENA_LEAST
#define ADDR_LIMIT ((uintptr_t)1 << 47)
#define PAGE_MASK ((uintptr_t)BIBOP_PAGE_SIZE - 1)
#define HEADER_SIZE 64
#define NCLASS_MAX 96
#define NLIST (NCLASS_MAX + BIBOP_KIND_COUNT)
#define SMALL_LOOKUP_MAX 1024

/* The header at the start of every page. Box pages add one generation per slot. */
struct page {
    uint8_t kind;
    uint8_t list;   /* index of the heap's list of pages with free slots */
    uint16_t first; /* offset of the first slot */
    uint32_t size;  /* slot size */
    uint32_t nslots;
    uint32_t nused;
    char *free; /* freed slots, linked through their first word */
    char *bump; /* slots never used start here */
    struct bibop_heap *heap;
    struct page *next, *prev;
    uint32_t gen[];
};

_Static_assert(sizeof(struct page) <= HEADER_SIZE, "the page header must fit its 64 bytes");

struct bibop_heap {
    size_t in_use, held, peak_held, limit;
    struct page *avail[NLIST]; /* pages with a free slot, per class or box kind */
    struct page *full;         /* pages without one, all lists together */
    struct page *reserve;      /* empty pages kept for reuse */
    size_t npages;             /* pages owned, the reserve included */
    size_t nreserve;
    size_t reserve_low; /* the fewest reserve pages since decay_at was set */
    uint64_t decay_at;  /* when reserve pages unused since then go back, in ms */
    uint32_t box_size[BIBOP_KIND_COUNT];
};

static uint32_t class_size[NCLASS_MAX];
static unsigned nclass;

static const char *const kind_names[BIBOP_KIND_COUNT] = {
    "free", "lua", "large", "connection", "listener", "timer", "task",
};

static const char *const closed_why[BIBOP_KIND_COUNT] = {
    "object is closed",   "object is closed", "object is closed", "connection is closed",
    "listener is closed", "timer is closed",  "task is closed",
};

/* The arena: one per process, shared by every heap in it. */
static struct {
    uintptr_t base, end, bump;
    uintptr_t populated; /* fresh pages below this are populated */
    uint32_t *freed; /* indexes of pages given back to the system, for reuse */
    size_t nfreed;
    pthread_mutex_t lock;
    uint8_t lookup[SMALL_LOOKUP_MAX / 4 + 1]; /* class of each size up to 1 KiB, by 4 */
} arena = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t gen_counter;

/* ---- the arena ---- */

/* Maps size bytes aligned to align, trimming the excess; NULL if refused. */
static void *map_aligned(size_t size, size_t align, int flags)
{
    char *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)raw;
    if (head > 0)
        munmap(raw, head);
    munmap((char *)start + size, align - head);
    return (void *)start;
}

/* The size classes of bibop.h: steps of 8 bytes, then 8 classes per doubling, then
 * the page payload divided by 16, 15 ... 1 so the largest slots tile a page. */
static size_t class_step(size_t size)
{
    if (size < 256)
        return 8;
    size_t top = 256;
    while (top * 2 <= size)
        top *= 2;
    return top / 16 * (size < 512 ? 1 : 2);
}

/* Off the steps, but asked for by every coroutine: its first stack. */
#define COROUTINE_STACK_CLASS 376

/* Between the steps, for short strings (see "Short strings" in bibop.h): where a CPU
 * loads 8-byte fields at a 4-byte offset at full speed. Elsewhere, none. */
#if defined(__x86_64__) || defined(__aarch64__)
#define STRING_CLASS_MIN 28
#define STRING_CLASS_MAX 60
#else
#define STRING_CLASS_MIN 1
#define STRING_CLASS_MAX 0
#endif

static void class_init(void)
{
    size_t tile = BIBOP_MAX_CLASS / 16 & ~(size_t)7;
    for (size_t size = 8; size < tile; size += class_step(size)) {
        if (size > COROUTINE_STACK_CLASS && class_size[nclass - 1] < COROUTINE_STACK_CLASS)
            class_size[nclass++] = COROUTINE_STACK_CLASS;
        class_size[nclass++] = (uint32_t)size;
        if (size + 4 >= STRING_CLASS_MIN && size + 4 <= STRING_CLASS_MAX)
            class_size[nclass++] = (uint32_t)size + 4;
    }
    for (size_t n = 16; n >= 1; n--)
        class_size[nclass++] = (uint32_t)(BIBOP_MAX_CLASS / n & ~(size_t)7);
}

static void arena_fill_lookup(void)
{
    unsigned cls = 0;
    for (unsigned i = 0; i <= SMALL_LOOKUP_MAX / 4; i++) {
        while (class_size[cls] < i * 4)
            cls++;
        arena.lookup[i] = (uint8_t)cls;
    }
}

/* Reserves the largest arena the system grants, from ARENA_WANT down. A process that
 * cannot get even ARENA_LEAST of address space cannot run a Lua heap: abort. */
static void arena_init(void)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    VG_DETECT();
    size_t size = under_valgrind ? ARENA_UNDER_VALGRIND : ARENA_WANT;
    void *base = NULL;
    for (; size >= ARENA_LEAST && base == NULL; size /= 2)
        base = map_aligned(size, BIBOP_PAGE_SIZE, flags);
    size *= 2;
    size_t nindex = size / BIBOP_PAGE_SIZE;
    arena.freed = base ? map_aligned(nindex * sizeof(uint32_t), 4096, flags) : NULL;
    if (base == NULL || arena.freed == NULL || (uintptr_t)base + size > ADDR_LIMIT) {
        fprintf(stderr, "bibop: cannot reserve the page arena: %s\n", strerror(errno));
        abort();
    }
    arena.base = arena.bump = (uintptr_t)base;
    arena.end = arena.base + size;
    class_init();
    arena_fill_lookup();
}

static bool in_arena(const void *ptr)
{
    return (uintptr_t)ptr - arena.base < arena.end - arena.base;
}

/* Faults in len bytes at p with one system call instead of a fault per 4 KiB. */
static void populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    static bool unsupported; /* before Linux 5.14 */
    if (!unsupported && madvise(p, len, MADV_POPULATE_WRITE) != 0)
        unsupported = errno == EINVAL;
#else
    (void)p, (void)len;
#endif
}

/* A page given back earlier is populated when it is taken again (4% of the CPU
 * time of bench/alloc/workload.lua went to faulting such pages back). Fresh
 * pages fault as they are used while the arena is small, so a class with few
 * objects touches only the start of its page; past POPULATE_AFTER, a heap that
 * keeps growing has the next POPULATE_AHEAD populated in one call (a burst of
 * a million pending tasks spent a third of its time in page faults). */
#define POPULATE_AFTER ((uintptr_t)32 << 20)
#define POPULATE_AHEAD ((uintptr_t)512 << 10)

/* How much fresh memory to populate ahead of bump (0: none); the caller holds
 * the arena's lock, and populates after releasing it. */
static size_t arena_ahead(uintptr_t bump)
{
    if (bump - arena.base < POPULATE_AFTER || bump < arena.populated)
        return 0;
    arena.populated = bump + POPULATE_AHEAD < arena.end ? bump + POPULATE_AHEAD : arena.end;
    return arena.populated - bump;
}

/* A page from the system: one given back earlier, or a new one from the arena. */
static struct page *arena_page_get(void)
{
    struct page *page = NULL;
    size_t populate_len = 0;
    pthread_mutex_lock(&arena.lock);
    if (arena.nfreed > 0) {
        page = (struct page *)(arena.base + arena.freed[--arena.nfreed] * BIBOP_PAGE_SIZE);
        populate_len = BIBOP_PAGE_SIZE;
    } else if (arena.bump < arena.end) {
        page = (struct page *)arena.bump;
        populate_len = arena_ahead(arena.bump);
        arena.bump += BIBOP_PAGE_SIZE;
    }
    pthread_mutex_unlock(&arena.lock);
    if (populate_len > 0)
        populate(page, populate_len);
    return page;
}

/* Gives len bytes of whole pages at start back to the system; they then read as
 * zeros, which is BIBOP_KIND_FREE. */
static void arena_discard(char *start, size_t len)
{
    ASAN_UNPOISON_MEMORY_REGION(start, len);
    VG(VALGRIND_MAKE_MEM_UNDEFINED(start, len));
    if (madvise(start, len, MADV_DONTNEED) != 0)
        for (size_t off = 0; off < len; off += BIBOP_PAGE_SIZE)
            memset(start + off, 0, HEADER_SIZE);
    VG(VALGRIND_MAKE_MEM_DEFINED(start, len));
}

static int page_address_order(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (struct page *const *)a, y = (uintptr_t) * (struct page *const *)b;
    return (x > y) - (x < y);
}

/* Gives n pages back to the system and keeps their addresses for reuse. Adjacent
 * pages go in one madvise: each call costs a TLB flush, 60 us on this machine. */
static void arena_pages_put(struct page **pages, size_t n)
{
    qsort(pages, n, sizeof *pages, page_address_order);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && (char *)pages[j] == (char *)pages[j - 1] + BIBOP_PAGE_SIZE;)
            j++;
        arena_discard((char *)pages[i], (j - i) * BIBOP_PAGE_SIZE);
    }
    pthread_mutex_lock(&arena.lock);
    for (size_t i = n; i-- > 0;) /* the lowest address is taken again first */
        arena.freed[arena.nfreed++] =
            (uint32_t)(((uintptr_t)pages[i] - arena.base) / BIBOP_PAGE_SIZE);
    pthread_mutex_unlock(&arena.lock);
}

/* ---- slots: the free list lives in free slots, which the tools see as no-access ---- */

static void slot_link_set(char *slot, char *next)
{
    ASAN_UNPOISON_MEMORY_REGION(slot, sizeof next);
    VG(VALGRIND_MAKE_MEM_UNDEFINED(slot, sizeof next));
    memcpy(slot, &next, sizeof next);
    VG(VALGRIND_MAKE_MEM_NOACCESS(slot, sizeof next));
    ASAN_POISON_MEMORY_REGION(slot, sizeof next);
}

static char *slot_link_get(char *slot)
{
    char *next;
    ASAN_UNPOISON_MEMORY_REGION(slot, sizeof next);
    VG(VALGRIND_MAKE_MEM_DEFINED(slot, sizeof next));
    memcpy(&next, slot, sizeof next);
    VG(VALGRIND_MAKE_MEM_NOACCESS(slot, sizeof next));
    ASAN_POISON_MEMORY_REGION(slot, sizeof next);
    return next;
}

/* Tells the tools that n bytes at slot are now a live block (contents undefined).
 * For memcheck each page in service is a memory pool, so that a page retired with
 * blocks still in it (a heap freed before its Lua state) takes them along. */
static void slot_mark_used(char *slot, size_t slot_size, size_t n)
{
    (void)slot_size;
    ASAN_POISON_MEMORY_REGION(slot, slot_size);
    ASAN_UNPOISON_MEMORY_REGION(slot, n);
    VG(VALGRIND_MEMPOOL_ALLOC((char *)((uintptr_t)slot & ~PAGE_MASK), slot, n));
}

static void slot_mark_free(char *slot, size_t slot_size)
{
    (void)slot_size;
    VG(VALGRIND_MEMPOOL_FREE((char *)((uintptr_t)slot & ~PAGE_MASK), slot));
    ASAN_POISON_MEMORY_REGION(slot, slot_size);
}

static void slot_mark_resize(char *slot, size_t slot_size, size_t osize, size_t nsize)
{
    (void)slot_size;
    VG(VALGRIND_MEMPOOL_CHANGE((char *)((uintptr_t)slot & ~PAGE_MASK), slot, slot, nsize));
    if (nsize > osize)
        VG(VALGRIND_MAKE_MEM_UNDEFINED(slot + osize, nsize - osize));
    else
        VG(VALGRIND_MAKE_MEM_NOACCESS(slot + nsize, osize - nsize));
    ASAN_POISON_MEMORY_REGION(slot, slot_size);
    ASAN_UNPOISON_MEMORY_REGION(slot, nsize);
}

/* ---- pages ---- */

static struct page *page_of(const void *ptr)
{
    return (struct page *)((uintptr_t)ptr & ~PAGE_MASK);
}

static void page_init(struct page *page, struct bibop_heap *heap, int kind, unsigned list,
                      size_t size, size_t first, size_t nslots)
{
    ASAN_UNPOISON_MEMORY_REGION(page, first);
    VG(VALGRIND_MAKE_MEM_UNDEFINED(page, first));
    memset(page, 0, first);
    page->kind = (uint8_t)kind;
    page->list = (uint8_t)list;
    page->first = (uint16_t)first;
    page->size = (uint32_t)size;
    page->nslots = (uint32_t)nslots;
    page->bump = (char *)page + first;
    page->heap = heap;
    VG(VALGRIND_MAKE_MEM_NOACCESS(page->bump, BIBOP_PAGE_SIZE - first));
    VG(VALGRIND_CREATE_MEMPOOL(page, 0, 0));
    ASAN_POISON_MEMORY_REGION(page->bump, BIBOP_PAGE_SIZE - first);
}

/* Takes a page out of service: any block still in it is gone. */
static void page_retire(struct page *page)
{
    if (page->kind == BIBOP_KIND_FREE)
        return;
    VG(VALGRIND_DESTROY_MEMPOOL(page));
    page->kind = BIBOP_KIND_FREE;
}

static char *page_pop(struct page *page)
{
    char *slot = page->free;
    if (slot != NULL)
        page->free = slot_link_get(slot);
    else {
        slot = page->bump;
        page->bump += page->size;
    }
    page->nused++;
    return slot;
}

static void page_push(struct page *page, char *slot)
{
    slot_mark_free(slot, page->size);
    slot_link_set(slot, page->free);
    page->free = slot;
    page->nused--;
}

static uint32_t page_slot_index(const struct page *page, const void *ptr)
{
    return (uint32_t)(((uintptr_t)ptr - (uintptr_t)page - page->first) / page->size);
}

/* ---- page lists of a heap ---- */

static void list_push(struct page **head, struct page *page)
{
    page->prev = NULL;
    page->next = *head;
    if (*head != NULL)
        (*head)->prev = page;
    *head = page;
}

static void list_unlink(struct page **head, struct page *page)
{
    if (page->prev != NULL)
        page->prev->next = page->next;
    else
        *head = page->next;
    if (page->next != NULL)
        page->next->prev = page->prev;
}

static void heap_count_held(struct bibop_heap *heap, size_t add)
{
    heap->held += add;
    if (heap->held > heap->peak_held)
        heap->peak_held = heap->held;
}

/* An empty page for the heap: from its reserve, else from the system. */
static struct page *heap_page_get(struct bibop_heap *heap)
{
    struct page *page = heap->reserve;
    if (page != NULL) {
        list_unlink(&heap->reserve, page);
        if (--heap->nreserve < heap->reserve_low)
            heap->reserve_low = heap->nreserve;
        return page;
    }
    page = arena_page_get();
    if (page != NULL) {
        heap->npages++;
        heap_count_held(heap, BIBOP_PAGE_SIZE);
    }
    return page;
}

#define RELEASE_BATCH 64

/* Gives up to n pages of a list back to the system, a batch at a time; returns how
 * many. */
static size_t heap_list_release(struct bibop_heap *heap, struct page **head, size_t n)
{
    struct page *batch[RELEASE_BATCH];
    size_t done = 0;
    while (done < n && *head != NULL) {
        size_t k = 0;
        for (; k < RELEASE_BATCH && done + k < n && *head != NULL; k++) {
            batch[k] = *head;
            list_unlink(head, batch[k]);
            page_retire(batch[k]);
        }
        arena_pages_put(batch, k);
        done += k;
    }
    heap->npages -= done;
    heap->held -= done * BIBOP_PAGE_SIZE;
    return done;
}

static void heap_reserve_release(struct bibop_heap *heap, size_t n)
{
    heap->nreserve -= heap_list_release(heap, &heap->reserve, n);
    if (heap->reserve_low > heap->nreserve)
        heap->reserve_low = heap->nreserve;
}

void bibop_heap_decay(struct bibop_heap *heap)
{
    uint64_t now = mono_ms();
    if (now < heap->decay_at)
        return;
    if (heap->reserve_low > BIBOP_RESERVE)
        heap_reserve_release(heap, heap->reserve_low - BIBOP_RESERVE);
    heap->reserve_low = heap->nreserve;
    heap->decay_at = now + BIBOP_DECAY_MS;
}

void bibop_heap_trim(struct bibop_heap *heap)
{
    if (heap->nreserve > BIBOP_RESERVE)
        heap_reserve_release(heap, heap->nreserve - BIBOP_RESERVE);
}

/* Keeps an empty page for reuse; what the heap has not needed for a while goes back. */
static void heap_page_put(struct bibop_heap *heap, struct page *page)
{
    page_retire(page);
    list_push(&heap->reserve, page);
    heap->nreserve++;
    bibop_heap_decay(heap);
}

/* Before len bytes are mapped for a large block, reserve pages go back so that the
 * heap's peak grows only by what its reserve cannot cover: the reserve never adds to
 * the peak. Below the peak they stay, for the next collection cycle. */
static void heap_reserve_yield(struct bibop_heap *heap, size_t len)
{
    size_t past_peak = heap->held + len > heap->peak_held ? heap->held + len - heap->peak_held : 0;
    size_t n = (past_peak + BIBOP_PAGE_SIZE - 1) / BIBOP_PAGE_SIZE;
    heap_reserve_release(heap, n < heap->nreserve ? n : heap->nreserve);
}

/* A new page for list (a class, or a box kind past NCLASS_MAX) of the given slot size. */
static struct page *heap_page_new(struct bibop_heap *heap, unsigned list, size_t size)
{
    struct page *page = heap_page_get(heap);
    if (page == NULL)
        return NULL;
    if (list < NCLASS_MAX) {
        page_init(page, heap, BIBOP_KIND_SMALL, list, size, HEADER_SIZE,
                  (BIBOP_PAGE_SIZE - HEADER_SIZE) / size);
    } else {
        size_t nslots = (BIBOP_PAGE_SIZE - HEADER_SIZE - 15) / (size + sizeof(uint32_t));
        size_t first = (HEADER_SIZE + nslots * sizeof(uint32_t) + 15) & ~(size_t)15;
        page_init(page, heap, (int)(list - NCLASS_MAX), list, size, first, nslots);
    }
    list_push(&heap->avail[list], page);
    return page;
}

/* A slot from the first page of the list; a page that fills moves to the full list. */
static char *heap_slot_get(struct bibop_heap *heap, unsigned list, size_t size)
{
    struct page *page = heap->avail[list];
    if (page == NULL && (page = heap_page_new(heap, list, size)) == NULL)
        return NULL;
    char *slot = page_pop(page);
    if (page->nused == page->nslots) {
        list_unlink(&heap->avail[list], page);
        list_push(&heap->full, page);
    }
    return slot;
}

/* Returns a slot to its page. A page that empties is retired at once, even the last
 * of its class: the reserve makes taking it back cheap, and keeping one empty page
 * per class touched cost 0.5 MB of peak on bench/alloc/workload.lua. */
static void heap_slot_put(struct bibop_heap *heap, char *slot)
{
    struct page *page = page_of(slot);
    assert(page->heap == heap);
    if (page->nused == page->nslots) {
        list_unlink(&heap->full, page);
        list_push(&heap->avail[page->list], page);
    }
    page_push(page, slot);
    if (page->nused > 0)
        return;
    list_unlink(&heap->avail[page->list], page);
    heap_page_put(heap, page);
}

/* ---- heaps ---- */

struct bibop_heap *bibop_heap_new(size_t limit)
{
    pthread_once(&arena_once, arena_init);
    struct bibop_heap *heap = calloc(1, sizeof *heap);
    if (heap != NULL)
        heap->limit = limit;
    return heap;
}

/* Gives every page back. Large blocks still live (a Lua state not closed) are not
 * tracked and are lost: close the state first. */
void bibop_heap_free(struct bibop_heap *heap)
{
    if (heap == NULL)
        return;
    for (unsigned i = 0; i < NLIST; i++)
        heap_list_release(heap, &heap->avail[i], SIZE_MAX);
    heap_list_release(heap, &heap->full, SIZE_MAX);
    heap_list_release(heap, &heap->reserve, SIZE_MAX);
    free(heap);
}

void bibop_set_limit(struct bibop_heap *heap, size_t limit)
{
    heap->limit = limit;
}

size_t bibop_limit(const struct bibop_heap *heap)
{
    return heap->limit;
}

size_t bibop_in_use(const struct bibop_heap *heap)
{
    return heap->in_use;
}

size_t bibop_held(const struct bibop_heap *heap)
{
    return heap->held;
}

size_t bibop_peak_held(const struct bibop_heap *heap)
{
    return heap->peak_held;
}

unsigned bibop_class_count(void)
{
    return nclass;
}

size_t bibop_class_size(unsigned index)
{
    return index < nclass ? class_size[index] : 0;
}

/* ---- the Lua heap ---- */

static unsigned class_of(size_t size)
{
    if (size <= SMALL_LOOKUP_MAX)
        return arena.lookup[(size + 3) / 4];
    unsigned lo = arena.lookup[SMALL_LOOKUP_MAX / 4], hi = nclass - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (class_size[mid] < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t large_round(size_t size)
{
    return (size + 4095) & ~(size_t)4095;
}

/* A block larger than any class, mapped on its own; NULL if refused or mapped too high
 * for GC64. */
static void *large_new(struct bibop_heap *heap, size_t size)
{
    size_t len = large_round(size);
    /* Populated at once: Lua fills what it asks for (a table part with nils, a
     * string with its bytes) right away, and a fault per 4 KiB costs more. */
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
    heap_reserve_yield(heap, len);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if ((uintptr_t)p + len > ADDR_LIMIT) {
        munmap(p, len);
        return NULL;
    }
    heap_count_held(heap, len);
    VG(VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 1));
    return p;
}

static void large_free(struct bibop_heap *heap, void *ptr, size_t size)
{
    VG(VALGRIND_FREELIKE_BLOCK(ptr, 0));
    munmap(ptr, large_round(size));
    heap->held -= large_round(size);
}

/* Grows or shrinks a large block with mremap, which moves pages instead of bytes.
 * Under valgrind the caller copies instead, so memcheck keeps the contents' state. */
static void *large_resize(struct bibop_heap *heap, void *ptr, size_t osize, size_t nsize)
{
    size_t olen = large_round(osize), nlen = large_round(nsize);
    int flags = nlen > olen ? MREMAP_MAYMOVE : 0;
    if (nlen > olen)
        heap_reserve_yield(heap, nlen - olen);
    void *p = mremap(ptr, olen, nlen, flags);
    if (p == MAP_FAILED)
        return NULL;
    if ((uintptr_t)p + nlen > ADDR_LIMIT) {
        void *back = mremap(p, nlen, olen, MREMAP_MAYMOVE | MREMAP_FIXED, ptr);
        assert(back == ptr);
        (void)back;
        return NULL;
    }
    heap->held -= olen;
    heap_count_held(heap, nlen);
    if (nlen > olen)
        populate((char *)p + olen, nlen - olen);
    return p;
}

static void *lua_new(struct bibop_heap *heap, size_t size)
{
    if (size > BIBOP_MAX_CLASS)
        return large_new(heap, size);
    unsigned cls = class_of(size);
    char *slot = heap_slot_get(heap, cls, class_size[cls]);
    if (slot != NULL)
        slot_mark_used(slot, class_size[cls], size);
    return slot;
}

static void lua_free(struct bibop_heap *heap, void *ptr, size_t size)
{
    if (in_arena(ptr))
        heap_slot_put(heap, ptr);
    else
        large_free(heap, ptr, size);
}

/* Resizes without moving when the block may stay where it is: same class, a large
 * block resized by mremap, or a shrink that found no room in a smaller class. */
static void *lua_resize_in_place(struct bibop_heap *heap, void *ptr, size_t osize, size_t nsize)
{
    if (!in_arena(ptr)) {
        bool remap = nsize > BIBOP_MAX_CLASS && !under_valgrind;
        return remap ? large_resize(heap, ptr, osize, nsize) : NULL;
    }
    struct page *page = page_of(ptr);
    if (nsize > BIBOP_MAX_CLASS || class_of(nsize) != page->list)
        return NULL;
    slot_mark_resize(ptr, page->size, osize, nsize);
    return ptr;
}

static void *lua_move(struct bibop_heap *heap, void *ptr, size_t osize, size_t nsize)
{
    void *p = lua_new(heap, nsize);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, osize < nsize ? osize : nsize);
    lua_free(heap, ptr, osize);
    return p;
}

/* A shrink must not fail: when no smaller block can be had, the block stays where it
 * is (a large one trimmed by mremap, which never fails nor moves when shrinking). */
static void *lua_shrink_in_place(struct bibop_heap *heap, void *ptr, size_t osize, size_t nsize)
{
    if (!in_arena(ptr))
        return large_resize(heap, ptr, osize, nsize);
    slot_mark_resize(ptr, page_of(ptr)->size, osize, nsize);
    return ptr;
}

static void *lua_resize(struct bibop_heap *heap, void *ptr, size_t osize, size_t nsize)
{
    void *p = lua_resize_in_place(heap, ptr, osize, nsize);
    if (p == NULL)
        p = lua_move(heap, ptr, osize, nsize);
    if (p == NULL && nsize <= osize)
        p = lua_shrink_in_place(heap, ptr, osize, nsize);
    return p;
}

static bool lua_over_limit(const struct bibop_heap *heap, size_t osize, size_t nsize)
{
    return heap->limit != 0 && nsize > osize && heap->in_use + (nsize - osize) > heap->limit;
}

void *bibop_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct bibop_heap *heap = ud;
    if (ptr == NULL)
        osize = 0;
    if (nsize == 0) {
        if (ptr != NULL)
            lua_free(heap, ptr, osize);
        heap->in_use -= osize;
        return NULL;
    }
    if (lua_over_limit(heap, osize, nsize))
        return NULL;
    void *p = ptr == NULL ? lua_new(heap, nsize) : lua_resize(heap, ptr, osize, nsize);
    if (p != NULL)
        heap->in_use = heap->in_use - osize + nsize;
    assert((uintptr_t)p < ADDR_LIMIT);
    return p;
}

/* ---- kinds ---- */

int bibop_kind_of(const void *ptr)
{
    if (!in_arena(ptr))
        return ptr == NULL ? BIBOP_KIND_FREE : BIBOP_KIND_LARGE;
    return page_of(ptr)->kind;
}

const char *bibop_kind_name(int kind)
{
    if (kind < 0 || kind >= BIBOP_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

/* ---- typed boxes ---- */

static bool box_kind_valid(int kind)
{
    return kind >= BIBOP_KIND_CONN && kind < BIBOP_KIND_COUNT;
}

/* Fixes the slot size of a kind at its first box: 8-byte aligned (boxes hold
 * pointers and integers, nothing wider), and small enough that a page holds at
 * least one. */
static size_t box_size_for(struct bibop_heap *heap, int kind, size_t size)
{
    size_t rounded = (size + 7) & ~(size_t)7;
    if (rounded == 0 || rounded > BIBOP_PAGE_SIZE / 4)
        return 0;
    if (heap->box_size[kind] == 0)
        heap->box_size[kind] = (uint32_t)rounded;
    return heap->box_size[kind] == rounded ? rounded : 0;
}

/* A generation never handed out before in this process (0 means "free"). */
static uint32_t gen_next(void)
{
    uint32_t gen;
    do
        gen = atomic_fetch_add_explicit(&gen_counter, 1, memory_order_relaxed) + 1;
    while (gen == 0);
    return gen;
}

void *bibop_box_new(struct bibop_heap *heap, int kind, size_t size, uint32_t *generation_out)
{
    size_t slot_size = box_kind_valid(kind) ? box_size_for(heap, kind, size) : 0;
    if (slot_size == 0) {
        errno = EINVAL;
        return NULL;
    }
    char *box = heap_slot_get(heap, NCLASS_MAX + (unsigned)kind, slot_size);
    if (box == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    struct page *page = page_of(box);
    uint32_t gen = page->gen[page_slot_index(page, box)] = gen_next();
    slot_mark_used(box, slot_size, size);
    memset(box, 0, size);
    heap->in_use += slot_size;
    if (generation_out != NULL)
        *generation_out = gen;
    return box;
}

void bibop_box_free(void *box)
{
    if (box == NULL)
        return;
    struct page *page = page_of(box);
    assert(box_kind_valid(page->kind));
    page->gen[page_slot_index(page, box)] = 0;
    page->heap->in_use -= page->size;
    heap_slot_put(page->heap, box);
}

uint32_t bibop_box_generation(const void *box)
{
    const struct page *page = page_of(box);
    if (!in_arena(box) || !box_kind_valid(page->kind))
        return 0;
    return page->gen[page_slot_index(page, box)];
}

struct bibop_handle bibop_handle_of(void *box)
{
    struct bibop_handle handle = {box, bibop_box_generation(box), bibop_kind_of(box)};
    return handle;
}

/* True if box is exactly at a slot of its page, so its generation can be read. */
static bool box_at_slot(const struct page *page, const void *box)
{
    uintptr_t off = (uintptr_t)box - (uintptr_t)page;
    return off >= page->first && (off - page->first) % page->size == 0 &&
           (off - page->first) / page->size < page->nslots;
}

void *bibop_handle_get(const struct bibop_handle *handle, int kind, const char **why)
{
    if (handle->kind != kind) {
        *why = bibop_kind_name(handle->kind);
        return NULL;
    }
    const struct page *page = page_of(handle->box);
    bool live = handle->box != NULL && in_arena(handle->box) && page->kind == kind &&
                box_at_slot(page, handle->box) && handle->gen != 0 &&
                page->gen[page_slot_index(page, handle->box)] == handle->gen;
    if (!live)
        *why = box_kind_valid(kind) ? closed_why[kind] : "object is closed";
    return live ? handle->box : NULL;
}
