/* tr_analytics.h - market analytics of the engine: settings, detectors and alert rules.
 *
 * Pure computation, one owner (the engine thread), no I/O; the engine
 * (tr_engine.c) feeds these from its trade path and its closed candles and
 * turns their verdicts into events. docs/analytics.md has the reasoning.
 *
 * - tr_outlier: a trade price far from the recent ones, by a robust
 *   statistic. Reference = median of the last `window` trade prices, spread =
 *   their median absolute deviation (MAD), floored at floor_bps of the
 *   median so that a run of equal prices (MAD 0, common) does not make every
 *   tick an outlier. deviation = |price - median| / max(MAD, floor); an
 *   outlier has deviation > mads. The reference is recomputed every
 *   `window` trades (two branch-free selections over a copy), together with the price
 *   band [lo, hi] that deviation > mads means, so a trade costs one store
 *   and two compares; it is judged against the reference of the trades
 *   before it, and no verdict is given until the window is full.
 * - tr_spike: a closed candle's volume against the mean of the previous
 *   `window` closed candles of the same symbol and interval: score =
 *   volume / mean (TR_SPIKE_MULTIPLE) or (volume - mean) / standard deviation
 *   (TR_SPIKE_ZSCORE, population); a spike has score >= threshold. No verdict
 *   until the window is full, nor when the mean (multiple) or deviation
 *   (z-score) is 0.
 * - Alert rules (config `alert NAME KIND SYMBOL ARGS`, tr_alert_parse):
 *     cross  SYMBOL LEVEL          the last price crosses LEVEL (either way)
 *     change SYMBOL PCT WINDOW     |last - first trade of the last WINDOW| / first >= PCT %
 *     spike  SYMBOL [INTERVAL]     a volume spike of SYMBOL (of INTERVAL)
 *     stale  SYMBOL                SYMBOL goes stale
 *   SYMBOL is a name (any venue) or `*` (every symbol; not for cross).
 *   cross and change are edge-triggered per symbol: they fire when the
 *   condition becomes true and re-arm when it is false again.
 */
#ifndef TR_ANALYTICS_H
#define TR_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_abi.h"

#define TR_AN_MAX_RULES 64
#define TR_OUTLIER_MAX_WINDOW 4096
#define TR_SPIKE_MAX_WINDOW 1024

/* tr_ev_alert.rule_kind */
enum tr_alert_kind {
	TR_ALERT_CROSS = 1,
	TR_ALERT_CHANGE = 2,
	TR_ALERT_SPIKE = 3,
	TR_ALERT_STALE = 4
};

struct tr_alert_rule {
	char name[48];		  /* NUL-terminated, no spaces */
	char symbol[TR_NAME_LEN]; /* upper case, or "*" */
	uint32_t kind;		  /* enum tr_alert_kind */
	uint32_t interval_s;	  /* spike: 0 any */
	int64_t level;		  /* cross: price x 1e-8 */
	int64_t pct;		  /* change: percent x 1e-8 */
	int64_t window_ns;	  /* change: window, whole seconds, <= 24 h */
};

enum tr_spike_mode { TR_SPIKE_OFF = 0, TR_SPIKE_MULTIPLE = 1, TR_SPIKE_ZSCORE = 2 };

/* Every analytics setting (config directives in README). */
struct tr_an_config {
	bool enabled;		 /* `analytics`: candles, statistics, indicators, events */
	uint32_t refresh_us;	 /* `latest-refresh-us`: min gap between latest-table refreshes */
	uint32_t sma[4], ema[4]; /* `indicator-sma`, `indicator-ema`: periods, 0 = unused */
	uint32_t rsi;		 /* `indicator-rsi` */
	uint32_t macd[3];	 /* `indicator-macd` fast,slow,signal */
	uint32_t bb_period;	 /* `indicator-bb` period,k */
	int64_t bb_k;		 /* x 1e-8 */
	uint32_t spike_mode;	 /* `volume-spike` off | multiple X | zscore X */
	int64_t spike_threshold; /* x 1e-8 */
	uint32_t spike_window;	 /* `volume-spike-window` candles */
	uint32_t spike_intervals[TR_MAX_INTERVALS]; /* `volume-spike-intervals`, seconds */
	uint32_t nspike_intervals;
	int64_t outlier_mads;	    /* `outlier-mads` x 1e-8, 0 = off */
	uint32_t outlier_window;    /* `outlier-window` trades */
	uint32_t outlier_floor_bps; /* `outlier-floor-bps` */
	uint32_t stale_ms;	    /* `symbol-stale-ms`, 0 = off */
	bool warm_start;	    /* `warm-start`: indicators from the candle journal */
	struct tr_alert_rule rules[TR_AN_MAX_RULES]; /* `alert`, repeatable */
	uint32_t nrules;
};

