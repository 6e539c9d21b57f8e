/* A test harness shaped like Spark's TestSuiteBase.testOperation: input batches in, an
 * operation built on the input stream(s), the output of each batch out. It runs on a manual
 * clock, advancing one batch interval at a time and waiting for each batch, so the same test
 * gives the same output on every run. Include it after <ember.h>. */
#ifndef EMBER_TESTING_H
#define EMBER_TESTING_H

#include <ember.h>

/* One input batch: text parsed by em_values_parse() ("a, (b,1)"), or values[0..n) when text is
 * NULL. none: the input has no RDD at all at this time (Spark's None, not an empty batch):
 * union and transform fail on it, updateStateByKey still runs; text and values are ignored. */
typedef struct em_test_batch {
    const char *text;
    const em_value *values;
    size_t n;
    bool none;
} em_test_batch;

/* One input stream: its batches, the first at zero + interval. Later batches are empty. */
typedef struct em_test_input {
    const em_test_batch *batches;
    size_t n;
} em_test_input;

typedef struct em_test_opts {
    const char *master;         /* default "local[2]" ... */
    em_context *context;        /* ... or this context (borrowed), to share RDDs with tests */
    em_duration batch_interval; /* default 1 s */
    int input_partitions;       /* partitions of each input batch's RDD, default 2 */
    size_t num_batches;         /* batches to run; default the longest input */
    em_duration batch_timeout;  /* how long one batch may take before the run fails (with a
                                   warning then; the run still waits for that batch to end
                                   before it stops): default 60 s */
    bool keep_going;            /* a failed batch does not end the run: it is recorded in the
                                   output (status, failures) and the next batches run */
    const char *checkpoint_dir; /* checkpoint into this directory, and go on from the
                                   checkpoint it holds (em_ssc_get_or_create); the run ends
                                   with a graceful stop, which writes a final checkpoint */
} em_test_opts;

/* Builds the operation under test from the input streams (inputs[0..n_inputs)). */
typedef em_dstream *(*em_test_op_fn)(em_dstream *const *inputs, void *ud);

/* Builds several streams to collect in one run: stores them in out[0..max) and returns how
 * many (0 fails the run). */
typedef size_t (*em_test_ops_fn)(em_dstream *const *inputs, em_dstream **out, size_t max,
                                 void *ud);

/* How one batch ended for a collected stream. */
typedef enum {
    EM_TEST_NOT_RUN = 0, /* the run ended before this batch */
    EM_TEST_OUTPUT,      /* the stream had an RDD: batches[i] holds its records */
    EM_TEST_NO_RDD,      /* the batch ran and the stream had no RDD (a window between slides) */
    EM_TEST_FAILED,      /* the batch failed: failures[i] says why */
} em_test_batch_status;

/* What a stream produced: batches[i] holds batch i's records in partition order (collect), or
 * NULL when it gave none, status[i] says why (no RDD, failed, not run) and failures[i] holds
 * the failed batch's message (else NULL). */
typedef struct em_test_output {
    size_t n_batches;
    em_values **batches;
    em_duration batch_interval;
    em_test_batch_status *status;
    char **failures;
} em_test_output;

/* Runs op over the inputs for opts->num_batches batches. Returns NULL with err set when the
 * input text does not parse, the operation returns NULL, a batch exceeds the batch timeout,
 * or a batch fails (the batch's error) unless opts->keep_going. opts may be NULL. The caller
 * frees the result with em_test_output_free(). */
EM_API em_test_output *em_test_run(const em_test_input *inputs, size_t n_inputs, em_test_op_fn op,
                                   void *ud, const em_test_opts *opts, GError **err);
/* As em_test_run() for every stream op builds (at most max_outputs), collected in the same
 * run: returns a newly allocated array of *n_outputs outputs (free it with
 * em_test_outputs_free()), or NULL with err set. */
EM_API em_test_output **em_test_run_multi(const em_test_input *inputs, size_t n_inputs,
                                          em_test_ops_fn op, size_t max_outputs, void *ud,
                                          const em_test_opts *opts, size_t *n_outputs,
                                          GError **err);
/* Frees an output of em_test_run() and what it holds; NULL is a no-op. */
EM_API void em_test_output_free(em_test_output *out);
/* Frees the n outputs of em_test_run_multi() and the array. */
EM_API void em_test_outputs_free(em_test_output **outs, size_t n);
/* Spark's testCheckpointedOperation: runs op with checkpoints for stop_after batches, stops
 * (gracefully: a final checkpoint), frees the ssc, then builds the graph again through
 * em_ssc_get_or_create() from the checkpoint directory (opts->checkpoint_dir, or a new
 * temporary one removed afterwards) and runs the remaining batches up to opts->num_batches.
 * The output holds every batch of both runs, as if uninterrupted when recovery is right. */
EM_API em_test_output *em_test_run_checkpointed(const em_test_input *inputs, size_t n_inputs,
                                                em_test_op_fn op, void *ud,
                                                const em_test_opts *opts, size_t stop_after,
                                                GError **err);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_test_output, em_test_output_free)
/* One line per batch, "[a, (b,1)]" ("none" for no RDD or a batch not run, "failed: <why>"
 * for a failed batch), records sorted within a batch when sorted. Newly allocated; g_free()
 * it. */
EM_API char *em_test_output_format(const em_test_output *out, bool sorted);

/* testOperation for one input given as text batches: runs op for n_expected batches and
 * compares each batch with expected[i] (text as em_values_parse reads it; NULL for "no RDD"),
 * in order, or as multisets when use_set (reduceByKey output order is not defined). Returns
 * false with err naming the first differing batch, the expected and the actual records. */
EM_API bool em_test_operation(const char *const *input, size_t n_input, em_test_op_fn op, void *ud,
                              const char *const *expected, size_t n_expected, bool use_set,
                              GError **err);
/* em_test_operation() with a restart from the checkpoint after stop_after batches. */
EM_API bool em_test_checkpointed_operation(const char *const *input, size_t n_input,
                                           em_test_op_fn op, void *ud, const char *const *expected,
                                           size_t n_expected, size_t stop_after, bool use_set,
                                           GError **err);
/* The same with two input streams (transformWith, joins, cogroup, union). */
EM_API bool em_test_operation2(const char *const *input1, size_t n_input1,
                               const char *const *input2, size_t n_input2, em_test_op_fn op,
                               void *ud, const char *const *expected, size_t n_expected,
                               bool use_set, GError **err);

#endif
