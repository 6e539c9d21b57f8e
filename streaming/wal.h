/* Private to libember's streaming and connector rooms and their tests: the receivers'
 * write-ahead log (Spark's receiver.writeAheadLog.enable).
 *
 * A directory of segment files "log-<first sequence number>", each a header and records
 * (u32 length, u64 sequence number, payload, u32 CRC32). A receiver appends a block and only
 * acknowledges it as stored once the append returned: the record is then fsynced. After a crash
 * the blocks after the newest checkpoint's position are replayed; segments a checkpoint covers
 * are deleted. One writer at a time; the functions are not thread-safe. */
#ifndef EMBER_WAL_H
#define EMBER_WAL_H

#include "core-private.h"

typedef struct em_wal em_wal;

typedef struct em_wal_opts {
    size_t segment_bytes; /* a new segment once the current one holds this much; default 1 MiB */
} em_wal_opts;

/* Opens (creating it) the log in dir. A torn last record of the newest segment (a crash in the
 * middle of an append: truncated, or failing its CRC) is cut off, with a warning naming the
 * file and the offset; appends then go to a new segment. Returns NULL with err (EM_ERROR_IO
 * naming the path) when dir cannot be created or read, or (EM_ERROR_CORRUPT naming the file and
 * offset) when a segment other than the newest is damaged. opts may be NULL. The caller frees
 * the log with em__wal_close(). */
em_wal *em__wal_open(const char *dir, const em_wal_opts *opts, GError **err);
/* Closes the current segment and frees the log. NULL is allowed. */
void em__wal_close(em_wal *wal);
/* Appends data[0..n) as one record and fsyncs it; *seq gets its sequence number (the first is
 * 1, then one more each append, across segments and restarts). Returns false with err
 * (EM_ERROR_IO naming the segment) when it could not be written durably: then the block must
 * not be acknowledged. */
bool em__wal_append(em_wal *wal, const void *data, size_t n, uint64_t *seq, GError **err);
/* The sequence number of the newest record (0 for an empty log). */
uint64_t em__wal_last_seq(const em_wal *wal);

/* Receives one replayed record; data is valid during the call. Return false to stop. */
typedef bool (*em_wal_replay_fn)(uint64_t seq, const void *data, size_t n, void *ud);
/* Calls fn for every record whose sequence number is above after, in order. Returns false with
 * err when a segment cannot be read or is damaged (naming it and the offset). */
bool em__wal_replay(em_wal *wal, uint64_t after, em_wal_replay_fn fn, void *ud, GError **err);
/* Deletes the segments whose every record has a sequence number <= covered (what a completed
 * checkpoint covers); never the segment being written. Returns how many it deleted, or -1
 * with err when one could not be deleted. */
int em__wal_clean(em_wal *wal, uint64_t covered, GError **err);
/* The segment files of the log, oldest first (a new GPtrArray of paths). */
GPtrArray *em__wal_segments(const em_wal *wal);

#endif
