/* Event time on Ember's DataFrames (Spark's window(), withWatermark()): group rows by when they
 * happened rather than when they arrived, and bound the state of a streaming aggregation by a
 * watermark. Beside <ember/table.h>, whose em_df these operations take and return.
 *
 * A window is a column of type EM_COL_WINDOW: a row of two timestamps (start, end), in
 * microseconds since the epoch, printed by show() as Spark 3.5 prints the struct:
 * {2026-01-01 10:00:00, 2026-01-01 10:10:00}. */
#ifndef EMBER_EVENTTIME_H
#define EMBER_EVENTTIME_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
/* dropDuplicates(cols[0..n)) on a streaming table (n == 0: all columns): each row whose values
 * of cols were not seen before, once. With a watermark, rows at or before the previous batch's
 * watermark are dropped (numRowsDroppedByWatermark) and, when cols hold the event-time column,
 * a key is forgotten once the watermark passes its time, so state stays bounded (without, it
 * grows with the distinct keys, as Spark's). Append and update modes. NULL with err for an
 * unknown column, a static table (not supported yet) or a table already aggregated. */
EM_API em_df *em_df_drop_duplicates(const em_df *df, const char *const *cols, size_t n,
                                    GError **err);

/* withColumn(name, <batch time>) on a streaming table: every row with the time of the batch
 * that reads it, as a timestamp. Ember's stand-in for the socket source's includeTimestamp
 * (Spark stamps a line when it is read; Ember when its batch runs, at the end of the interval
 * it arrived in). NULL with err for a static table or a name already used. */
EM_API em_df *em_df_with_batch_time(const em_df *df, const char *name, GError **err);

#endif

#include <ember/table.h>

/* withColumn(name, window(ts_col, length, slide, start)): every row of df once for each window
 * of the timestamp column ts_col it falls in (one for a tumbling window, slide == length;
 * ceil(length / slide) candidates for a sliding one), the window in the new column name
 * ("window" when NULL). Windows start at start + k * slide, as Spark's TimeWindow: a window
 * holds the timestamps start <= ts < end. A null ts gives no row. Durations are in ms; length
 * and slide must be positive, slide <= length and |start| < slide, else NULL with err
 * (EM_ERROR_INVALID). A window of a watermarked ts_col carries the watermark (grouping by it
 * bounds the aggregation's state). The caller frees the result. */
EM_API em_df *em_df_window_full(const em_df *df, const char *ts_col, em_duration length,
                                em_duration slide, em_duration start, const char *name,
                                GError **err);
/* window(ts_col, length, slide) as "window", windows aligned on the epoch. */
#define em_df_window(df, ts_col, length, slide, err)                                              \
    em_df_window_full((df), (ts_col), (length), (slide), 0, NULL, (err))

/* withColumn(name, session_window(ts_col, gap)) on a streaming table: every row with the
 * session window [ts, ts + gap) in the new column name ("session_window" when NULL). Grouping
 * by it merges, per value of the other group columns, the sessions that overlap or touch (a
 * session starting at or before another's end), across batches, as Spark's session windows:
 * a session ends gap (ms, positive) after its last event. With a watermark on ts_col a session
 * is written in append mode once the watermark passes its end; complete mode writes all;
 * update mode is refused, as by Spark. NULL with err for a bad column or gap, or a static df
 * (not supported yet). */
EM_API em_df *em_df_session_window(const em_df *df, const char *ts_col, em_duration gap,
                                   const char *name, GError **err);

/* withWatermark(ts_col, delay): df with a watermark on its timestamp column ts_col: the largest
 * event time seen minus delay (ms), computed at the end of each batch, used from the next one,
 * never moving back (it starts at the epoch). An aggregation grouped by ts_col or a window of
 * it then drops the groups the previous batch's watermark passed (counted in the progress as
 * numRowsDroppedByWatermark), and evicts the groups the current one passes: append mode writes a
 * group once, when the watermark passes its end; update mode writes the groups that changed;
 * complete mode keeps and writes every group. The progress gets Spark's eventTime block. NULL
 * with err for an unknown or non-timestamp column, a negative delay or a static df. */
