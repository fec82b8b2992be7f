/* tr_indicators.c - SMA, EMA, RSI, MACD and Bollinger bands, one close at a time.
 *
 * All the state that one close changes lives in struct ind_core, a few
 * hundred bytes of scalars; the closes themselves sit in a ring behind it.
 * tr_ind_update() copies the core to `prev` before applying a close, so that
 * tr_ind_revise() can put it back and apply the corrected close instead: a
 * revision costs the same as an update and needs no history.
 *
 * The ring holds the last `cap` closes, cap = longest windowed period + 1.
 * When close number k arrives in slot `pos`, the close leaving a window of
 * period p (number k - p) is in slot pos - p (mod cap). The + 1 keeps that
 * slot distinct from `pos` for every p, so a revision, which rewrites slot
 * `pos`, never loses a close some window still has to subtract.
 *
 * Exactness: SMA sums are exact in __int128 (4096 closes of 2^63 need 75
 * bits). The Bollinger variance n^2*var = n*sum(x^2) - sum(x)^2 is exact in
 * unsigned __int128 while |x| < 2^52 and n <= 4096 (n*sum(x^2) < 2^128,
 * |sum(x)| < 2^64); closes beyond that are counted and the bands are
 * undefined while one is in the window. Recurrences (EMA, Wilder, MACD) run
 * in long double: 64-bit mantissa, so on x86-64 a BTC price of 6e12
 * mantissa units carries an error near 1e-6 units, far below the 1e-8
 * rounding of the published value.
 */
#include "tr_indicators.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

/* An EMA seeded with the mean of its first p inputs (exact while seeding). */
struct ind_ema {
	i128 seed;
	long double v;
};

struct ind_core {
	uint64_t n;	 /* closes applied */
	uint32_t pos;	 /* ring slot of the next close */
	uint32_t bb_big; /* closes in the Bollinger window with |x| >= TR_IND_BB_MAX_ABS */
	int64_t last;	 /* previous close, for RSI */
	i128 sma_sum[TR_IND_MAX_MA];
	struct ind_ema ema[TR_IND_MAX_MA];
	i128 bb_sum;
	u128 bb_sumsq; /* squares of the closes below TR_IND_BB_MAX_ABS only */
	i128 gain_seed, loss_seed;
	long double avg_gain, avg_loss;
	struct ind_ema fast, slow;
	uint64_t macd_n; /* MACD line values so far */
	long double sig_seed, sig;
};

struct tr_ind {
	struct tr_ind_config cfg;
	uint32_t cap; /* ring slots */
	struct ind_core core, prev;
	int64_t ring[]; /* cap closes */
};

void tr_ind_config_default(struct tr_ind_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sma[0] = cfg->ema[0] = 20;
	cfg->sma[1] = cfg->ema[1] = 50;
	cfg->sma[2] = cfg->ema[2] = 200;
	cfg->rsi = 14;
	cfg->macd_fast = 12;
	cfg->macd_slow = 26;
	cfg->macd_signal = 9;
	cfg->bb_period = 20;
	cfg->bb_k = 200000000;
}

static int macd_on(const struct tr_ind_config *c)
{
	return c->macd_fast && c->macd_slow && c->macd_signal;
}

int tr_ind_create(struct tr_ind **out, const struct tr_ind_config *cfg)
{
	struct tr_ind_config def;
	uint32_t longest;
	struct tr_ind *ind;

	if (!cfg) {
		tr_ind_config_default(&def);
		cfg = &def;
	}
	const uint32_t periods[] = {cfg->sma[0],   cfg->sma[1],	   cfg->sma[2],	   cfg->sma[3],
				    cfg->ema[0],   cfg->ema[1],	   cfg->ema[2],	   cfg->ema[3],
				    cfg->rsi,	   cfg->macd_fast, cfg->macd_slow, cfg->macd_signal,
				    cfg->bb_period};
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
		if (periods[i] > TR_IND_MAX_PERIOD)
			return -EINVAL;
	if (macd_on(cfg) && cfg->macd_slow <= cfg->macd_fast)
		return -EINVAL;
	if (cfg->bb_k < 0)
		return -EINVAL;
	longest = cfg->bb_period;
	for (int i = 0; i < TR_IND_MAX_MA; i++)
		if (cfg->sma[i] > longest)
			longest = cfg->sma[i];
	ind = calloc(1, sizeof(*ind) + (longest + 1) * sizeof(int64_t));
	if (!ind)
		return -ENOMEM;
	ind->cfg = *cfg;
	ind->cap = longest + 1;
	*out = ind;
	return 0;
}

void tr_ind_free(struct tr_ind *ind)
{
	free(ind);
}