void tr_an_config_default(struct tr_an_config *c);

/* 1 if name is an analytics directive. */
int tr_an_config_has(const char *name);

/* Apply one analytics directive (where: "file:line" or "--flag" for the
 * message). 0 or -EINVAL with tr_errmsg() naming where. */
int tr_an_config_set(struct tr_an_config *c, const char *name, const char *value,
		     const char *where);

/* Parse `NAME KIND SYMBOL ARGS...` into *r. 0 or -EINVAL with tr_errmsg(). */
int tr_alert_parse(const char *value, struct tr_alert_rule *r, const char *where);

/* "cross", "change", "spike", "stale", or NULL. */
const char *tr_alert_kind_name(unsigned kind);

/* ---- price outliers ---- */

struct tr_outlier {
	uint32_t window, n, pos, since; /* since: prices since the last recompute */
	int64_t mads;			/* threshold x 1e-8; 0 = off */
	uint32_t floor_bps;
	int valid;	  /* ref and mad are set */
	int64_t ref, mad; /* median, MAD (before the floor) */
	int64_t limit;	  /* max(mad, floor): the deviation unit */
	int64_t lo, hi;	  /* prices outside [lo, hi] are outliers (from ref, limit, mads) */
	int64_t *ring;	  /* window prices */
	int64_t *scratch; /* window, for the selections */
	int64_t *spare;	  /* window, the selections' second buffer */
};

/* 0 or -EINVAL (window < 4 or > TR_OUTLIER_MAX_WINDOW) / -ENOMEM. */
int tr_outlier_init(struct tr_outlier *o, uint32_t window, int64_t mads, uint32_t floor_bps);
void tr_outlier_free(struct tr_outlier *o);

/* Out of line parts of tr_outlier_check(): the deviation of an outlier
 * (returns 1), and the reference of the window, once per window trades. */
int tr_outlier_deviation(const struct tr_outlier *o, int64_t price, int64_t *deviation);
void tr_outlier_recompute(struct tr_outlier *o);

/* Judge price against the reference of the prices before it, then add it.
 * Returns 1 (outlier; *deviation = |price - ref| / limit x 1e-8, saturated)
 * or 0. Inline: on every trade, a store and a few compares. */
static inline int tr_outlier_check(struct tr_outlier *o, int64_t price, int64_t *deviation)
{
	int out = 0;

	if (o->valid && o->mads && (price < o->lo || price > o->hi))
		out = tr_outlier_deviation(o, price, deviation);
	o->ring[o->pos] = price;
	o->pos = o->pos + 1 == o->window ? 0 : o->pos + 1;
	if (o->n < o->window)
		o->n++;
	if (o->n == o->window && (!o->valid || ++o->since >= o->window))
		tr_outlier_recompute(o);
	return out;
}

/* ---- volume spikes ---- */

struct tr_spike {
	uint32_t window, n, pos;
	uint32_t mode;
	int64_t threshold; /* x 1e-8 */
	__int128 sum;	   /* of the volumes in the ring */
	int64_t ring[];	   /* window volumes */
};

/* NULL (errno EINVAL or ENOMEM) if window is 0 or above TR_SPIKE_MAX_WINDOW. */
struct tr_spike *tr_spike_new(uint32_t window, uint32_t mode, int64_t threshold);
void tr_spike_free(struct tr_spike *s);

/* A closed candle's volume: judge it against the window, then add it.
 * Returns 1 (spike: *baseline = mean, *score x 1e-8) or 0. */
int tr_spike_close(struct tr_spike *s, int64_t volume, int64_t *baseline, int64_t *score);

/* Replace the last volume added (a revised candle), without a verdict. */
void tr_spike_revise(struct tr_spike *s, int64_t volume);

#endif
