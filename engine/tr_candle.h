/* tr_candle.h - candle (kline) builder: trades in, exchange-identical candles out.
 *
 * One builder per symbol and interval. It is pure and synchronous: no clock,
 * no I/O, no locks, no allocation after tr_candle_new(). The caller feeds it
 * trades (tr_candle_add) and the time (tr_candle_advance); it hands records
 * to the caller's emit callback from inside those calls. docs/candles.md has
 * the rules and the reasoning; in short:
 *
 * - Buckets: by trade time (tr_trade.ts_event), never receive time, aligned
 *   to UTC: open_time = floor(ts / interval) * interval since the epoch, except
 *   1w, which opens on Monday 00:00 UTC like Binance's weekly klines (the
 *   epoch was a Thursday, so weeks are offset by 4 days). Intervals: Binance's
 *   set 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w, nothing else.
 * - Fields: those of a Binance kline, plus vwap, first/last trade id, flags and
 *   revision; close time is open_time + interval - 1 ms (not stored: the
 *   struct tr_candle comment). Trades flagged TR_TRADE_NONMARKET are not
 *   counted at all. TR_TRADE_AGG trades add trade_count (last - first + 1)
 *   to the trade count, and their first/last_trade_id are aggregate ids.
 *   open/close are the prices of the earliest/latest trade by (ts_event,
 *   trade_id), so arrival order does not matter.
 * - Exactness: price*qty is summed exactly in __int128 at 1e-16 and rounded
 *   once, half to even, to 1e-8 when a record is made; vwap is the exact
 *   1e-16 sum divided by volume, rounded half to even to 1e-8 (0 when the
 *   volume is 0). A sum that leaves int64 at 1e-8 saturates at INT64_MAX (the
 *   trade count at UINT32_MAX) and sets TR_CANDLE_OVERFLOW.
 * - Time: "now" is the caller's clock (wall clock live, the replayed clock in
 *   replay). watermark = now - lateness_ns. A bucket becomes final when its
 *   end (open_time + interval) <= watermark; its final record is emitted
 *   once, revision 0. A trade for a final bucket is applied and the bucket
 *   re-emitted, final, with revision + 1 (saturating at 255) while
 *   watermark < end + revise_ns; after that it is reported as
 *   TR_CANDLE_ADD_LATE and not applied.
 * - Window: the builder keeps a fixed ring of buckets (cfg.slots, auto-sized
 *   from lateness + revise). When a trade opens a bucket a whole ring ahead
 *   of an open one, the older buckets are finalized early, as if the
 *   watermark had passed them, so feeding trades without any advance() call
 *   (a one-pass replay) still yields each final exactly once.
 * - Empty buckets: TR_CANDLE_POLICY_SKIP emits nothing; TR_CANDLE_POLICY_FLAT
 *   emits a final flat candle at the previous close, zero volume and count,
 *   flag TR_CANDLE_EMPTY (none before the first trade). Under FLAT, a jump of
 *   the clock or of trade times emits one record per empty bucket: the engine
 *   must reject absurd trade times before they get here.
 *   A revision does not re-issue the flat candles after it (they keep the old
 *   close).
 * - Partials: after a trade changes an open bucket, a partial record (flags
 *   without TR_CANDLE_FINAL) is emitted if the previous partial of this
 *   builder is at least 1 s / partial_per_s old in the caller's clock;
 *   advance() emits a pending one once allowed. With cfg.lazy_partials the
 *   trade path emits none and the caller asks with tr_candle_partial(). A
 *   bucket's partials always precede its final record. tr_candle_current()
 *   is always up to date.
 * - Cost: a trade into the newest open bucket (the common case) is a few
 *   compares and adds; the divisions of a record (quote volumes, vwap) are
 *   made when a record is made, and a record is only remade after a change.
 *
 * Records: the emit callback gets a pointer to a builder-owned struct
 * tr_candle valid during the call; seq is 0 and the callback may set it
 * (the ring writer stamps it); the builder clears it again. The callback
 * must not call back into the same builder.
 *
 * Threading: a builder is used by one thread at a time.
 */
