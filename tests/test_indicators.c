/* test_indicators.c - SMA, EMA, RSI, MACD, Bollinger: hand-worked and published series,
 * warm-up flags, revisions, warm start and BTC-sized prices.
 *
 * Expected values are either worked out in the comments, taken from a
 * published table, or recomputed here by a different route than the module's
 * (explicit sums and closed forms instead of running recurrences).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tr_indicators.h"

#define E8 100000000ll

static struct tr_ind *make(const struct tr_ind_config *cfg)
{
	struct tr_ind *ind = NULL;
	int rc = tr_ind_create(&ind, cfg);

	cr_assert_eq(rc, 0, "tr_ind_create: %d", rc);
	return ind;
}

/* The nearest int64 to v, half away from zero. */
static int64_t nearest(long double v)
{
	return llroundl(v);
}

static void expect_near(int64_t got, int64_t want, int64_t tol, const char *what, int k)
{
	int64_t d = got > want ? got - want : want - got;

	cr_assert(d <= tol, "%s at close %d: got %lld, want %lld (+-%lld)", what, k, (long long)got,
		  (long long)want, (long long)tol);
}

Test(indicators, sma_and_ema_of_a_ramp_are_hand_computable)
{
	/* Closes 1, 2, ..., 30. SMA(n) at close k is the mean of k-n+1..k = k - (n-1)/2.
	 * EMA(n) seeded with SMA(n) = (n+1)/2 at close n: if ema = (k-1) - (n-1)/2, then
	 * ema + 2/(n+1) * (k - ema) = (k-1) - (n-1)/2 + 2/(n+1) * (n+1)/2 = k - (n-1)/2,
	 * so on a ramp the EMA equals the SMA at every close from n on. */
	struct tr_ind_config cfg;
	tr_ind_config_default(&cfg);
	const uint32_t n[4] = {3, 5, 10, 30};
	for (int i = 0; i < 4; i++)
		cfg.sma[i] = cfg.ema[i] = n[i];
	struct tr_ind *ind = make(&cfg);
	struct tr_ind_values v;

	for (int k = 1; k <= 30; k++) {
		tr_ind_update(ind, k * E8, &v);
		cr_assert_eq(v.closes, (uint64_t)k);
		for (int i = 0; i < 4; i++) {
			if ((uint32_t)k < n[i]) {
				cr_assert_eq(v.valid & (TR_IND_SMA(i) | TR_IND_EMA(i)), 0);
				cr_assert_eq(v.sma[i], TR_IND_UNDEF);
				cr_assert_eq(v.ema[i], TR_IND_UNDEF);
				continue;
			}
			int64_t want = k * E8 - (int64_t)(n[i] - 1) * E8 / 2;
			cr_assert(v.valid & TR_IND_SMA(i));
			cr_assert(v.valid & TR_IND_EMA(i));
			cr_assert_eq(v.sma[i], want, "SMA(%u) at %d: %lld", n[i], k,
				     (long long)v.sma[i]);
			cr_assert_eq(v.ema[i], want, "EMA(%u) at %d: %lld", n[i], k,
				     (long long)v.ema[i]);
		}
	}
	/* Spot checks: SMA(10) at close 30 is 25.5, SMA(30) is 15.5. */
	cr_assert_eq(v.sma[2], 2550000000);
	cr_assert_eq(v.sma[3], 1550000000);
	tr_ind_free(ind);
}

Test(indicators, ema_after_a_step_is_worked_by_hand)
{
	/* EMA(3), alpha = 1/2: closes 2, 4, 6 seed it at (2+4+6)/3 = 4; then 10 gives
	 * 4 + (10-4)/2 = 7, then 7 gives 7, then 0 gives 3.5, then 1e-8 gives 1.75000000 + 0.5e-8
	 * = 1.750000005 -> rounds half away from zero to 1.75000001. */
	struct tr_ind_config cfg;
	tr_ind_config_default(&cfg);
	cfg.ema[0] = 3;
	cfg.ema[1] = cfg.ema[2] = 0;
	struct tr_ind *ind = make(&cfg);
	struct tr_ind_values v;
	const int64_t in[] = {2 * E8, 4 * E8, 6 * E8, 10 * E8, 7 * E8, 0, 1};
	const int64_t want[] = {0, 0, 4 * E8, 7 * E8, 7 * E8, 350000000, 175000001};

	for (int k = 0; k < 7; k++) {
		tr_ind_update(ind, in[k], &v);
		if (k < 2) {
			cr_assert_eq(v.valid & TR_IND_EMA(0), 0);
			continue;
		}
		cr_assert(v.valid & TR_IND_EMA(0));
		cr_assert_eq(v.ema[0], want[k], "close %d: %lld", k + 1, (long long)v.ema[0]);
	}
	cr_assert_eq(v.valid & (TR_IND_EMA(1) | TR_IND_EMA(2) | TR_IND_EMA(3)), 0);
	tr_ind_free(ind);
}

