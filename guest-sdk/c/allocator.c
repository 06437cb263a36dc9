// The memory allocator of C rules: a bump allocator, replacing the C library's.
//
// Why: zig's libc `malloc` for wasm32 gives every size class its own 64 KiB of freshly grown
// memory, so one evaluation made about ten `memory.grow` calls, each a system call in the host:
// 15 µs of a 23 µs evaluation, against 6 µs for the same rule in Rust (measured with the server's
// evaluation loop). A rule's instance serves one request and is then dropped whole, so there is
// nothing to gain from reusing freed memory: allocating is a pointer increment, `free` takes memory
// back only from the latest block (how temporary buffers are usually released), and memory beyond
// a static arena comes from `memory.grow` in large steps, normally never.
//
// The C library defines its allocator functions as weak symbols, so these definitions replace
// them for the whole module: the bindings, the helpers, the rule and the C library itself.

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// The alignment of every block, enough for any C type on wasm32 (`max_align_t`).
#define ALIGN ((size_t)16)
// What a request normally needs fits in the arena several times over (the whole Okta request is
// copied in once as `raw`, plus each field); untouched pages of it cost nothing.
#define ARENA_BYTES ((size_t)256 * 1024)
// Beyond the arena, memory grows at least this much at a time.
#define GROW_BYTES ((size_t)1024 * 1024)
#define WASM_PAGE ((size_t)64 * 1024)

static _Alignas(16) unsigned char arena[ARENA_BYTES];
static uintptr_t next = (uintptr_t)arena;
static uintptr_t limit = (uintptr_t)arena + ARENA_BYTES;

// Each block is preceded by its size, so `realloc` knows how much to copy.
static size_t *size_of(void *block) { return (size_t *)block - 1; }

static uintptr_t align_up(uintptr_t address, size_t align) {
  return (address + align - 1) & ~(uintptr_t)(align - 1);
}

// Starts a new region of at least `bytes` from newly grown memory. The rest of the current region
// is abandoned: this only happens once the arena is used up.
static bool grow(size_t bytes) {
  if (bytes > SIZE_MAX - GROW_BYTES) return false;
  size_t wanted = bytes < GROW_BYTES ? GROW_BYTES : bytes + WASM_PAGE;
  size_t pages = (wanted + WASM_PAGE - 1) / WASM_PAGE;
  size_t first = __builtin_wasm_memory_grow(0, pages);
  if (first == SIZE_MAX) return false;  // the server's memory cap for the rule
  next = first * WASM_PAGE;
  limit = next + pages * WASM_PAGE;
  return true;
}

// `align` is a power of two.
static void *allocate(size_t size, size_t align) {
  if (align < ALIGN) align = ALIGN;
  for (int attempt = 0; attempt < 2; attempt++) {
    uintptr_t block = align_up(next + sizeof(size_t), align);
    if (block >= next && block <= limit && size <= limit - block) {
      *size_of((void *)block) = size;
      next = block + size;
      return (void *)block;
    }
    if (size > SIZE_MAX - align - sizeof(size_t) || !grow(size + align + sizeof(size_t))) break;
  }
  errno = ENOMEM;
  return NULL;
}

static bool is_latest(void *block) { return (uintptr_t)block + *size_of(block) == next; }

void *malloc(size_t size) { return allocate(size, ALIGN); }

void free(void *block) {
  if (block != NULL && is_latest(block)) next = (uintptr_t)size_of(block);
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  void *block = malloc(count * size);
  // Memory taken back by `free` may be reused, so it is not necessarily still zero.
  if (block != NULL) memset(block, 0, count * size);
  return block;
}

void *realloc(void *block, size_t size) {
  if (block == NULL) return malloc(size);
  size_t *old_size = size_of(block);
  // The latest block grows or shrinks in place: a buffer being appended to usually is the latest.
  if (is_latest(block) && size <= limit - (uintptr_t)block) {
    *old_size = size;
    next = (uintptr_t)block + size;
    return block;
  }
  if (size <= *old_size) return block;
  void *moved = malloc(size);
  if (moved != NULL) memcpy(moved, block, *old_size);
  return moved;
}

void *reallocarray(void *block, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(block, count * size);
}

void *aligned_alloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return allocate(size, align);
}

void *memalign(size_t align, size_t size) { return aligned_alloc(align, size); }

void *valloc(size_t size) { return allocate(size, WASM_PAGE); }

int posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *block = allocate(size, align);
  if (block == NULL) return ENOMEM;
  *out = block;
  return 0;
}

size_t malloc_usable_size(void *block) { return block == NULL ? 0 : *size_of(block); }
