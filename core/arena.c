/* Arenas: the memory of partitions, batches and task scratch (core, below everything).
 * Chunks grow geometrically up to a cap; a request larger than a chunk gets a chunk of its own.
 * The per-thread scratch arena lives here too: tasks install their own with em__scratch_set(). */
#include "core-private.h"

#include <stdlib.h>
#include <string.h>

struct em_chunk {
    struct em_chunk *next;
    size_t size; /* usable bytes after the header */
    max_align_t data[];
};

enum { FIRST_CHUNK = 4096, MAX_CHUNK = 1 << 20 };

em_arena *em_arena_new(void)
{
    em_arena *arena = g_new0(em_arena, 1);
    arena->chunk_size = FIRST_CHUNK;
    return arena;
}

void em_arena_free(em_arena *arena)
{
    if (!arena)
        return;
    struct em_chunk *c = arena->chunks;
    while (c) {
        struct em_chunk *next = c->next;
        g_free(c);
        c = next;
    }
    g_free(arena);
}

void em_arena_reset(em_arena *arena)
{
    struct em_chunk *c = arena->chunks;
    if (!c)
        return;
    /* Keep the newest (largest) chunk: steady-state resets then allocate nothing. */
    struct em_chunk *rest = c->next;
    while (rest) {
        struct em_chunk *next = rest->next;
        g_free(rest);
        rest = next;
    }
    c->next = NULL;
    arena->held = c->size;
    arena->cur = (char *)c->data;
    arena->end = arena->cur + c->size;
}

size_t em_arena_bytes(const em_arena *arena) { return arena ? arena->held : 0; }

void *em__arena_grow(em_arena *arena, size_t size)
{
    size_t want = arena->chunk_size;
    if (want < MAX_CHUNK)
        arena->chunk_size = want * 2;
    if (size > want / 4) {
        /* A large request: give it a chunk of its own behind the current one so the
         * current chunk's free tail stays usable. */
        struct em_chunk *big = g_malloc(sizeof *big + size);
        big->size = size;
        arena->held += size;
        if (arena->chunks) {
            big->next = arena->chunks->next;
            arena->chunks->next = big;
        } else {
            big->next = NULL;
            arena->chunks = big;
            arena->cur = arena->end = (char *)big->data + size;
        }
        return big->data;
    }
    struct em_chunk *c = g_malloc(sizeof *c + want);
    c->size = want;
    c->next = arena->chunks;
    arena->chunks = c;
    arena->held += want;
    arena->cur = (char *)c->data + size;
    arena->end = (char *)c->data + want;
    return c->data;
}

void *em_arena_memdup(em_arena *arena, const void *bytes, size_t n)
{
    void *p = em_arena_alloc(arena, n ? n : 1);
    if (n)
        memcpy(p, bytes, n);
    return p;
}

/* ---- Per-thread scratch ---- */

/* initial-exec: a plain %fs-relative load rather than a __tls_get_addr call per em_pair(). The
 * library is linked, not dlopen'ed late, so static TLS has room for it. */
#define EM_TLS _Thread_local __attribute__((tls_model("initial-exec")))
static EM_TLS em_arena *tls_scratch;     /* what em_scratch() returns */
static EM_TLS em_arena *tls_own_scratch; /* this thread's own, outside tasks */

static void free_own_scratch(gpointer p) { em_arena_free(p); }
static GPrivate own_scratch_key = G_PRIVATE_INIT(free_own_scratch);

em_arena *em_scratch(void)
{
    if (G_LIKELY(tls_scratch))
        return tls_scratch;
    if (!tls_own_scratch) {
        tls_own_scratch = em_arena_new();
        g_private_set(&own_scratch_key, tls_own_scratch); /* freed at thread exit */
    }
    tls_scratch = tls_own_scratch;
    return tls_scratch;
}

void em_scratch_reset(void)
{
    if (tls_own_scratch)
        em_arena_reset(tls_own_scratch);
}

em_arena *em__scratch_set(em_arena *arena)
{
    em_arena *old = tls_scratch;
    tls_scratch = arena;
    return old;
}

void em__arena_adopt(em_arena *arena, em_arena *other)
{
    struct em_chunk *c = other->chunks;
    if (c) {
        struct em_chunk *last = c;
        while (last->next)
            last = last->next;
        if (arena->chunks) {
            /* Behind the current chunk, which keeps serving allocations. */
            last->next = arena->chunks->next;
            arena->chunks->next = c;
        } else {
            arena->chunks = c;
            arena->cur = other->cur;
            arena->end = other->end;
        }
        arena->held += other->held;
    }
    g_free(other);
}
