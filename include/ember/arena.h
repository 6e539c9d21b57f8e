/* Arenas: bump allocation owned by a partition, a batch or a task, freed all at once.
 *
 * Record payloads (string bytes, tuples, lists) live in arenas, so records cost no malloc each.
 * An arena is not thread-safe: one owner allocates from it at a time. */
#ifndef EMBER_ARENA_H
#define EMBER_ARENA_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>

/* The fields are visible only so that em_arena_alloc() can be inline; do not touch them. */
typedef struct em_arena {
    char *cur; /* next free byte of the current chunk */
    char *end; /* end of the current chunk */
    struct em_chunk *chunks;
    size_t held;       /* bytes held in all chunks */
    size_t chunk_size; /* size of the next ordinary chunk */
} em_arena;

/* Makes an empty arena. The caller owns it and frees it with em_arena_free(). Never fails. */
EM_API em_arena *em_arena_new(void);
/* Frees the arena and everything allocated from it. NULL is allowed. */
EM_API void em_arena_free(em_arena *arena);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_arena, em_arena_free)
/* Forgets every allocation but keeps the first chunk for reuse: pointers into it die. */
EM_API void em_arena_reset(em_arena *arena);
/* Bytes of memory the arena holds (chunks, not what was asked for). */
EM_API size_t em_arena_bytes(const em_arena *arena);
/* Slow path of em_arena_alloc(): adds a chunk. Use em_arena_alloc() instead. */
EM_API void *em__arena_grow(em_arena *arena, size_t size);

/* Allocates size bytes aligned to 8, owned by the arena. Aborts only when memory is exhausted. */
static inline void *em_arena_alloc(em_arena *arena, size_t size)
{
    size = (size + 7u) & ~(size_t)7u;
    if ((size_t)(arena->end - arena->cur) >= size) {
        void *p = arena->cur;
        arena->cur += size;
        return p;
    }
    return em__arena_grow(arena, size);
}

/* Copies n bytes into the arena and returns the copy (not NUL-terminated unless the input is). */
EM_API void *em_arena_memdup(em_arena *arena, const void *bytes, size_t n);

/* The scratch arena of the calling thread. Inside a task it is the task's scratch, reset after
 * each input record; value constructors without an arena argument (em_pair(), em_str_dup(), ...)
 * allocate here. On any other thread it lives until em_scratch_reset() or the thread's end. */
EM_API em_arena *em_scratch(void);
/* Frees what the calling thread allocated in its scratch arena (outside tasks). */
EM_API void em_scratch_reset(void);

#endif
