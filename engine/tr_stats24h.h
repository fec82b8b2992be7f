/* tr_stats24h.h - rolling-window trade statistics (the exchange's 24 h ticker) and top movers.
 *
 * One struct tr_s24 per symbol and window. It keeps what Binance's 24 h ticker
 * shows - last, open (first trade in the window), high, low, change, change %,
 * volume, quote volume, trade count, first and last trade id, VWAP - over a
 * window of trade time that slides as trades arrive and as the engine's clock
 * advances. The window length is a parameter (24 h for the ticker); shorter
 * sub-windows ending at the same clock (1 h for the movers, alert windows)
 * ride on the same buckets (tr_s24_add_window).
 *
 * Window. Time is cut into buckets of bucket_ns (default 1 s) aligned to the
 * Unix epoch. At clock T (the latest trade time or tr_s24_advance() time) the
 * window is the whole buckets [floor(T) - window, T]: never shorter than
 * window_ns, up to one bucket longer, open_time on a bucket boundary. A trade
 * at time t leaves the window when the clock reaches
 * floor(t) + window_ns + bucket_ns (floor to the bucket). docs/analytics.md
 * compares this with Binance.
 *
 * Cost: O(1) amortised per trade and per advance: bucket sums are subtracted
 * as buckets expire, high and low come from monotonic deques of buckets.
 * Memory: only buckets that hold a trade are stored, in a ring that doubles
 * when full (at most window/bucket + 1 of them, 80 bytes each): a busy symbol
 * with 1 s buckets reaches about 7 MB for 24 h, a quiet one stays small.
 * Sums are exact (__int128) and rounded once on output.
 *
 * Threading: none; one owner (the engine thread).
 */
#ifndef TR_STATS24H_H
#define TR_STATS24H_H

#include <stddef.h>
#include <stdint.h>

#include "tr_abi.h"

struct tr_s24_config {
	int64_t window_ns; /* default 24 h */
	int64_t bucket_ns; /* default 1 s; must divide window_ns */
	uint32_t
	    initial_buckets; /* ring slots at create, rounded up to a power of two; default 64 */
	uint32_t reserved;
};

struct tr_s24;

/* A 24 h window of 1 s buckets. */
void tr_s24_config_default(struct tr_s24_config *cfg);

/* cfg may be NULL for the defaults. 0, -EINVAL (window_ns or bucket_ns <= 0,
 * bucket_ns not dividing window_ns) or -ENOMEM. */
int tr_s24_create(struct tr_s24 **out, const struct tr_s24_config *cfg);
void tr_s24_free(struct tr_s24 *s);

/* One trade: exchange time ts (ns), price and qty at 1e-8, its id, and
 * trade_count underlying trades (1, or last - first + 1 for an aggTrade).
 * Trades are expected in time order. One older than the newest trade already
 * counted is counted in that newest bucket (so it expires with it, slightly
 * later than its own time would say) and does not become `last`; one older
 * than the window start is ignored. Moves the clock to ts if ts is later.
 * Returns 0 (counted), 1 (ignored: before the window) or -ENOMEM (the ring
 * could not grow; the trade is not counted, the clock still moved). */
int tr_s24_add(struct tr_s24 *s, int64_t ts, int64_t price, int64_t qty, uint64_t trade_id,
	       uint32_t trade_count);

/* Trades that all fall in one bucket, summed up: what tr_s24_add() of each,
 * in the order they arrived, would count. first_*: the first to arrive;
 * last_*: the latest by time, of equal times the one that arrived last
 * (so last_ts is the largest time); count: sum of trade_count. */
struct tr_s24_batch {
	int64_t first_price;
	uint64_t first_id;
	int64_t last_ts, last_price;
	uint64_t last_id;
	int64_t high, low;
	uint64_t count;
	__int128 volume; /* x 1e-8 */
	__int128 quote;	 /* sum price*qty, x 1e-16 */
};

/* tr_s24_add() of every trade of a batch, for the work of one. Same return
 * values. */
int tr_s24_add_batch(struct tr_s24 *s, const struct tr_s24_batch *b);

/* tr_s24_add() of a published trade record (ts_event, price, qty, trade_id,
 * trade_count). Which prints count is the caller's choice. */
int tr_s24_add_trade(struct tr_s24 *s, const struct tr_trade *t);

/* Move the clock to `now` (ns; ignored if not later) and expire what left
 * the window. Call it on the engine's timer so quiet symbols age too; in
 * replay, with the replayed clock. */
void tr_s24_advance(struct tr_s24 *s, int64_t now);

/* Fill *out for the current window (no clock movement: advance first).
 *   last, last_trade_id, ts_update: the latest trade by time ever counted;
 *   open, first_trade_id: the first trade still in the window;
 *   change = last - open; change_pct = 100 * change / open at 1e-8 (0 if open is 0);
 *   volume, quote_volume (sum price*qty rounded once), vwap = quote_volume / volume,
 *   all rounded half away from zero and saturated to int64;
 *   open_time = start of the window, close_time = the clock.
 * An empty window after trades: open = high = low = last, change 0, counts,
 * volumes, vwap and ids 0. Returns 1 if the window holds trades, 0 if it is
 * empty, -ENODATA (and *out zeroed) if no trade was ever counted. */
int tr_s24_read(const struct tr_s24 *s, struct tr_stats24h *out);

/* What a movers ranking needs of tr_s24_read(), for one division instead of
 * three: sets only last, open, change_pct and trade_count of *out (the rest
 * is left as it was). Same return values as tr_s24_read(). */
int tr_s24_read_change(const struct tr_s24 *s, struct tr_stats24h *out);

/* Trades in the window, as tr_stats24h.trade_count. */
uint64_t tr_s24_trade_count(const struct tr_s24 *s);

/* Sub-windows: a shorter window ending at the same clock (the 1 h movers
 * window, an alert's "change within 5 min"), kept as a second head in the
 * same bucket ring, so a trade costs nothing more. window_ns must be a
 * multiple of bucket_ns and at most the main window. Returns its index (at
 * most TR_S24_MAX_WINDOWS of them) or -EINVAL / -ENOSPC. */
#define TR_S24_MAX_WINDOWS 8
int tr_s24_add_window(struct tr_s24 *s, int64_t window_ns);

/* The first trade still in sub-window w ([floor(T) - window, T] as for the
 * main window): 1 with *open set, 0 if the sub-window holds no trade. */
int tr_s24_window_open(const struct tr_s24 *s, unsigned w, int64_t *open);

/* The latest trade price ever counted (tr_stats24h.last); 0 before any. */
int64_t tr_s24_last(const struct tr_s24 *s);

/* Rank the symbols by change_pct: stats[i] is symbol i's window (24 h or
 * 1 h; NULL or trade_count 0: not ranked). Fills symbol_id, change_pct,
 * last and open of struct tr_mover (shm/tr_abi.h). Writes the n largest changes,
 * largest first, to best[] and the n smallest, smallest first, to worst[];
 * equal changes rank the lower symbol id first. With fewer than 2n ranked
 * symbols a symbol can appear in both lists. Returns how many entries each
 * list got (min(n, ranked)). O(count * n): meant for a timer, not per trade. */
size_t tr_s24_movers(const struct tr_stats24h *const *stats, size_t count, size_t n,
		     struct tr_mover *best, struct tr_mover *worst);

#endif