/* The RSI worked example published by StockCharts ("Relative Strength Index",
 * ChartSchool, cs-rsi.xls): 33 closes, 14-period Wilder RSI. Their table, to two
 * decimals, from the 15th close: 70.53 66.32 66.55 69.41 66.36 57.97 62.93 63.26
 * 56.06 62.38 54.71 50.42 39.99 41.46 41.87 45.46 37.30 33.08 37.77.
 *
 * By hand, the first value: the 14 changes from 44.3389 to 46.2820 gain 3.3374
 * in total and lose 1.3943, so avg gain = 3.3374/14 = 0.238385714..., avg loss
 * = 1.3943/14 = 0.099592857..., RSI = 100 * 3.3374 / (3.3374 + 1.3943) =
 * 333740 / 4.7317 = 70.53278948... Then avg = (avg*13 + change)/14 each close.
 * The exact rationals, rounded at 1e-8, are in rsi_exact[] (computed with
 * exact fractions, outside the module). */
static const char *const rsi_closes[] = {
    "44.3389", "44.0902", "44.1497", "43.6124", "44.3278", "44.8264", "45.0955",
    "45.4245", "45.8433", "46.0826", "45.8931", "46.0328", "45.6140", "46.2820",
    "46.2820", "46.0028", "46.0328", "46.4116", "46.2222", "45.6439", "46.2122",
    "46.2521", "45.7137", "46.4515", "45.7835", "45.3548", "44.0288", "44.1783",
    "44.2181", "44.5672", "43.4205", "42.6628", "43.1314"};
static const int64_t rsi_exact[] = {7053278948, 6631856181, 6654982994, 6940630534, 6635516906,
				    5797485571, 6292960675, 6325714756, 5605929872, 6237707144,
				    5470757308, 5042277441, 3998982315, 4146048198, 4186891609,
				    4546321245, 3730404209, 3307952299, 3777295211};
static const int rsi_published[] = {7053, 6632, 6655, 6941, 6636, 5797, 6293, 6326, 5606, 6238,
				    5471, 5042, 3999, 4146, 4187, 4546, 3730, 3308, 3777};

static int64_t dec(const char *s)
{
	/* "44.3389" -> 4433890000 */
	int64_t ip = 0, fp = 0, scale = E8;
	while (*s && *s != '.')
		ip = ip * 10 + (*s++ - '0');
	if (*s == '.')
		for (s++; *s; s++) {
			scale /= 10;
			fp += (*s - '0') * scale;
		}
	return ip * E8 + fp;
}

Test(indicators, rsi_matches_the_published_wilder_example)
{
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;

	for (int k = 1; k <= 33; k++) {
		tr_ind_update(ind, dec(rsi_closes[k - 1]), &v);
		if (k < 15) {
			cr_assert_eq(v.valid & TR_IND_RSI, 0, "RSI defined at close %d", k);
			cr_assert_eq(v.rsi, TR_IND_UNDEF);
			continue;
		}
		cr_assert(v.valid & TR_IND_RSI);
		cr_assert_eq(v.rsi, rsi_exact[k - 15], "close %d: %lld, exact %lld", k,
			     (long long)v.rsi, (long long)rsi_exact[k - 15]);
		/* and the published two decimals */
		cr_assert_eq((v.rsi + 500000) / 1000000, rsi_published[k - 15], "close %d", k);
	}
	tr_ind_free(ind);
}

Test(indicators, rsi_edges_follow_the_tradingview_convention)
{
	struct tr_ind_config cfg;
	tr_ind_config_default(&cfg);
	cfg.rsi = 3;
	struct tr_ind *up = make(&cfg), *down = make(&cfg), *flat = make(&cfg);
	struct tr_ind_values a, b, c;

	for (int k = 0; k < 4; k++) {
		tr_ind_update(up, (100 + k) * E8, &a);
		tr_ind_update(down, (100 - k) * E8, &b);
		tr_ind_update(flat, 100 * E8, &c);
	}
	cr_assert(a.valid & b.valid & c.valid & TR_IND_RSI);
	cr_assert_eq(a.rsi, 100 * E8); /* no loss */
	cr_assert_eq(b.rsi, 0);	       /* no gain */
	cr_assert_eq(c.rsi, 100 * E8); /* no change: TradingView's ta.rsi gives 100 */
	tr_ind_free(up);
	tr_ind_free(down);
	tr_ind_free(flat);
}

