/* Private to libember's streaming room and its tests: checkpoint files and what they hold.
 *
 * A checkpoint is a batch time, the identity of the program that wrote it and named records
 * (state tables, window partials, input positions, the batch clock). checkpoint-file.c turns one
 * into a file and back; checkpoint-data.c encodes what the records hold. Nothing here knows the
 * DStream graph: the context decides what to put in and what to take out. */
#ifndef EMBER_CHECKPOINT_FILE_H
#define EMBER_CHECKPOINT_FILE_H

#include "core-private.h"

#include <ember/streaming.h>

/* The version of the file layout checkpoint-file.c writes; readers refuse any other. */
#define EM_CKPT_FORMAT_VERSION 1
/* How many checkpoint files a directory keeps by default, as Spark's CheckpointWriter (10). */
#define EM_CKPT_KEEP_DEFAULT 10

typedef struct em_ckpt em_ckpt;

/* ---- One checkpoint in memory ---- */

/* An empty checkpoint of program (a name for messages, copied) with fingerprint, at batch time
 * time. The caller owns it and frees it with em__ckpt_free(). */
em_ckpt *em__ckpt_new(const char *program, uint64_t fingerprint, em_time time);
/* NULL is allowed. */
void em__ckpt_free(em_ckpt *ck);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_ckpt, em__ckpt_free)
em_time em__ckpt_time(const em_ckpt *ck);
const char *em__ckpt_program(const em_ckpt *ck);
uint64_t em__ckpt_fingerprint(const em_ckpt *ck);
/* The file a checkpoint was read from (owned by ck), NULL for one made in memory. */
const char *em__ckpt_path(const em_ckpt *ck);
/* Adds the record name (copied) holding bytes[0..n) (copied); a record of the same name is
 * replaced. */
void em__ckpt_put(em_ckpt *ck, const char *name, const void *bytes, size_t n);
/* The same, taking ownership of bytes. */
void em__ckpt_put_bytes(em_ckpt *ck, const char *name, GBytes *bytes);
/* The record name (borrowed, valid while ck lives), or NULL when there is none. */
GBytes *em__ckpt_get(const em_ckpt *ck, const char *name);
/* Asks that the checkpoint files of batch time t and later outlive ck in its directory (the
 * files its records build on: an incremental state's chain), however many newer ones are
 * written; the smallest t asked wins. Not written into the file. */
void em__ckpt_keep_from(em_ckpt *ck, em_time t);
/* The record names in the order they were added (or read), as a borrowed array. */
const GPtrArray *em__ckpt_names(const em_ckpt *ck);

/* ---- Chains: a checkpoint whose records build on earlier files (mapWithState's changes) ---- */

/* Records that ck's records need the checkpoint file of batch time t in the same directory
 * (every file of the chain, not only the one before: the list is written into the file as the
 * record "needs"). em__ckpt_read_latest() returns a checkpoint only if its needed files read. */
void em__ckpt_needs(em_ckpt *ck, em_time t);
/* The batch times ck needs (written, or read from its file), oldest first; borrowed. */
const GArray *em__ckpt_needed_times(const em_ckpt *ck);
/* The checkpoint of batch time t that ck needs: the one read with it by em__ckpt_read_latest(),
 * else read now from ck's directory and kept with ck (so ck is not const here in fact, but
 * what it holds does not change). Borrowed, lives as long as ck. NULL with err
 * (EM_ERROR_CORRUPT naming ck's file and the needed one, and why) when it cannot be read. */
const em_ckpt *em__ckpt_needed(const em_ckpt *ck, em_time t, GError **err);

/* ---- Records built by the writer ----
 * A stream can hand its state over as it is (changed keys, say) and let the thread that writes
 * the checkpoint encode it: em__ckpt_write() runs every builder's build before it encodes ck,
 * then its written with whether the file is in place. */
