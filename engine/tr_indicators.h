/* tr_indicators.h - technical indicators on the closes of finished candles.
 *
 * One struct tr_ind per symbol and candle interval. Feed it the close of each
 * closed candle, in order; it keeps SMA and EMA (up to TR_IND_MAX_MA periods
 * each, default 20, 50, 200), RSI (Wilder, default 14), MACD (default
 * 12/26/9: line, signal, histogram) and Bollinger bands (default 20 periods,
 * 2 population standard deviations). Inputs and outputs are int64 mantissas
 * at 1e-8, like every price in tickring; RSI is 0..100 at 1e-8.
 *
 * Numbers. SMA and the Bollinger middle are exact: rolling sums in __int128,
 * one division rounded half away from zero. The Bollinger deviation takes
 * the exact integer n*sum(x^2) - sum(x)^2 and one long double square root.
 * EMA, RSI and MACD are recurrences with non-terminating fractions; they run
 * in long double and are rounded (half away from zero) only when published.
 *
 * Warm-up (docs/analytics.md): a value is defined only once its inputs are,
 * and its valid bit (TR_IND_*) is clear until then; an undefined field holds
 * TR_IND_UNDEF, never 0.
 *   SMA(n), Bollinger(n)  from the n-th close;
 *   EMA(n)                seeded with SMA(n) at the n-th close, then
 *                         ema += 2/(n+1) * (close - ema);
 *   RSI(n)                needs n changes (n+1 closes): the first average gain
 *                         and loss are the simple means of the first n, then
 *                         Wilder's avg = (avg*(n-1) + x)/n;
 *   MACD line             fast EMA - slow EMA, from the slow-th close;
 *   signal(s), histogram  EMA(s) of the MACD line seeded with the mean of its
 *                         first s values: from close slow + s - 1 (34).
 *
 * Cost: O(number of periods) per close, no allocation after tr_ind_create().
 * Threading: none; one owner (the engine thread).
 */
#ifndef TR_INDICATORS_H
#define TR_INDICATORS_H

#include <stddef.h>
#include <stdint.h>

#define TR_IND_MAX_MA 4	       /* SMA and EMA periods each */
#define TR_IND_MAX_PERIOD 4096 /* longest period of any indicator */
#define TR_IND_UNDEF INT64_MIN /* value of a field whose valid bit is clear */

/* Bollinger bands need the exact n*sum(x^2) in 128 bits: closes of magnitude
 * at or above this (about 45 million units) make the bands undefined while
 * they are in the window. Every other indicator takes any int64. */
#define TR_IND_BB_MAX_ABS ((int64_t)1 << 52)

/* tr_ind_values.valid bits */
#define TR_IND_SMA(i) (1u << (i))	/* i < TR_IND_MAX_MA */
#define TR_IND_EMA(i) (1u << (4 + (i))) /* i < TR_IND_MAX_MA */
#define TR_IND_RSI (1u << 8)
#define TR_IND_MACD (1u << 9)
#define TR_IND_MACD_SIGNAL (1u << 10)
#define TR_IND_MACD_HIST (1u << 11)
#define TR_IND_BB (1u << 12) /* bb_mid, bb_upper, bb_lower */

/* Periods of 0 switch an indicator off (its bit never sets). */
struct tr_ind_config {
	uint32_t sma[TR_IND_MAX_MA]; /* default 20, 50, 200, 0 */
	uint32_t ema[TR_IND_MAX_MA]; /* default 20, 50, 200, 0 */
	uint32_t rsi;		     /* default 14 */
	uint32_t macd_fast;	     /* default 12; MACD is on when fast, slow and signal are */
	uint32_t macd_slow;	     /* default 26; must exceed macd_fast */
	uint32_t macd_signal;	     /* default 9 */
	uint32_t bb_period;	     /* default 20 */
	uint32_t reserved;
	int64_t bb_k; /* band half-width in standard deviations x 1e-8; default 2e8 */
};

/* One snapshot, after the latest close. */
struct tr_ind_values {
	uint64_t closes; /* closes fed since create/reset */
	uint32_t valid;	 /* TR_IND_* */
	uint32_t reserved;
	int64_t sma[TR_IND_MAX_MA]; /* config.sma[i] */
	int64_t ema[TR_IND_MAX_MA]; /* config.ema[i] */
	int64_t rsi;		    /* 0..100 x 1e-8 */
	int64_t macd, macd_signal, macd_hist;
	int64_t bb_mid, bb_upper, bb_lower;
};

struct tr_ind;

/* Defaults above. */
void tr_ind_config_default(struct tr_ind_config *cfg);

/* Allocate the state (one allocation: the close ring is sized by the longest
 * SMA or Bollinger period). cfg may be NULL for the defaults. 0, -EINVAL (a
 * period above TR_IND_MAX_PERIOD, macd_slow <= macd_fast, bb_k < 0) or
 * -ENOMEM. */
int tr_ind_create(struct tr_ind **out, const struct tr_ind_config *cfg);
void tr_ind_free(struct tr_ind *ind);

/* Forget every close: back to the state after create. */
void tr_ind_reset(struct tr_ind *ind);

/* The close of the next closed candle. out, if not NULL, receives the values
 * after it. O(1) in the number of closes. */
void tr_ind_update(struct tr_ind *ind, int64_t close, struct tr_ind_values *out);

/* The last closed candle was revised (a late trade within the allowed
 * lateness): replace the last close fed, as if it had been `close` all
 * along. Repeatable. 0, or -ENOENT if no close was fed yet. */
int tr_ind_revise(struct tr_ind *ind, int64_t close, struct tr_ind_values *out);

/* Warm start: feed `count` historical closes, oldest first (the engine seeds
 * from its journal). Same as tr_ind_update() on each; out gets the last. */
void tr_ind_warm(struct tr_ind *ind, const int64_t *closes, size_t count,
		 struct tr_ind_values *out);

/* The values after the latest close (all undefined before the first). */
void tr_ind_get(const struct tr_ind *ind, struct tr_ind_values *out);

/* The configuration in use. */
const struct tr_ind_config *tr_ind_config(const struct tr_ind *ind);

#endif
