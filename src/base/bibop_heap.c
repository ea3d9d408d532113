/* bibop_heap: a heap's pages and the lua_Alloc that carves them: the size classes,
 * the reserve of empty pages and its decay, large blocks mapped on their own, and the
 * accounting and limit (see bibop.h). A heap belongs to one thread: nothing is locked. */
#include "bibop_int.h"

#include "mstime.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SMALL_LOOKUP_MAX 1024

static uint32_t class_size[NCLASS_MAX];
static unsigned nclass;
static uint8_t class_lookup[SMALL_LOOKUP_MAX / 4 + 1]; /* class of each size up to 1 KiB, by 4 */
static pthread_once_t class_once = PTHREAD_ONCE_INIT;

/* ---- size classes ---- */

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

static void class_fill_sizes(void)
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

static void class_fill_lookup(void)
{
    unsigned cls = 0;
    for (unsigned i = 0; i <= SMALL_LOOKUP_MAX / 4; i++) {
        while (class_size[cls] < i * 4)
            cls++;
        class_lookup[i] = (uint8_t)cls;
    }
}

static void class_init(void)
{
    class_fill_sizes();
    class_fill_lookup();
}

static unsigned class_of(size_t size)
{
    if (size <= SMALL_LOOKUP_MAX)
        return class_lookup[(size + 3) / 4];
    unsigned lo = class_lookup[SMALL_LOOKUP_MAX / 4], hi = nclass - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (class_size[mid] < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

unsigned bibop_class_count(void)
{
    return nclass;
}

size_t bibop_class_size(unsigned index)
{
    return index < nclass ? class_size[index] : 0;
}

/* ---- pages of a heap ---- */

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
    page = bibop_arena_page_get();
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
        bibop_arena_pages_put(batch, k);
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
void bibop_heap_page_put(struct bibop_heap *heap, struct page *page)
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

struct page *bibop_heap_page_new(struct bibop_heap *heap, unsigned list, size_t size)
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

/* ---- heaps ---- */

struct bibop_heap *bibop_heap_new(size_t limit)
{
    bibop_arena_start();
    pthread_once(&class_once, class_init);
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

/* ---- large blocks ---- */

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
        bibop_populate((char *)p + olen, nlen - olen);
    return p;
}

/* ---- the Lua heap ---- */

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
        bool remap = nsize > BIBOP_MAX_CLASS && !bibop_under_valgrind;
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