typedef struct em_ckpt_builder {
    /* Puts records into ck, which is about to be written into dir; false with err fails the
     * write (written is still called). */
    bool (*build)(void *data, em_ckpt *ck, const char *dir, GError **err);
    /* After the write: ok when the file is in place. May be NULL. */
    void (*written)(void *data, const em_ckpt *ck, bool ok);
    /* Frees data (with ck, written or not). May be NULL. */
    void (*free)(void *data);
} em_ckpt_builder;
/* Adds a builder (static, borrowed) with its data (owned by ck from here on). */
void em__ckpt_defer(em_ckpt *ck, const em_ckpt_builder *builder, void *data);

/* ---- Files: "<dir>/checkpoint-<time in ms>" ---- */

/* What a write did, for the batch figures. */
typedef struct em_ckpt_write_info {
    char *path;          /* the file written (g_free it) */
    size_t bytes;        /* its size */
    int64_t duration_us; /* encoding, writing, fsync and rename */
    int removed;         /* older checkpoint files deleted to keep the last `keep` */
} em_ckpt_write_info;

/* Writes ck into dir (created if missing) as checkpoint-<time>: its builders run (once), then it
 * is encoded, written to a hidden temporary file, fsynced, renamed over the final name and the
 * directory fsynced, so that a crash leaves either the previous state of the directory or the
 * complete new file. Then deletes all but the newest keep (<= 0: EM_CKPT_KEEP_DEFAULT) checkpoint
 * files, except those ck asked to keep (em__ckpt_keep_from). On failure (EM_ERROR_IO naming the
 * file and the system's reason) the temporary file is removed and every earlier checkpoint is left
 * as it was. info may be NULL; on success the caller frees info->path. */
bool em__ckpt_write(em_ckpt *ck, const char *dir, int keep, em_ckpt_write_info *info,
                    GError **err);
/* Reads and checks one checkpoint file. Returns a checkpoint the caller owns, or NULL with err:
 * EM_ERROR_IO when it cannot be read, EM_ERROR_CORRUPT (naming the file, the record and what
 * failed: magic, version, CRC, truncation, decompression) when its bytes are not a checkpoint. */
em_ckpt *em__ckpt_read_file(const char *path, GError **err);
/* The checkpoint files of dir, newest first, as a GPtrArray of paths the caller unrefs; an
 * empty array when dir does not exist; NULL with err (EM_ERROR_IO) when it cannot be listed. */
GPtrArray *em__ckpt_list(const char *dir, GError **err);
/* Reads the newest valid checkpoint of dir that program (fingerprint) wrote, with the files it
 * needs (em__ckpt_needs: read along and kept with it). A corrupt newest file, or one needing a
 * file that is missing or corrupt (a lost full copy of a mapWithState chain), falls back to the
 * one before it, and so on: each skipped file is logged as a warning naming it and why (and
 * the needed file), and the first of them is returned in *skipped when skipped is not NULL.
 * Returns NULL with err unset when dir holds no checkpoint file at all. Returns NULL with err
 * set when every file is corrupt (EM_ERROR_CORRUPT, naming the newest), when the newest valid
 * checkpoint belongs to another program (EM_ERROR_INVALID, naming the file and both programs:
 * it is refused, never skipped) or when dir cannot be read (EM_ERROR_IO). A NULL program
 * accepts any program's checkpoint (the caller checks it). */
em_ckpt *em__ckpt_read_latest(const char *dir, const char *program, uint64_t fingerprint,
                              GError **skipped, GError **err);

/* ---- What the records hold (checkpoint-data.c). Each put replaces a record; each get returns
 *      false with err (EM_ERROR_CORRUPT, naming the record) when the record is missing or its
 *      bytes do not decode, and puts payload into arena. ---- */

/* Plain records: values[0..n) with em_values_encode(). get fills a g_malloc'd array. */
void em__ckpt_put_values(em_ckpt *ck, const char *name, const em_value *values, size_t n);
bool em__ckpt_get_values(const em_ckpt *ck, const char *name, em_arena *arena, em_value **out,
                         size_t *n, GError **err);

/* One key of a state table: its state and the batch time it was last updated (so idle
 * timeouts go on counting from it after a restart). */