EM_API em_df *em_df_with_watermark(const em_df *df, const char *ts_col, em_duration delay,
                                   GError **err);

/* dropDuplicates(cols[0..n)) on a streaming table (n == 0: all columns): each row whose values
 * of cols were not seen before, once. With a watermark, rows at or before the previous batch's
 * watermark are dropped (numRowsDroppedByWatermark) and, when cols hold the event-time column,
 * a key is forgotten once the watermark passes its time, so state stays bounded (without, it
 * grows with the distinct keys, as Spark's). Append and update modes. NULL with err for an
 * unknown column, a static table (not supported yet) or a table already aggregated. */
EM_API em_df *em_df_drop_duplicates(const em_df *df, const char *const *cols, size_t n,
                                    GError **err);

/* The kinds of stream-stream join. */
typedef enum em_join_type {
    EM_JOIN_INNER,       /* the pairs that match */
    EM_JOIN_LEFT_OUTER,  /* ... and each left row that matched nothing, with nulls on the right */
    EM_JOIN_RIGHT_OUTER, /* ... and each right row that matched nothing, with nulls on the left */
} em_join_type;

/* left.join(right, expr(condition), type) on two streaming tables of the same ssc: Spark's
 * stream-stream join (StreamingSymmetricHashJoinExec). condition is Spark SQL's text in the
 * shape stream-stream joins take, conjuncts joined by AND, each one of
 *   a = b             a column of the left table and one of the right of the same type: a join
 *                     key (at least one is needed, as in Spark);
 *   a < b + interval 1 hour    a comparison (<, <=, >, >=) of a left timestamp column and a
 *                     right one, either side plus or minus intervals ("interval 1 hour",
 *                     "INTERVAL '30' minutes 10 seconds"; units millisecond, second, minute,
 *                     hour, day, week, singular or plural, any case);
 *   a BETWEEN b AND c a >= b AND a <= c.
 * Columns are named bare, or back-quoted; a name must not be in both tables. For example
 *   "clickAdId = adId AND clickTime BETWEEN impressionTime AND impressionTime + interval 1 hour"
 * The result has the left columns then the right columns. Each batch the left's new rows join
 * the right's buffered rows, then the right's new rows join the left's buffered rows and new
 * rows (each pair written once, in append mode only). With watermarks (em_df_with_watermark on
 * a side's timestamp column) the global watermark is the min of the sides' (Spark's
 * multipleWatermarkPolicy min); rows at or before the previous batch's are dropped as late, and
 * a side's buffered rows leave once the range condition and the global watermark say no future
 * row of the other side can match them (Spark's state value watermark), so the buffers stay
 * bounded; an outer join then writes its preserved side's unmatched rows with nulls, once (a
 * row already past its state watermark when it arrives meets the other side's rows of its
 * batch, then leaves at the batch's end, as in Spark 3.5). A checkpointed query logs both
 * sources' offsets (offsets/<id>: one line per source, left then right, as Spark's
 * OffsetSeqLog) and the global watermark (batchWatermarkMs), and keeps both buffers and each
 * side's watermark in its state; a restart re-runs an uncommitted batch with both sources'
 * logged ranges. The query's stateOperators
 * list the join ("symmetricHashJoin"). NULL with err (EM_ERROR_PARSE for the condition's text,
 * EM_ERROR_INVALID otherwise) for a static table, a column that is not in either table or is in
 * both, keys of different types, a range on non-timestamps, no equality, or an outer join
 * without a watermark on the nullable side and a range condition bounding the preserved side
 * (Spark's messages). The caller frees the result. */
EM_API em_df *em_df_join(const em_df *left, const em_df *right, const char *condition,
                         em_join_type type, GError **err);

/* withColumn(name, <batch time>) on a streaming table: every row with the time of the batch
 * that reads it, as a timestamp. Ember's stand-in for the socket source's includeTimestamp
 * (Spark stamps a line when it is read; Ember when its batch runs, at the end of the interval
 * it arrived in). NULL with err for a static table or a name already used. */
EM_API em_df *em_df_with_batch_time(const em_df *df, const char *name, GError **err);

#endif
