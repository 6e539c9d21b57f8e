/* Stock functions for classic programs, so a word count needs no user function at all:
 *   em_rdd_reduce_by_key(em_rdd_map(em_rdd_flat_map(lines, em_split_words), em_pair_one), em_sum)
 * They ignore their user data and allocate in em_scratch(). */
#ifndef EMBER_FUNCTIONS_H
#define EMBER_FUNCTIONS_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
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

/* ---- Parameterised stock functions. The parameter travels as the user data of the _full
 *      forms, e.g. Scala's lines.flatMap(_.split(",")) and lines.filter(_.contains("ERROR")):
 *        em_flat_map_full(lines, em_split_on, ",", NULL, "split")
 *        em_filter_full(lines, em_contains, "ERROR", NULL, "contains")
 *      String parameters are NUL-terminated and must outlive the stream (literals do). Results
 *      allocate in em_scratch(); a record of the wrong type fails it (em_fail) naming the
 *      function. ---- */

/* flatMap: a string split on a literal separator (ud: const char *, not empty) as Java's
 * line.split(sep) splits on a separator without regex characters: empty fields kept, trailing
 * empty fields dropped, "" gives [""]. The fields point into the line: no copy. */
EM_API em_value em_split_on(em_value line, void *ud);
/* filter: keeps strings containing the substring ud (const char *), as Scala's _.contains(s);
 * the RawNetworkGrep / grep pattern. A non-string record fails. */
EM_API bool em_contains(em_value v, void *ud);
/* filter: keeps strings starting with ud (const char *), as Scala's _.startsWith(s). */
EM_API bool em_starts_with(em_value v, void *ud);
/* The user data that makes em_field_of pick field i (0-based: Scala's _1 is EM_FIELD(0)). */
#define EM_FIELD(i) GSIZE_TO_POINTER((gsize)(i))
/* map: field EM_FIELD(i) of a tuple, as Scala's _._1, _._2, ... A record that is not a tuple
 * with that field fails. */
EM_API em_value em_field_of(em_value tuple, void *ud);
/* map: a string lower / upper cased as Java's toLowerCase / toUpperCase (Unicode when the
 * string is valid UTF-8, ASCII letters only otherwise), copied into em_scratch(). */
EM_API em_value em_to_lower(em_value s, void *ud);
EM_API em_value em_to_upper(em_value s, void *ud);
/* map: Scala's s.toInt: a decimal integer with an optional sign, in 32-bit range, as an int.
 * Anything else (blanks, overflow, empty) fails the record naming the text, as Java's
 * NumberFormatException does. */
EM_API em_value em_parse_int(em_value s, void *ud);
/* map: Scala's s.toLong: as em_parse_int in 64-bit range. */
EM_API em_value em_parse_long(em_value s, void *ud);
/* map: Scala's s.toDouble (Java's Double.parseDouble): surrounding blanks trimmed, a decimal
 * with optional exponent, an optional d/D/f/F suffix, NaN, [+-]Infinity, as a double.
 * Anything else fails the record naming the text. */
EM_API em_value em_parse_double(em_value s, void *ud);

/* ---- Text as the JVM writes it ---- */

/* Appends Java's Double.toString(d) to out: 1.0, 0.001, 1.0E7, 1.0E-4, NaN, -Infinity. */
EM_API void em_format_double(double d, GString *out);
/* Appends Java's Float.toString(f): the shortest decimal that reads back as the float, laid out
 * as Double.toString (0.1f is 0.1, 1.0E10f is 1.0E10, 16777216f is 1.6777216E7). */
EM_API void em_format_float(float f, GString *out);
/* map: a number's Double.toString (ints converted) as a string in em_scratch(). */
EM_API em_value em_double_to_string(em_value v, void *ud);
/* map: a number's Float.toString (converted to float first) as a string in em_scratch(). */
EM_API em_value em_float_to_string(em_value v, void *ud);
/* Scala's fmt.format(args...) / Java's String.format for the conversions ports use: %s (the
 * value as Spark prints it: em_value_format), %d (an int), %f and %.Nf (a number, Java's
 * HALF_UP rounding of its shortest decimal: "%.1f" of 0.15 is 0.2, "%.2f" of 0.125 is 0.13),
 * %n (a newline) and %%. Returns a string in em_scratch(). A conversion without an argument,
 * an argument left over, a type that does not fit or an unknown conversion fails the record
 * (em_fail) and returns null. Use em_sformat(fmt, v1, v2, ...). */
EM_API em_value em_format_values(const char *fmt, const em_value *args, size_t n);
#define em_sformat(fmt, ...)                                                                      \
    em_format_values((fmt), (const em_value[]){__VA_ARGS__},                                      \
                     sizeof((const em_value[]){__VA_ARGS__}) / sizeof(em_value))
/* A NUL-terminated copy of a string's bytes in em_scratch(), for C APIs that want a C string
 * (valid until the scratch resets: the record's end inside a task). A non-string gives its
 * em_value_format() text. Never NULL. */
EM_API const char *em_cstr(em_value s);

/* ---- Spark's hashing, as the JVM computes it (Spark's partitioning and record order) ---- */

/* The key's hashCode as Spark's HashPartitioner sees it on the JVM (Scala 2.12): strings as
 * java.lang.String.hashCode over their UTF-16 code units (the bytes read as UTF-8, each byte of
 * a malformed sequence as U+FFFD), ints in 32-bit range as Integer.hashCode and others as
 * Long.hashCode, doubles as Double.hashCode, booleans 1231/1237, null 0, tuples and Some(x) as
 * Scala's MurmurHash3.productHash, lists as MurmurHash3.seqHash, None as "None".hashCode. */
EM_API int32_t em_jvm_hash_code(em_value key);
/* Spark's HashPartitioner.getPartition: the non-negative mod of em_jvm_hash_code(key) by
 * num_partitions (>= 1); null keys go to partition 0. */
EM_API int em_spark_partition(em_value key, int num_partitions);

/* Whether the context's hash shuffles (reduceByKey, groupByKey, combineByKey, countByValue,
 * cogroup and the joins, partitionBy) give Spark's output exactly, order included: keys
 * partitioned by em_spark_partition(), each reduce partition in the order Spark's
 * AppendOnlyMap iterates it (see docs/PORTING.md). On by default (a context made while the
 * environment has EMBER_SPARK_ORDER=0 starts with it off). Set it before building RDDs: a
 * shuffle keeps the setting it was made with. */
EM_API void em_context_set_spark_order(em_context *sc, bool on);
EM_API bool em_context_spark_order(const em_context *sc);

#endif
