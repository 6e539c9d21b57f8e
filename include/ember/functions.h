/* Stock functions for classic programs, so a word count needs no user function at all:
 *   em_rdd_reduce_by_key(em_rdd_map(em_rdd_flat_map(lines, em_split_words), em_pair_one), em_sum)
 * They ignore their user data and allocate in em_scratch(). */
#ifndef EMBER_FUNCTIONS_H
#define EMBER_FUNCTIONS_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/value.h>

/* flatMap: a string split on runs of ASCII whitespace (space, \t, \n, \r, \v, \f) into a List
 * of words; empty words are dropped. The words point into the line: no copy. */
EM_API em_value em_split_words(em_value line, void *ud);
/* flatMap: a string split on single spaces exactly as Scala's line.split(" "): empty words
 * between adjacent spaces are kept, trailing empty words dropped. */
EM_API em_value em_split_space(em_value line, void *ud);
/* map: v -> (v, 1). */
EM_API em_value em_pair_one(em_value v, void *ud);
/* map: v -> v. */
EM_API em_value em_identity(em_value v, void *ud);
/* map: (k, v) -> (v, k). */
EM_API em_value em_swap(em_value kv, void *ud);
/* reduce: a + b. Two ints add as int64 (wrapping); any double makes a double. Non-numbers fail
 * the record (em_fail). */
EM_API em_value em_sum(em_value a, em_value b, void *ud);
/* reduce (inverse of em_sum): a - b, ints as int64 (wrapping), any double makes a double. */
EM_API em_value em_subtract(em_value a, em_value b, void *ud);
/* filter on (k, v) records: keeps those whose value is not 0 (int or double). */
EM_API bool em_filter_nonzero(em_value kv, void *ud);
/* reduce: the smaller / larger of a and b by em_value_compare(). */
EM_API em_value em_min(em_value a, em_value b, void *ud);
EM_API em_value em_max(em_value a, em_value b, void *ud);
/* aggregateByKey seqOp: acc + 1, ignoring the value (with zero 0 and comb em_sum it counts
 * values per key). */
EM_API em_value em_increment(em_value acc, em_value v, void *ud);
/* reduce: strings concatenated, lists appended (kind of a). Anything else fails the record. */
EM_API em_value em_concat(em_value a, em_value b, void *ud);

#endif
