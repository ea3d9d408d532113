/* bibop_arena: the one page arena of the process, shared by every heap in it: the
 * address space reserved below 2^47 at first use, and under its lock the supply of
 * pages to heaps and their return to the system (see "Pages" in bibop.h). */
#include "bibop_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_WANT ((size_t)64 << 30)
#define ARENA_LEAST ((size_t)256 << 20)
/* memcheck's leak check reads every readable mapping: on a 64 GiB arena it grew
 * to 24 GB and was killed (2.1 GB on a 2 GiB one). Heaps under valgrind are test-sized. */
#define ARENA_UNDER_VALGRIND ARENA_LEAST

#ifdef HAVE_VALGRIND_MEMCHECK_H
bool bibop_under_valgrind;
#endif

struct bibop_arena_span bibop_arena_span;

/* The arena: one per process, shared by every heap in it; its range is
 * bibop_arena_span. */
static struct {
    uintptr_t bump;
    uintptr_t populated; /* fresh pages below this are populated */
    uint32_t *freed;     /* indexes of pages given back to the system, for reuse */
    size_t nfreed;
    pthread_mutex_t lock;
} arena = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

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

/* Reserves the largest arena the system grants, from ARENA_WANT down. A process that
 * cannot get even ARENA_LEAST of address space cannot run a Lua heap: abort. */
static void arena_init(void)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    VG_DETECT();
    size_t size = bibop_under_valgrind ? ARENA_UNDER_VALGRIND : ARENA_WANT;
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
    bibop_arena_span.base = arena.bump = (uintptr_t)base;
    bibop_arena_span.end = bibop_arena_span.base + size;
}

void bibop_arena_start(void)
{
    pthread_once(&arena_once, arena_init);
}

/* Faults in len bytes at p with one system call instead of a fault per 4 KiB. */
void bibop_populate(void *p, size_t len)
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
    uintptr_t end = bibop_arena_span.end;
    if (bump - bibop_arena_span.base < POPULATE_AFTER || bump < arena.populated)
        return 0;
    arena.populated = bump + POPULATE_AHEAD < end ? bump + POPULATE_AHEAD : end;
    return arena.populated - bump;
}

/* A page from the system: one given back earlier, or a new one from the arena. */
struct page *bibop_arena_page_get(void)
{
    struct page *page = NULL;
    size_t populate_len = 0;
    uintptr_t base = bibop_arena_span.base;
    pthread_mutex_lock(&arena.lock);
    if (arena.nfreed > 0) {
        page = (struct page *)(base + arena.freed[--arena.nfreed] * BIBOP_PAGE_SIZE);
        populate_len = BIBOP_PAGE_SIZE;
    } else if (arena.bump < bibop_arena_span.end) {
        page = (struct page *)arena.bump;
        populate_len = arena_ahead(arena.bump);
        arena.bump += BIBOP_PAGE_SIZE;
    }
    pthread_mutex_unlock(&arena.lock);
    if (populate_len > 0)
        bibop_populate(page, populate_len);
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
void bibop_arena_pages_put(struct page **pages, size_t n)
{
    qsort(pages, n, sizeof *pages, page_address_order);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && (char *)pages[j] == (char *)pages[j - 1] + BIBOP_PAGE_SIZE;)
            j++;
        arena_discard((char *)pages[i], (j - i) * BIBOP_PAGE_SIZE);
    }
    uintptr_t base = bibop_arena_span.base;
    pthread_mutex_lock(&arena.lock);
    for (size_t i = n; i-- > 0;) /* the lowest address is taken again first */
        arena.freed[arena.nfreed++] = (uint32_t)(((uintptr_t)pages[i] - base) / BIBOP_PAGE_SIZE);
    pthread_mutex_unlock(&arena.lock);
}
