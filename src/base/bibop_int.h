/* bibop_int: what the rooms of the BiBOP allocator share, for src/base/bibop_*.c only:
 * the page header and the heap, the arena's bounds, the memory tools' hooks, and the
 * small helpers of the allocation path, inline so that the split costs no call. */
#ifndef MW_BIBOP_INT_H
#define MW_BIBOP_INT_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#define HAVE_VALGRIND_MEMCHECK_H 1
#endif
#endif

#include "bibop.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Each valgrind client request costs a dozen instructions, and an allocation
 * with its free makes five or six: they are made only when valgrind runs the
 * process (8% of the CPU time of bench/alloc/workload.lua otherwise). */
#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
extern bool bibop_under_valgrind; /* set once, when the arena is reserved */
#define VG(request)               \
    do {                          \
        if (bibop_under_valgrind) \
            request;              \
    } while (0)
#define VG_DETECT() (bibop_under_valgrind = RUNNING_ON_VALGRIND != 0)
#else
#define bibop_under_valgrind false
#define VG(request) ((void)0)
#define VG_DETECT() ((void)0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define ADDR_LIMIT ((uintptr_t)1 << 47)
#define PAGE_MASK ((uintptr_t)BIBOP_PAGE_SIZE - 1)
#define HEADER_SIZE 64
#define NCLASS_MAX 96
#define NLIST (NCLASS_MAX + BIBOP_KIND_COUNT)

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

/* The arena's address range, set once when it is reserved and read without its lock
 * (zero before: then no address is in the arena). */
struct bibop_arena_span {
    uintptr_t base, end;
};
extern struct bibop_arena_span bibop_arena_span;

/* bibop_arena.c: the process-wide arena, locked. */

/* Reserves the arena at the first call, in any thread; later calls return at once. */
void bibop_arena_start(void);
/* A page from the system (given back earlier, or fresh); NULL when the arena is full. */
struct page *bibop_arena_page_get(void);
/* Gives n retired pages back to the system; reorders pages. */
void bibop_arena_pages_put(struct page **pages, size_t n);
/* Faults in len bytes at p with one system call instead of a fault per 4 KiB. */
void bibop_populate(void *p, size_t len);

/* bibop_heap.c: the slow paths of the slot helpers below. */

/* A new page, first on the heap's list (a class, or a box kind past NCLASS_MAX) with
 * slots of the given size; NULL when the system refuses one. */
struct page *bibop_heap_page_new(struct bibop_heap *heap, unsigned list, size_t size);
/* Takes an emptied page (already off its list) into the heap's reserve. */
void bibop_heap_page_put(struct bibop_heap *heap, struct page *page);

static inline bool in_arena(const void *ptr)
{
    return (uintptr_t)ptr - bibop_arena_span.base < bibop_arena_span.end - bibop_arena_span.base;
}

static inline struct page *page_of(const void *ptr)
{
    return (struct page *)((uintptr_t)ptr & ~PAGE_MASK);
}

/* ---- slots: the free list lives in free slots, which the tools see as no-access ---- */

static inline void slot_link_set(char *slot, char *next)
{
    ASAN_UNPOISON_MEMORY_REGION(slot, sizeof next);
    VG(VALGRIND_MAKE_MEM_UNDEFINED(slot, sizeof next));
    memcpy(slot, &next, sizeof next);
    VG(VALGRIND_MAKE_MEM_NOACCESS(slot, sizeof next));
    ASAN_POISON_MEMORY_REGION(slot, sizeof next);
}

static inline char *slot_link_get(char *slot)
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
static inline void slot_mark_used(char *slot, size_t slot_size, size_t n)
{
    (void)slot_size;
    ASAN_POISON_MEMORY_REGION(slot, slot_size);
    ASAN_UNPOISON_MEMORY_REGION(slot, n);
    VG(VALGRIND_MEMPOOL_ALLOC((char *)((uintptr_t)slot & ~PAGE_MASK), slot, n));
}

static inline void slot_mark_free(char *slot, size_t slot_size)
{
    (void)slot_size;
    VG(VALGRIND_MEMPOOL_FREE((char *)((uintptr_t)slot & ~PAGE_MASK), slot));
    ASAN_POISON_MEMORY_REGION(slot, slot_size);
}

/* ---- pages and the page lists of a heap ---- */

static inline char *page_pop(struct page *page)
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

static inline void page_push(struct page *page, char *slot)
{
    slot_mark_free(slot, page->size);
    slot_link_set(slot, page->free);
    page->free = slot;
    page->nused--;
}

static inline void list_push(struct page **head, struct page *page)
{
    page->prev = NULL;
    page->next = *head;
    if (*head != NULL)
        (*head)->prev = page;
    *head = page;
}

static inline void list_unlink(struct page **head, struct page *page)
{
    if (page->prev != NULL)
        page->prev->next = page->next;
    else
        *head = page->next;
    if (page->next != NULL)
        page->next->prev = page->prev;
}

/* A slot from the first page of the list; a page that fills moves to the full list. */
static inline char *heap_slot_get(struct bibop_heap *heap, unsigned list, size_t size)
{
    struct page *page = heap->avail[list];
    if (page == NULL && (page = bibop_heap_page_new(heap, list, size)) == NULL)
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
static inline void heap_slot_put(struct bibop_heap *heap, char *slot)
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
    bibop_heap_page_put(heap, page);
}

#endif