#ifndef TR_CANDLE_H
#define TR_CANDLE_H

#include <stdint.h>

#include "tr_abi.h"

/* Empty-interval policy. */
enum tr_candle_policy {
	TR_CANDLE_POLICY_SKIP = 0, /* no record for an interval without trades */
	TR_CANDLE_POLICY_FLAT = 1  /* flat candle at the previous close, TR_CANDLE_EMPTY */
};

/* What tr_candle_add() did with a trade (negative: -EINVAL, not applied). */
enum tr_candle_add_result {
	TR_CANDLE_ADD_APPLIED = 0,   /* into an open bucket */
	TR_CANDLE_ADD_REVISED = 1,   /* into a final bucket, re-emitted with revision + 1 */
	TR_CANDLE_ADD_NONMARKET = 2, /* TR_TRADE_NONMARKET: not counted in candles */
	TR_CANDLE_ADD_LATE = 3	     /* too late for its bucket: not applied; count and report */
};

#define TR_CANDLE_MAX_SLOTS 4096u

/* c is the builder's record; the callback may stamp its seq (publishing it
 * as it is, without a copy), and nothing else. */
typedef void (*tr_candle_emit_fn)(void *ctx, struct tr_candle *c);

struct tr_candle_cfg {
	uint32_t interval_s;	/* one of Binance's intervals (tr_candle_interval_valid) */
	uint32_t symbol_id;	/* copied into records */
	uint16_t venue_id;	/* copied into records */
	uint8_t policy;		/* enum tr_candle_policy */
	uint32_t partial_per_s; /* max partial records per second; 0 = none */
	int64_t lateness_ns;	/* watermark = now - lateness_ns; >= 0 */
	int64_t revise_ns;	/* revisions accepted while watermark < end + revise_ns; >= 0 */
	uint32_t slots;		/* bucket ring size; 0 = auto (see tr_candle_new) */
	uint8_t lazy_partials;	/* 1: tr_candle_add emits no partial; tr_candle_partial does */
	tr_candle_emit_fn emit; /* may be NULL (records are then only readable via current) */
	void *ctx;
};

struct tr_candle_builder;

/* 1 if interval_s is one of Binance's kline intervals, else 0. */
int tr_candle_interval_valid(uint32_t interval_s);

/* UTC-aligned open time (ns) of the interval containing ts_ns. interval_s
 * must be valid. */
int64_t tr_candle_align(uint32_t interval_s, int64_t ts_ns);

/* Allocate a builder. Auto slots = ceil((lateness + revise + 2 s) / interval)
 * + 3, at least 4, at most TR_CANDLE_MAX_SLOTS. Returns NULL with errno
 * EINVAL (bad interval, negative lateness/revise, slots out of range) or
 * ENOMEM. The cfg is copied. */
struct tr_candle_builder *tr_candle_new(const struct tr_candle_cfg *cfg);
void tr_candle_free(struct tr_candle_builder *b);

/* Feed one trade seen at caller time now_ns. Returns a tr_candle_add_result,
 * or -EINVAL (price or qty <= 0; nothing changes). May emit records: a
 * partial, a revision, early finals (window overflow), empty candles. */
int tr_candle_add(struct tr_candle_builder *b, const struct tr_trade *t, int64_t now_ns);

/* Tell the builder the time: finalize every bucket whose end <= now_ns -
 * lateness_ns (emitting finals and, under FLAT, empty candles in time order),
 * then emit a pending partial if the rate allows. Time never goes back: an
 * older now_ns finalizes nothing. Returns the number of final records
 * emitted. */
int tr_candle_advance(struct tr_candle_builder *b, int64_t now_ns);