void tr_ind_reset(struct tr_ind *ind)
{
	memset(&ind->core, 0, sizeof(ind->core));
	memset(&ind->prev, 0, sizeof(ind->prev));
	memset(ind->ring, 0, ind->cap * sizeof(int64_t));
}

const struct tr_ind_config *tr_ind_config(const struct tr_ind *ind)
{
	return &ind->cfg;
}

/* Input number k (from 1) of an EMA of period p. */
static void ema_step(struct ind_ema *e, uint32_t p, uint64_t k, int64_t x)
{
	if (k < p) {
		e->seed += x;
	} else if (k == p) {
		e->seed += x;
		e->v = (long double)e->seed / p;
	} else {
		e->v += ((long double)x - e->v) * 2.0L / (p + 1.0L);
	}
}

/* The ring slot of the close leaving a window of period p (p < cap):
 * pos - p mod cap, without a division. */
static uint32_t leaving(const struct tr_ind *ind, uint32_t p)
{
	uint32_t j = ind->core.pos + ind->cap - p;

	return j >= ind->cap ? j - ind->cap : j;
}

static void apply(struct tr_ind *ind, int64_t x)
{
	const struct tr_ind_config *cfg = &ind->cfg;
	struct ind_core *c = &ind->core;
	uint64_t k = ++c->n;

	for (int i = 0; i < TR_IND_MAX_MA; i++) {
		uint32_t p = cfg->sma[i];
		if (!p)
			continue;
		c->sma_sum[i] += x;
		if (k > p)
			c->sma_sum[i] -= ind->ring[leaving(ind, p)];
	}
	for (int i = 0; i < TR_IND_MAX_MA; i++)
		if (cfg->ema[i])
			ema_step(&c->ema[i], cfg->ema[i], k, x);

	if (cfg->bb_period) {
		uint32_t p = cfg->bb_period;
		c->bb_sum += x;
		if (x >= TR_IND_BB_MAX_ABS || x <= -TR_IND_BB_MAX_ABS)
			c->bb_big++;
		else
			c->bb_sumsq += (u128)((i128)x * x);
		if (k > p) {
			int64_t old = ind->ring[leaving(ind, p)];
			c->bb_sum -= old;
			if (old >= TR_IND_BB_MAX_ABS || old <= -TR_IND_BB_MAX_ABS)
				c->bb_big--;
			else
				c->bb_sumsq -= (u128)((i128)old * old);
		}
	}

	if (cfg->rsi && k >= 2) {
		uint32_t p = cfg->rsi;
		uint64_t m = k - 1; /* changes so far */
		i128 d = (i128)x - c->last;
		i128 g = d > 0 ? d : 0, l = d < 0 ? -d : 0;
		if (m <= p) {
			c->gain_seed += g;
			c->loss_seed += l;
			if (m == p) {
				c->avg_gain = (long double)c->gain_seed / p;
				c->avg_loss = (long double)c->loss_seed / p;
			}
		} else {
			c->avg_gain = (c->avg_gain * (p - 1) + (long double)g) / p;
			c->avg_loss = (c->avg_loss * (p - 1) + (long double)l) / p;
		}
	}
	c->last = x;

	if (macd_on(cfg)) {
		ema_step(&c->fast, cfg->macd_fast, k, x);
		ema_step(&c->slow, cfg->macd_slow, k, x);
		if (k >= cfg->macd_slow) {
			uint32_t s = cfg->macd_signal;
			long double line = c->fast.v - c->slow.v;
			uint64_t j = ++c->macd_n;
			if (j < s) {
				c->sig_seed += line;
			} else if (j == s) {
				c->sig_seed += line;
				c->sig = c->sig_seed / s;
			} else {
				c->sig += (line - c->sig) * 2.0L / (s + 1.0L);
			}
		}
	}

	ind->ring[c->pos] = x;
	c->pos = c->pos + 1 == ind->cap ? 0 : c->pos + 1;
}

/* num / den rounded half away from zero, den > 0, saturated to int64. On
 * the magnitude, one 128/64-bit hardware divide when the quotient fits 64
 * bits (always, for sums of periods <= 4096 closes), not two library calls. */
static int64_t div_round(i128 num, int64_t den)
{
	u128 mag = num < 0 ? -(u128)num : (u128)num;
	uint64_t hi = (uint64_t)(mag >> 64);
	i128 q, r;

#if defined(__x86_64__)
	if (hi < (uint64_t)den) {
		uint64_t qq, rr;

		__asm__("divq %4"
			: "=a"(qq), "=d"(rr)
			: "a"((uint64_t)mag), "d"(hi), "rm"((uint64_t)den));
		q = num < 0 ? -(i128)qq : (i128)qq;
		r = (i128)rr;
	} else
#endif
	{
		q = num / den;
		r = num % den;
	}
	if (r < 0)
		r = -r;
	if (2 * r >= den)
		q += num < 0 ? -1 : 1;
	if (q > INT64_MAX)
		return INT64_MAX;
	if (q < INT64_MIN + 1)
		return INT64_MIN + 1; /* INT64_MIN is TR_IND_UNDEF */
	return (int64_t)q;
}