typedef struct em_ckpt_state_row {
    em_value key, state;
    em_time updated;
} em_ckpt_state_row;
/* A state table: rows[0..n). get fills a GArray of em_ckpt_state_row the caller unrefs. */
void em__ckpt_put_state(em_ckpt *ck, const char *name, const em_ckpt_state_row *rows, size_t n);
bool em__ckpt_get_state(const em_ckpt *ck, const char *name, em_arena *arena, GArray **rows,
                        GError **err);

/* A window's partial results: for each batch time it still needs, that time's records. */
typedef struct em_ckpt_partial {
    em_time time;
    em_value *records; /* get: g_malloc'd (freed by the GArray's clear func), payload in arena */
    size_t n;
} em_ckpt_partial;
void em__ckpt_put_partials(em_ckpt *ck, const char *name, const em_ckpt_partial *parts, size_t n);
/* Fills a GArray of em_ckpt_partial the caller unrefs (it frees each records array). */
bool em__ckpt_get_partials(const em_ckpt *ck, const char *name, em_arena *arena, GArray **parts,
                           GError **err);

/* An input's position: an opaque blob only the input stream reads (offsets, files seen, a
 * write-ahead log position). Stored under "position/<input>". */
void em__ckpt_put_position(em_ckpt *ck, const char *input, const void *blob, size_t n);
/* The blob (borrowed from ck), or NULL when the checkpoint holds no position for input. */
GBytes *em__ckpt_get_position(const em_ckpt *ck, const char *input);

/* The batch clock: the interval, the zero time, the newest completed batch and the batches
 * generated but not completed when the checkpoint was taken (they run again on recovery). */
typedef struct em_ckpt_clock {
    em_duration batch_interval;
    em_time zero_time;
    em_time last_completed;
    em_time *pending; /* get: g_malloc'd, the caller g_free()s it */
    size_t n_pending;
} em_ckpt_clock;
void em__ckpt_put_clock(em_ckpt *ck, const em_ckpt_clock *clock);
bool em__ckpt_get_clock(const em_ckpt *ck, em_ckpt_clock *clock, GError **err);

/* ---- The graph's manifest (checkpoint-graph.c): what recovery matches a rebuilt graph
 *      against. Only stateful operators (state, incremental windows) and inputs (positions)
 *      are listed: adding or removing a stateless operator changes nothing. ---- */

/* One stateful operator or input, by its stable name (the operator's name, or one given). */
typedef struct em_ckpt_op {
    const char *kind;   /* "updateStateByKey", "mapWithState", "reduceByKeyAndWindow",
                           "textFileStream": Spark's operation name */
    const char *name;   /* unique among the graph's stateful operators and inputs */
    em_duration slide;  /* its slide duration */
    em_duration window; /* a window's length, 0 otherwise */
} em_ckpt_op;

/* The fingerprint of a program: a 64-bit hash of its app name, in every file's header, so a
 * checkpoint directory shared by two programs is caught before anything is read. */
uint64_t em__ckpt_program_fingerprint(const char *app_name);
/* Records the batch interval and ops[0..n) as the record "graph". */
void em__ckpt_put_graph(em_ckpt *ck, em_duration batch_interval, const em_ckpt_op *ops, size_t n);
/* Checks the program's graph (batch interval, ops[0..n)) against the checkpoint's. Every
 * operator of the checkpoint must be in the program under the same name with the same kind and
 * durations, unless drop_unmatched: then one missing from the program is dropped (its name is
 * added to *dropped, a GPtrArray of strings the caller unrefs, when dropped is not NULL). An
 * operator of the program missing from the checkpoint starts empty. A different batch interval,
 * a changed kind or duration, or a missing operator without drop_unmatched is an error
 * (EM_ERROR_INVALID) naming the operator, the checkpoint file, and what to do. */
bool em__ckpt_match_graph(const em_ckpt *ck, em_duration batch_interval, const em_ckpt_op *ops,
                          size_t n, bool drop_unmatched, GPtrArray **dropped, GError **err);

#endif
