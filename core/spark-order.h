/* Spark's record order (private to libember): the iteration order of Spark's AppendOnlyMap,
 * which the shuffle reproduces when the context asks for Spark's order (see spark-order.c). */
#ifndef EMBER_SPARK_ORDER_H
#define EMBER_SPARK_ORDER_H

#include "core-private.h"

/* Guava's murmur3_32().hashInt(h): the rehash AppendOnlyMap applies to a key's hashCode. */
int32_t em__murmur3_hash_int(int32_t h);
/* Scala 2.12's MurmurHash3.productHash of a tuple of n fields whose ## are field_hashes. */
int32_t em__scala_product_hash(const int32_t *field_hashes, size_t n);

/* The order in which Spark's AppendOnlyMap (capacity 64, doubling past 0.7 load, probing
 * pos + 1, pos + 3, pos + 6 ... from murmur3(hashCode) & mask) iterates n distinct keys
 * inserted in index order with these hashCodes: order[i] is the index of the i-th key
 * iterated. null_index (or -1) names a null key, which Spark keeps aside and iterates first.
 * scratch holds working memory and is reset by the caller. */
void em__aom_order(const int32_t *hashes, size_t n, ssize_t null_index, uint32_t *order,
                   em_arena *scratch);

/* Sorts n (key, value) records by the key's JVM hashCode, signed, keeping the order of equal
 * hashCodes: Spark's sort-based shuffle writer's order within a combined map output. */
void em__spark_sort_by_hash(em_value *records, size_t n, em_arena *scratch);
/* The live entries of t, an insertion-ordered (EM_TABLE_STABLE_IDS) table without removals,
 * in AppendOnlyMap order, as an array allocated in arena; *n gets the count. */
em_table_entry **em__spark_order_entries(const em_table *t, size_t *n, em_arena *arena);

#endif