/* An aggregate of trades whose times all fall in one span [span_lo, span_hi)
 * that lies inside one bucket of every interval (the engine uses 1 s spans,
 * since every kline boundary is a whole second). Merging it into a builder
 * gives the same candle as adding its trades one by one, for one bucket's
 * work instead of one per trade. Market trades with price, qty > 0 only. */
struct tr_candle_agg {
	int64_t span_lo, span_hi;
	int64_t open, high, low, close;
	int64_t open_ts, close_ts, ts_update;
	uint64_t open_id, close_id, first_id, last_id;
	int64_t volume, tb_volume;
	__int128 quote, tb_quote; /* x 1e-16 */
	uint32_t trade_count;	  /* underlying trades */
	uint32_t trades;	  /* records added */
	uint8_t flags;		  /* TR_CANDLE_GAP, TR_CANDLE_OVERFLOW */
	/* quote and tb_quote as floor(/1e8) and remainder, set by
	 * tr_candle_agg_split() (split: valid for the trades added so far) */
	uint64_t q8, q8r, tq8, tq8r;
	uint8_t split;
	/* For a rolling window fed by the same aggregate (tr_s24_batch): the
	 * first trade to arrive, and the latest by time, of equal times the
	 * last to arrive. */
	int64_t arr_price;
	uint64_t arr_id;
	int64_t lat_ts, lat_price;
	uint64_t lat_id;
};

void tr_candle_agg_reset(struct tr_candle_agg *g, int64_t span_lo, int64_t span_hi);
void tr_candle_agg_add(struct tr_candle_agg *g, const struct tr_trade *t);

/* Divide the aggregate's quote sums by 1e8 once, for every builder it is
 * merged into next: a builder keeps its quote sums split the same way, so a
 * record rounds them with no division. Optional (a merge of an aggregate
 * not split since its last add divides on its own); the result is the same. */
void tr_candle_agg_split(struct tr_candle_agg *g);

/* Merge an aggregate (see above) as tr_candle_add() would its trades. Meant
 * for an aggregate whose bucket is open (tr_candle_open_for() was 1 for its
 * span and no advance() ran since); a final bucket is revised once. */
int tr_candle_add_agg(struct tr_candle_builder *b, const struct tr_candle_agg *g, int64_t now_ns);

/* 1 if a trade at ts would go into an open bucket (not a revision or late). */
int tr_candle_open_for(const struct tr_candle_builder *b, int64_t ts);

/* Emit the newest candle as a partial if it changed since the last partial
 * and the rate allows (the engine calls it when it refreshes the latest
 * table, so a partial and the latest-table copy share one materialization).
 * Returns 1 if a partial went out. */
int tr_candle_partial(struct tr_candle_builder *b, int64_t now_ns);

/* The engine timer's whole step for one builder: merge g (NULL or empty:
 * nothing), advance to now_ns (finals, a due partial), and return
 * tr_candle_current(). One call instead of three per builder and run. */
const struct tr_candle *tr_candle_tick(struct tr_candle_builder *b, const struct tr_candle_agg *g,
				       int64_t now_ns);

/* Finalize every open bucket now, regardless of the watermark (end of a
 * replay, shutdown). Returns the number of final records emitted. */
int tr_candle_flush(struct tr_candle_builder *b);

/* A data gap or reconnect was detected: set TR_CANDLE_GAP on the newest open
 * candle and on the next bucket a trade opens (and on empty candles emitted
 * until then). A trade carrying TR_TRADE_GAP sets it on its own candle. */
void tr_candle_mark_gap(struct tr_candle_builder *b);

/* The newest candle (open, or the last final one), made up to date; NULL
 * before the first trade. Valid until the next call on this builder. */
const struct tr_candle *tr_candle_current(struct tr_candle_builder *b);

/* Interval length in ns of a builder. */
int64_t tr_candle_interval_ns(const struct tr_candle_builder *b);

#endif
