/* Tests of arenas (core, below everything): alignment, growth, large requests, reset, and the
 * per-thread scratch arena that value constructors without an arena argument allocate in. */
#include <criterion/criterion.h>

#include "core-private.h"

#include <string.h>

Test(arena, allocations_are_8_aligned_and_disjoint)
{
    em_arena *arena = em_arena_new();
    uint8_t *blocks[64];
    for (size_t i = 0; i < 64; i++) {
        blocks[i] = em_arena_alloc(arena, i + 1);
        cr_assert_eq((uintptr_t)blocks[i] % 8, 0, "size %zu", i + 1);
        memset(blocks[i], (int)i, i + 1);
    }
    for (size_t i = 0; i < 64; i++)
        for (size_t j = 0; j <= i; j++)
            cr_assert_eq(blocks[i][j], i, "block %zu byte %zu", i, j);
    em_arena_free(arena);
}

Test(arena, many_small_allocations_keep_their_contents)
{
    em_arena *arena = em_arena_new();
    enum { N = 100000 };
    uint64_t **blocks = g_new(uint64_t *, N);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = em_arena_alloc(arena, 2 * sizeof(uint64_t));
        blocks[i][0] = i;
        blocks[i][1] = ~(uint64_t)i;
    }
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(blocks[i][0], i);
        cr_assert_eq(blocks[i][1], ~(uint64_t)i);
    }
    size_t asked = N * 2 * sizeof(uint64_t);
    cr_assert_geq(em_arena_bytes(arena), asked);
    cr_assert_lt(em_arena_bytes(arena), 2 * asked, "chunks waste at most half");
    g_free(blocks);
    em_arena_free(arena);
}

Test(arena, large_allocation_gets_its_own_chunk_beyond_the_chunk_size)
{
    em_arena *arena = em_arena_new();
    uint64_t *before = em_arena_alloc(arena, 16);
    size_t held = em_arena_bytes(arena);
    size_t big_size = 8u << 20;
    uint8_t *big = em_arena_alloc(arena, big_size);
    memset(big, 0x5a, big_size);
    cr_assert_eq(big[0], 0x5a);
    cr_assert_eq(big[big_size - 1], 0x5a);
    cr_assert_eq(em_arena_bytes(arena), held + big_size);
    /* The current chunk stays in use behind the large one. */
    uint64_t *after = em_arena_alloc(arena, 16);
    cr_assert_eq((char *)after, (char *)before + 16);
    em_arena_free(arena);
}

Test(arena, large_first_allocation_in_an_empty_arena)
{
    em_arena *arena = em_arena_new();
    uint8_t *big = em_arena_alloc(arena, 1u << 20);
    memset(big, 1, 1u << 20);
    uint8_t *small = em_arena_alloc(arena, 8);
    memset(small, 2, 8);
    cr_assert_eq(big[(1u << 20) - 1], 1);
    em_arena_free(arena);
}

Test(arena, reset_reuses_the_kept_chunk)
{
    em_arena *arena = em_arena_new();
    void *first = em_arena_alloc(arena, 100);
    em_arena_alloc(arena, 200);
    size_t held = em_arena_bytes(arena);
    em_arena_reset(arena);
    cr_assert_eq(em_arena_alloc(arena, 100), first);
    cr_assert_eq(em_arena_bytes(arena), held);
    em_arena_free(arena);
}

Test(arena, reset_shrinks_to_one_chunk_and_steady_use_allocates_nothing)
{
    em_arena *arena = em_arena_new();
    for (int i = 0; i < 10000; i++)
        em_arena_alloc(arena, 64);
    em_arena_alloc(arena, 4u << 20);
    size_t grown = em_arena_bytes(arena);
    em_arena_reset(arena);
    size_t kept = em_arena_bytes(arena);
    cr_assert_gt(kept, 0);
    cr_assert_lt(kept, grown);
    for (int round = 0; round < 3; round++) {
        for (size_t used = 0; used + 64 <= kept; used += 64)
            memset(em_arena_alloc(arena, 64), round, 64);
        cr_assert_eq(em_arena_bytes(arena), kept, "round %d", round);
        em_arena_reset(arena);
    }
    em_arena_free(arena);
}

Test(arena, reset_and_free_accept_empty_arenas)
{
    em_arena *arena = em_arena_new();
    cr_assert_eq(em_arena_bytes(arena), 0);
    em_arena_reset(arena);
    cr_assert_eq(em_arena_bytes(arena), 0);
    em_arena_free(arena);
    em_arena_free(NULL);
    cr_assert_eq(em_arena_bytes(NULL), 0);
}

Test(arena, memdup_copies_bytes_and_gives_a_pointer_for_zero_bytes)
{
    em_arena *arena = em_arena_new();
    char *copy = em_arena_memdup(arena, "a\0b", 3);
    cr_assert_eq(memcmp(copy, "a\0b", 3), 0);
    cr_assert_not_null(em_arena_memdup(arena, NULL, 0));
    em_arena_free(arena);
}

/* ---- Scratch ---- */

typedef struct scratch_report {
    em_arena *scratch, *again;
    size_t bytes_used, bytes_after_reset;
    bool value_ok;
} scratch_report;

static gpointer use_scratch(gpointer data)
{
    scratch_report *r = data;
    r->scratch = em_scratch();
    em_value kv = em_pair(em_str_dup("word", 4), em_int(1));
    r->value_ok = em_value_equal(em_key(kv), em_str("word"));
    r->bytes_used = em_arena_bytes(r->scratch);
    em_scratch_reset();
    r->bytes_after_reset = em_arena_bytes(em_scratch());
    r->again = em_scratch();
    return NULL; /* the thread's scratch is freed as it ends: ASan's leak check proves it */
}

Test(arena, scratch_on_a_plain_thread_is_its_own_and_resets)
{
    scratch_report r = {0};
    GThread *thread = g_thread_new("scratch", use_scratch, &r);
    g_thread_join(thread);
    cr_assert_not_null(r.scratch);
    cr_assert_eq(r.again, r.scratch, "the same arena across calls and resets");
    cr_assert_neq(r.scratch, em_scratch(), "each thread has its own");
    cr_assert(r.value_ok);
    cr_assert_gt(r.bytes_used, 0);
    cr_assert_leq(r.bytes_after_reset, r.bytes_used);
}

Test(arena, scratch_reset_forgets_what_constructors_allocated)
{
    em_arena *scratch = em_scratch();
    cr_assert_eq(em_scratch(), scratch);
    for (int i = 0; i < 2000; i++)
        em_str_dup("0123456789abcdef", 16);
    size_t grown = em_arena_bytes(scratch);
    em_scratch_reset();
    cr_assert_lt(em_arena_bytes(scratch), grown);
    cr_assert_eq(em_scratch(), scratch);
}

Test(arena, scratch_set_installs_a_task_arena_until_restored)
{
    em_arena *own = em_scratch(), *task = em_arena_new();
    em_arena *previous = em__scratch_set(task);
    cr_assert_eq(previous, own);
    cr_assert_eq(em_scratch(), task);
    em_some(em_int(1));
    cr_assert_gt(em_arena_bytes(task), 0);
    size_t held = em_arena_bytes(task);
    em_scratch_reset(); /* resets the thread's own arena, never the task's */
    cr_assert_eq(em_arena_bytes(task), held);
    cr_assert_eq(em__scratch_set(previous), task);
    cr_assert_eq(em_scratch(), own);
    em__scratch_set(NULL);
    cr_assert_eq(em_scratch(), own, "NULL means the thread's own scratch");
    em_arena_free(task);
}