/* Nearest int64, half away from zero, saturated. On x86 as llroundl()
 * gives it, for a third of its time: one x87 store in the default
 * rounding (to nearest, ties to even; exact below 2^63), then the exact
 * remainder moves a tie away from zero. */
static int64_t ld_round(long double v)
{
	if (v != v)
		return TR_IND_UNDEF;
	if (v >= 9223372036854775807.0L)
		return INT64_MAX;
	if (v <= -9223372036854775807.0L)
		return INT64_MIN + 1;
#if defined(__x86_64__) || defined(__i386__)
	int64_t r;

	__asm__("fistpll %0" : "=m"(r) : "t"(v) : "st");
	long double d = v - (long double)r;
	if (d == 0.5L && v > 0)
		r++;
	else if (d == -0.5L && v < 0)
		r--;
	return r;
#else
	return llroundl(v);
#endif
}

void tr_ind_get(const struct tr_ind *ind, struct tr_ind_values *out)
{
	const struct tr_ind_config *cfg = &ind->cfg;
	const struct ind_core *c = &ind->core;
	uint64_t k = c->n;

	out->closes = k;
	out->valid = 0;
	out->reserved = 0;
	for (int i = 0; i < TR_IND_MAX_MA; i++) {
		out->sma[i] = out->ema[i] = TR_IND_UNDEF;
		if (cfg->sma[i] && k >= cfg->sma[i]) {
			out->sma[i] = div_round(c->sma_sum[i], cfg->sma[i]);
			out->valid |= TR_IND_SMA(i);
		}
		if (cfg->ema[i] && k >= cfg->ema[i]) {
			out->ema[i] = ld_round(c->ema[i].v);
			out->valid |= TR_IND_EMA(i);
		}
	}

	out->rsi = TR_IND_UNDEF;
	if (cfg->rsi && k >= (uint64_t)cfg->rsi + 1) {
		long double g = c->avg_gain, l = c->avg_loss;
		/* TradingView's ta.rsi convention: no loss is 100 (also when flat), no gain 0. */
		if (l == 0)
			out->rsi = 10000000000;
		else if (g == 0)
			out->rsi = 0;
		else
			out->rsi = ld_round(1e10L * g / (g + l));
		out->valid |= TR_IND_RSI;
	}

	out->macd = out->macd_signal = out->macd_hist = TR_IND_UNDEF;
	if (macd_on(cfg) && k >= cfg->macd_slow) {
		long double line = c->fast.v - c->slow.v;
		out->macd = ld_round(line);
		out->valid |= TR_IND_MACD;
		if (c->macd_n >= cfg->macd_signal) {
			out->macd_signal = ld_round(c->sig);
			out->macd_hist = ld_round(line - c->sig);
			out->valid |= TR_IND_MACD_SIGNAL | TR_IND_MACD_HIST;
		}
	}

	out->bb_mid = out->bb_upper = out->bb_lower = TR_IND_UNDEF;
	if (cfg->bb_period && k >= cfg->bb_period && c->bb_big == 0) {
		uint32_t p = cfg->bb_period;
		u128 abs_sum = (u128)(c->bb_sum < 0 ? -c->bb_sum : c->bb_sum);
		u128 v = (u128)p * c->bb_sumsq - abs_sum * abs_sum; /* p^2 * variance >= 0 */
		long double mid = (long double)c->bb_sum / p;
		long double w = (long double)cfg->bb_k / 1e8L * sqrtl((long double)v) / p;
		out->bb_mid = div_round(c->bb_sum, p);
		out->bb_upper = v ? ld_round(mid + w) : out->bb_mid;
		out->bb_lower = v ? ld_round(mid - w) : out->bb_mid;
		out->valid |= TR_IND_BB;
	}
}

void tr_ind_update(struct tr_ind *ind, int64_t close, struct tr_ind_values *out)
{
	ind->prev = ind->core;
	apply(ind, close);
	if (out)
		tr_ind_get(ind, out);
}

int tr_ind_revise(struct tr_ind *ind, int64_t close, struct tr_ind_values *out)
{
	if (ind->core.n == 0)
		return -ENOENT;
	ind->core = ind->prev;
	apply(ind, close);
	if (out)
		tr_ind_get(ind, out);
	return 0;
}

void tr_ind_warm(struct tr_ind *ind, const int64_t *closes, size_t count, struct tr_ind_values *out)
{
	for (size_t i = 0; i < count; i++)
		tr_ind_update(ind, closes[i], NULL);
	if (out)
		tr_ind_get(ind, out);
}
