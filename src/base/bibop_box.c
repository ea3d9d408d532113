/* bibop_box: typed boxes, the C objects Lua sees (connections, listeners, timers,
 * tasks), each kind in pages of its own with a generation per slot; the handles that
 * check kind and generation before every use; and the kind of any address. */
#include "bibop_int.h"

#include <errno.h>
#include <stdatomic.h>

static const char *const kind_names[BIBOP_KIND_COUNT] = {
    "free", "lua", "large", "connection", "listener", "timer", "task",
};

static const char *const closed_why[BIBOP_KIND_COUNT] = {
    "object is closed",   "object is closed", "object is closed", "connection is closed",
    "listener is closed", "timer is closed",  "task is closed",
};

static _Atomic uint32_t gen_counter;

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

static uint32_t page_slot_index(const struct page *page, const void *ptr)
{
    return (uint32_t)(((uintptr_t)ptr - (uintptr_t)page - page->first) / page->size);
}

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

/* ---- handles ---- */

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