/* SMA-seeded EMA of xs[0..k) in closed form, no recurrence:
 * e_k = (1-a)^(k-p) * mean(x_1..x_p) + sum_{j=p+1..k} a * (1-a)^(k-j) * x_j. */
static long double ema_closed(const long double *xs, int k, int p)
{
	long double a = 2.0L / (p + 1), seed = 0, e;

	for (int j = 0; j < p; j++)
		seed += xs[j];
	e = powl(1 - a, k - p) * seed / p;
	for (int j = p + 1; j <= k; j++)
		e += a * powl(1 - a, k - j) * xs[j - 1];
	return e;
}

static int64_t macd_series(int i)
{
	return 10000000000 + ((i * 37 % 23) - 11) * 12345678ll + i * 25000000ll;
}

Test(indicators, macd_matches_an_independent_recomputation)
{
	enum { N = 60 };
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;
	long double xs[N], line[N];

	for (int i = 0; i < N; i++)
		xs[i] = (long double)macd_series(i);
	for (int k = 26; k <= N; k++)
		line[k - 26] = ema_closed(xs, k, 12) - ema_closed(xs, k, 26);

	for (int k = 1; k <= N; k++) {
		tr_ind_update(ind, macd_series(k - 1), &v);
		if (k < 26) {
			cr_assert_eq(
			    v.valid & (TR_IND_MACD | TR_IND_MACD_SIGNAL | TR_IND_MACD_HIST), 0);
			cr_assert_eq(v.macd, TR_IND_UNDEF);
			continue;
		}
		cr_assert(v.valid & TR_IND_MACD, "close %d", k);
		expect_near(v.macd, nearest(line[k - 26]), 1, "macd", k);
		if (k < 34) {
			cr_assert_eq(v.valid & (TR_IND_MACD_SIGNAL | TR_IND_MACD_HIST), 0);
			cr_assert_eq(v.macd_signal, TR_IND_UNDEF);
			cr_assert_eq(v.macd_hist, TR_IND_UNDEF);
			continue;
		}
		long double sig = ema_closed(line, k - 25, 9);
		cr_assert(v.valid & TR_IND_MACD_SIGNAL);
		cr_assert(v.valid & TR_IND_MACD_HIST);
		expect_near(v.macd_signal, nearest(sig), 1, "signal", k);
		expect_near(v.macd_hist, nearest(line[k - 26] - sig), 1, "hist", k);
		/* Exact rationals (fractions, outside the module), rounded at 1e-8. */
		if (k == 34) {
			cr_assert_eq(v.macd, 168097597);
			cr_assert_eq(v.macd_signal, 171211747);
			cr_assert_eq(v.macd_hist, -3114150);
		}
		if (k == 60) {
			cr_assert_eq(v.macd, 181989964);
			cr_assert_eq(v.macd_signal, 174363341);
			cr_assert_eq(v.macd_hist, 7626623);
		}
	}
	tr_ind_free(ind);
}

Test(indicators, bollinger_collapses_on_a_constant_series)
{
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;

	for (int k = 1; k <= 40; k++) {
		tr_ind_update(ind, 6000012345678, &v);
		if (k < 20) {
			cr_assert_eq(v.valid & TR_IND_BB, 0);
			cr_assert_eq(v.bb_mid, TR_IND_UNDEF);
			continue;
		}
		cr_assert(v.valid & TR_IND_BB);
		cr_assert_eq(v.bb_mid, 6000012345678);
		cr_assert_eq(v.bb_upper, 6000012345678);
		cr_assert_eq(v.bb_lower, 6000012345678);
	}
	tr_ind_free(ind);
}

Test(indicators, bollinger_uses_the_population_deviation)
{
	/* Closes 1..20: mean 10.5; population variance (20^2 - 1)/12 = 33.25, sd =
	 * 5.76628129733539...; upper = 10.5 + 2 sd = 22.03256259467..., lower =
	 * -1.03256259467... (the sample deviation would give 5.916...: not this). Then
	 * close 21 slides the window to 2..21: same spread, mean 11.5. */
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;

	for (int k = 1; k <= 20; k++)
		tr_ind_update(ind, k * E8, &v);
	cr_assert(v.valid & TR_IND_BB);
	cr_assert_eq(v.bb_mid, 1050000000);
	cr_assert_eq(v.bb_upper, 2203256259);
	cr_assert_eq(v.bb_lower, -103256259);
	tr_ind_update(ind, 21 * E8, &v);
	cr_assert_eq(v.bb_mid, 1150000000);
	cr_assert_eq(v.bb_upper, 2303256259);
	cr_assert_eq(v.bb_lower, -3256259);
	tr_ind_free(ind);
}

