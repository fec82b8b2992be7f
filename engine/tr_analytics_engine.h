/* tr_analytics_engine.h - the engine's analytics: candles, statistics, indicators, events.
 *
 * tr_ae is what the engine does with a published trade beyond the ring:
 * candle builders per interval (tr_candle.h), the rolling 24 h and 1 h
 * windows (tr_stats24h.h), indicators on each closed candle
 * (tr_indicators.h), price outliers, volume spikes, stale symbols and alert
 * rules (tr_analytics.h), the latest-table copies of all of these, and the
 * movers table. It writes the latest table and the movers section through
 * the region writer and hands candle and event records to the engine's
 * publish callback (ring and journal).
 *
 * Cost model. A trade updates running state only: a few compares and adds
 * per candle interval, one add into the 24 h window, one store and compare
 * for the outlier check, and marks its symbol dirty. The latest-table copies
 * (current candles, 24 h statistics, 1 h change, indicators), whose exact
 * roundings need divisions, are refreshed lazily: at each engine commit for
 * every dirty symbol whose last refresh is at least refresh_us old (engine
 * receive clock), and for all dirty symbols on the timer. Partial candle
 * records go out at those refreshes too, sharing their arithmetic. So the
 * latest table trails the trade entry by at most one engine batch plus
 * refresh_us, or one timer period (100 ms) when the symbol went quiet.
 *
 * Time. "clock" is the engine's candle clock (exchange time, see
 * tr_engine.c); "recv" is the engine's receive clock (wall clock live, the
 * recorded receive time in a replay), used for stale symbols and refresh
 * pacing. Both follow the replayed clock in a replay.
 *
 * Threading: the engine thread only.
 */
#ifndef TR_ANALYTICS_ENGINE_H
#define TR_ANALYTICS_ENGINE_H

#include <stdint.h>

#include "tr_abi.h"
#include "tr_config.h"

struct tr_writer;
struct tr_ae;

/* Publish a record to ring kind (and the journal), counting it. */
typedef void (*tr_ae_publish_fn)(void *ctx, unsigned kind, void *rec);

/* 0, or -errno with tr_errmsg(). cfg is copied. */
int tr_ae_open(struct tr_ae **out, const struct tr_config *cfg, struct tr_writer *w,
	       tr_ae_publish_fn publish, void *ctx);

/* Finalize open candles (as at shutdown), refresh the latest table, free. */
void tr_ae_close(struct tr_ae *a);

/* Before a trade is published: the outlier check. Returns TR_TRADE_OUTLIER
 * (and reports the event after the trade is published) or 0. */
uint32_t tr_ae_check(struct tr_ae *a, const struct tr_trade *t);

/* A published trade (its seq set) at candle clock `clock`: candles, windows,
 * stale and alert checks, the latest table's trade. */
void tr_ae_trade(struct tr_ae *a, const struct tr_trade *t, int64_t clock);

/* Engine commit: refresh the due dirty symbols. recv is the receive clock. */
void tr_ae_commit(struct tr_ae *a, int64_t recv);

/* Timer (>= 10 Hz): close candles, age windows, stale symbols, refresh every
 * dirty symbol, re-rank movers once a second of clock. clock 0: no candle
 * clock yet (no trade seen); it never goes back. */
void tr_ae_tick(struct tr_ae *a, int64_t clock, int64_t recv);

/* The feed of venue_id reconnected: gap-flag the open candles. */
void tr_ae_feed_reset(struct tr_ae *a, unsigned venue_id);

/* Warm start: feed indicators (and spike baselines) the final candles of
 * the candle journal in dir, oldest first. Returns candles read, or -errno. */
long tr_ae_warm(struct tr_ae *a, const char *dir);

#endif
