/* Preloaded into the run of LuaJIT's built-in allocator, to measure what it holds
 * from the system as bibop_peak_held does for the BiBOP heap: the peak of the bytes
 * mapped by anonymous mmap, mremap and munmap calls of at least MAPPED_MIN bytes.
 * LuaJIT's allocator maps 128 KiB segments and blocks from 128 KiB up, and nothing
 * smaller; its machine code areas (64 KiB) and libc's own mappings are left out.
 * allocbench reads the peak through mapped_peak_bytes() when this is preloaded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define MAPPED_MIN ((size_t)128 << 10)
#define MAPPED_MAX 65536 /* mappings tracked at once */

static struct { uintptr_t addr; size_t len; } maps[MAPPED_MAX];
static size_t nmaps, mapped, peak;

size_t mapped_peak_bytes(void);
size_t mapped_peak_bytes(void)
{
    return peak;
}

/* Tracks a mapping: one of MAPPED_MIN bytes or more, or what is left of one. */
static void mapped_track(void *addr, size_t len)
{
    if (addr == MAP_FAILED || nmaps == MAPPED_MAX)
        return;
    maps[nmaps].addr = (uintptr_t)addr;
    maps[nmaps++].len = len;
    mapped += len;
    if (mapped > peak)
        peak = mapped;
}

/* Forgets [addr, addr + len) from the tracked mappings, keeping what is left of each
 * on either side; returns how many bytes were tracked there. */
static size_t mapped_remove(uintptr_t addr, size_t len)
{
    size_t removed = 0;
    for (size_t i = 0; i < nmaps;) {
        uintptr_t start = maps[i].addr, end = start + maps[i].len;
        if (end <= addr || start >= addr + len) {
            i++;
            continue;
        }
        uintptr_t cut_start = start > addr ? start : addr;
        uintptr_t cut_end = end < addr + len ? end : addr + len;
        removed += cut_end - cut_start;
        mapped -= maps[i].len;
        maps[i] = maps[--nmaps];
        if (start < cut_start)
            mapped_track((void *)start, cut_start - start);
        if (cut_end < end)
            mapped_track((void *)cut_end, end - cut_end);
    }
    return removed;
}

/* LuaJIT calls mmap64, the same function as mmap on 64-bit systems. */
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    static void *(*real)(void *, size_t, int, int, int, off_t);
    if (!real)
        real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap64");
    void *p = real(addr, len, prot, flags, fd, off);
    if ((flags & MAP_ANONYMOUS) && len >= MAPPED_MIN)
        mapped_track(p, len);
    return p;
}

int munmap(void *addr, size_t len)
{
    static int (*real)(void *, size_t);
    if (!real)
        real = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    int rc = real(addr, len);
    if (rc == 0)
        mapped_remove((uintptr_t)addr, len);
    return rc;
}

void *mremap(void *old, size_t olen, size_t nlen, int flags, ...)
{
    static void *(*real)(void *, size_t, size_t, int, ...);
    if (!real)
        real = (void *(*)(void *, size_t, size_t, int, ...))dlsym(RTLD_NEXT, "mremap");
    void *fixed = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        fixed = va_arg(ap, void *);
        va_end(ap);
    }
    void *p = real(old, olen, nlen, flags, fixed);
    if (p != MAP_FAILED && mapped_remove((uintptr_t)old, olen) > 0)
        mapped_track(p, nlen);
    return p;
}