Test(indicators, warm_up_sets_each_bit_at_its_documented_close)
{
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;

	tr_ind_get(ind, &v);
	cr_assert_eq(v.valid, 0);
	cr_assert_eq(v.closes, 0);
	for (int k = 1; k <= 210; k++) {
		tr_ind_update(ind, (60000 + (k % 7)) * E8, &v);
		uint32_t want = 0;
		if (k >= 20)
			want |= TR_IND_SMA(0) | TR_IND_EMA(0) | TR_IND_BB;
		if (k >= 50)
			want |= TR_IND_SMA(1) | TR_IND_EMA(1);
		if (k >= 200)
			want |= TR_IND_SMA(2) | TR_IND_EMA(2);
		if (k >= 15)
			want |= TR_IND_RSI;
		if (k >= 26)
			want |= TR_IND_MACD;
		if (k >= 34)
			want |= TR_IND_MACD_SIGNAL | TR_IND_MACD_HIST;
		cr_assert_eq(v.valid, want, "close %d: valid %#x, want %#x", k, v.valid, want);
		cr_assert_eq(v.sma[3], TR_IND_UNDEF); /* slot 3 is off by default */
		cr_assert_eq(v.ema[3], TR_IND_UNDEF);
	}
	tr_ind_reset(ind);
	tr_ind_get(ind, &v);
	cr_assert_eq(v.valid, 0);
	cr_assert_eq(v.closes, 0);
	tr_ind_free(ind);
}

/* Deterministic pseudo-random closes around 60000 with 8 decimals. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

Test(indicators, btc_prices_keep_every_digit)
{
	enum { N = 400 };
	static int64_t x[N];
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;
	const uint32_t per[3] = {20, 50, 200};

	x[0] = 6000000000000; /* 60000.00000000 */
	for (int i = 1; i < N; i++)
		x[i] = x[i - 1] + (int64_t)(next_rand() % 20000000001ull) - 10000000000; /* +-100 */
	for (int k = 1; k <= N; k++) {
		tr_ind_update(ind, x[k - 1], &v);
		for (int i = 0; i < 3; i++) {
			if ((uint32_t)k < per[i])
				continue;
			/* SMA: exact sum of the last n, rounded half away from zero. */
			__int128 s = 0;
			for (int j = k - (int)per[i]; j < k; j++)
				s += x[j];
			__int128 q = s / per[i], r = s % per[i];
			if (2 * r >= per[i])
				q++;
			cr_assert_eq(v.sma[i], (int64_t)q, "SMA(%u) at %d", per[i], k);
			long double xs[N];
			for (int j = 0; j < k; j++)
				xs[j] = (long double)x[j];
			if (k % 37 == 0 || k == N)
				expect_near(v.ema[i], nearest(ema_closed(xs, k, per[i])), 1, "ema",
					    k);
		}
		if (k >= 20) {
			/* Bollinger by two passes: mean, then squared deviations. */
			long double m = 0, d2 = 0;
			for (int j = k - 20; j < k; j++)
				m += x[j];
			m /= 20;
			for (int j = k - 20; j < k; j++)
				d2 += (x[j] - m) * (x[j] - m);
			long double sd = sqrtl(d2 / 20);
			expect_near(v.bb_upper, nearest(m + 2 * sd), 1, "bb_upper", k);
			expect_near(v.bb_lower, nearest(m - 2 * sd), 1, "bb_lower", k);
			cr_assert_eq(v.bb_mid, v.sma[0]);
		}
	}
	cr_assert(v.valid & TR_IND_RSI);
	cr_assert(v.rsi > 0 && v.rsi < 100 * E8);
	tr_ind_free(ind);
}

Test(indicators, huge_closes_saturate_nothing_and_disable_only_the_bands)
{
	struct tr_ind *ind = make(NULL);
	struct tr_ind_values v;

	for (int k = 1; k <= 30; k++)
		tr_ind_update(ind, INT64_MAX - k, &v);
	/* mean of MAX-11 .. MAX-30 = MAX - 20.5, half away from zero: MAX - 20 */
	cr_assert_eq(v.sma[0], INT64_MAX - 20, "%lld", (long long)v.sma[0]);
	cr_assert(v.valid & TR_IND_EMA(0));
	cr_assert_eq(v.valid & TR_IND_BB, 0);
	cr_assert_eq(v.bb_upper, TR_IND_UNDEF);
	/* 20 ordinary closes later the big ones have left the window. */
	for (int k = 1; k <= 20; k++)
		tr_ind_update(ind, 5 * E8, &v);
	cr_assert(v.valid & TR_IND_BB);
	cr_assert_eq(v.bb_upper, 5 * E8);
	tr_ind_free(ind);
}

static void expect_same(const struct tr_ind_values *a, const struct tr_ind_values *b, int k)
{
	cr_assert_eq(a->valid, b->valid, "close %d", k);
	for (int i = 0; i < TR_IND_MAX_MA; i++) {
		cr_assert_eq(a->sma[i], b->sma[i], "close %d sma %d", k, i);
		cr_assert_eq(a->ema[i], b->ema[i], "close %d ema %d", k, i);
	}
	cr_assert_eq(a->rsi, b->rsi, "close %d", k);
	cr_assert_eq(a->macd, b->macd, "close %d", k);
	cr_assert_eq(a->macd_signal, b->macd_signal, "close %d", k);
	cr_assert_eq(a->macd_hist, b->macd_hist, "close %d", k);
	cr_assert_eq(a->bb_mid, b->bb_mid, "close %d", k);
	cr_assert_eq(a->bb_upper, b->bb_upper, "close %d", k);
	cr_assert_eq(a->bb_lower, b->bb_lower, "close %d", k);
}

Test(indicators, a_revised_close_equals_having_fed_it_first)
{
	enum { N = 300 };
	struct tr_ind *a = make(NULL), *b = make(NULL);
	struct tr_ind_values va, vb;

	cr_assert_eq(tr_ind_revise(a, 1, NULL), -ENOENT);
	for (int k = 1; k <= N; k++) {
		int64_t good = 3000 * E8 + (int64_t)(next_rand() % 1000000000);
		/* a first sees a wrong close, revised once or twice */
		tr_ind_update(a, good + 77777, NULL);
		if (k % 3 == 0)
			cr_assert_eq(tr_ind_revise(a, good - 5, NULL), 0);
		cr_assert_eq(tr_ind_revise(a, good, &va), 0);
		tr_ind_update(b, good, &vb);
		expect_same(&va, &vb, k);
	}
	tr_ind_free(a);
	tr_ind_free(b);
}

Test(indicators, warm_start_equals_live_updates)
{
	enum { N = 250 };
	static int64_t x[N];
	struct tr_ind *a = make(NULL), *b = make(NULL);
	struct tr_ind_values va, vb;

	for (int i = 0; i < N; i++)
		x[i] = 100 * E8 + (int64_t)(next_rand() % 300000000);
	tr_ind_warm(a, x, N - 1, NULL);
	tr_ind_update(a, x[N - 1], &va);
	for (int i = 0; i < N; i++)
		tr_ind_update(b, x[i], &vb);
	expect_same(&va, &vb, N);
	cr_assert_eq(va.valid, vb.valid);
	cr_assert_eq(va.closes, (uint64_t)N);
	tr_ind_free(a);
	tr_ind_free(b);
}

Test(indicators, create_rejects_bad_configurations)
{
	struct tr_ind_config cfg;
	struct tr_ind *ind = NULL;

	tr_ind_config_default(&cfg);
	cfg.sma[3] = TR_IND_MAX_PERIOD + 1;
	cr_assert_eq(tr_ind_create(&ind, &cfg), -EINVAL);
	tr_ind_config_default(&cfg);
	cfg.macd_slow = cfg.macd_fast;
	cr_assert_eq(tr_ind_create(&ind, &cfg), -EINVAL);
	tr_ind_config_default(&cfg);
	cfg.bb_k = -1;
	cr_assert_eq(tr_ind_create(&ind, &cfg), -EINVAL);
	/* everything off is allowed and never defines anything */
	struct tr_ind_config off = {0};
	struct tr_ind_values v;
	cr_assert_eq(tr_ind_create(&ind, &off), 0);
	for (int k = 0; k < 50; k++)
		tr_ind_update(ind, E8, &v);
	cr_assert_eq(v.valid, 0);
	tr_ind_free(ind);
}
