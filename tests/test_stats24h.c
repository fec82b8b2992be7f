/* test_stats24h.c - rolling 24 h statistics: hand-worked windows, expiry at the edge,
 * a long random run against a brute-force recomputation, and top movers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tr_stats24h.h"

#define E8 100000000ll
#define SEC 1000000000ll
#define DAY (86400 * SEC)
/* 2024-05-01 12:00:00 UTC, a whole second */
#define T0 (1714564800ll * SEC)

static struct tr_s24 *make(int64_t window_ns, int64_t bucket_ns, uint32_t initial)
{
	struct tr_s24_config cfg;
	struct tr_s24 *s = NULL;

	tr_s24_config_default(&cfg);
	if (window_ns)
		cfg.window_ns = window_ns;
	if (bucket_ns)
		cfg.bucket_ns = bucket_ns;
	if (initial)
		cfg.initial_buckets = initial;
	cr_assert_eq(tr_s24_create(&s, &cfg), 0);
	return s;
}

static struct tr_stats24h rd(struct tr_s24 *s, int want_rc)
{
	struct tr_stats24h st;
	int rc = tr_s24_read(s, &st);

	cr_assert_eq(rc, want_rc, "tr_s24_read = %d, want %d", rc, want_rc);
	return st;
}

Test(stats24h, a_hand_worked_day)
{
	struct tr_s24 *s = make(0, 0, 0);
	struct tr_stats24h st;

	st = rd(s, -ENODATA);
	cr_assert_eq(st.last, 0);
	cr_assert_eq(tr_s24_add(s, T0 + 200000000, 100 * E8, 1 * E8, 1, 1), 0); /* 12:00:00.2 */
	cr_assert_eq(tr_s24_add(s, T0 + 10 * SEC, 120 * E8, 2 * E8, 2, 1), 0);	/* the high */
	cr_assert_eq(tr_s24_add(s, T0 + 20 * SEC, 90 * E8, 1 * E8, 3, 1), 0);	/* the low */
	cr_assert_eq(tr_s24_add(s, T0 + 3600 * SEC, 110 * E8, 1 * E8, 4, 1), 0);
	cr_assert_eq(tr_s24_add(s, T0 + 7200 * SEC, 105 * E8, 3 * E8, 5, 1), 0);

	/* open 100, high 120, low 90, last 105: change 5 = 5 %; volume 1+2+1+1+3 = 8;
	 * quote 100 + 240 + 90 + 110 + 315 = 855; vwap 855/8 = 106.875. */
	st = rd(s, 1);
	cr_assert_eq(st.open, 100 * E8);
	cr_assert_eq(st.high, 120 * E8);
	cr_assert_eq(st.low, 90 * E8);
	cr_assert_eq(st.last, 105 * E8);
	cr_assert_eq(st.change, 5 * E8);
	cr_assert_eq(st.change_pct, 5 * E8);
	cr_assert_eq(st.volume, 8 * E8);
	cr_assert_eq(st.quote_volume, 855 * E8);
	cr_assert_eq(st.vwap, 10687500000);
	cr_assert_eq(st.trade_count, 5);
	cr_assert_eq(st.first_trade_id, 1);
	cr_assert_eq(st.last_trade_id, 5);
	cr_assert_eq(st.open_time, T0 + 7200 * SEC - DAY);
	cr_assert_eq(st.close_time, T0 + 7200 * SEC);
	cr_assert_eq(st.ts_update, T0 + 7200 * SEC);

	/* Trade 1 (second T0) stays until the clock reaches T0 + 24 h + 1 s. */
	tr_s24_advance(s, T0 + DAY + SEC - 1);
	st = rd(s, 1);
	cr_assert_eq(st.trade_count, 5);
	cr_assert_eq(st.open_time, T0);
	cr_assert_eq(st.close_time, T0 + DAY + SEC - 1);
	tr_s24_advance(s, T0 + DAY + SEC);
	st = rd(s, 1);
	cr_assert_eq(st.trade_count, 4);
	cr_assert_eq(st.open, 120 * E8); /* the next trade opens the window */
	cr_assert_eq(st.first_trade_id, 2);
	cr_assert_eq(st.high, 120 * E8);
	cr_assert_eq(st.volume, 7 * E8);
	cr_assert_eq(st.change_pct, -1250000000); /* (105-120)/120 = -12.5 % */

	/* The high leaves: 110 takes over. */
	tr_s24_advance(s, T0 + DAY + 11 * SEC);
	st = rd(s, 1);
	cr_assert_eq(st.high, 110 * E8);
	cr_assert_eq(st.low, 90 * E8);
	cr_assert_eq(st.open, 90 * E8);
	/* The low leaves: 105 takes over. */
	tr_s24_advance(s, T0 + DAY + 21 * SEC);
	st = rd(s, 1);
	cr_assert_eq(st.high, 110 * E8);
	cr_assert_eq(st.low, 105 * E8);
	cr_assert_eq(st.open, 110 * E8);
	cr_assert_eq(st.trade_count, 2);
	cr_assert_eq(st.quote_volume, 425 * E8);

	/* A clock going back changes nothing. */
	tr_s24_advance(s, T0);
	cr_assert_eq(rd(s, 1).close_time, T0 + DAY + 21 * SEC);

	/* Everything gone: flat at the last price. */
	tr_s24_advance(s, T0 + 7200 * SEC + DAY + SEC);
	st = rd(s, 0);
	cr_assert_eq(st.last, 105 * E8);
	cr_assert_eq(st.open, 105 * E8);
	cr_assert_eq(st.high, 105 * E8);
	cr_assert_eq(st.low, 105 * E8);
	cr_assert_eq(st.change, 0);
	cr_assert_eq(st.change_pct, 0);
	cr_assert_eq(st.volume, 0);
	cr_assert_eq(st.quote_volume, 0);
	cr_assert_eq(st.vwap, 0);
	cr_assert_eq(st.trade_count, 0);
	cr_assert_eq(st.first_trade_id, 0);
	cr_assert_eq(st.last_trade_id, 0);
	cr_assert_eq(st.ts_update, T0 + 7200 * SEC);

	/* A trade from before the window is ignored; trading resumes. */
	cr_assert_eq(tr_s24_add(s, T0 + 7200 * SEC, 1 * E8, 1 * E8, 6, 1), 1);
	cr_assert_eq(tr_s24_add(s, T0 + 7200 * SEC + DAY + 2 * SEC, 99 * E8, E8, 7, 1), 0);
	st = rd(s, 1);
	cr_assert_eq(st.open, 99 * E8);
	cr_assert_eq(st.first_trade_id, 7);
	cr_assert_eq(st.trade_count, 1);
	tr_s24_free(s);
}

Test(stats24h, late_trades_join_the_newest_bucket_and_do_not_become_last)
{
	struct tr_s24 *s = make(0, 0, 0);
	struct tr_stats24h st;

	tr_s24_add(s, T0 + 5 * SEC, 100 * E8, E8, 10, 1);
	tr_s24_add(s, T0 + 9 * SEC, 101 * E8, E8, 11, 1);
	tr_s24_add(s, T0 + 7 * SEC, 150 * E8, E8, 12, 1); /* late: counted at second 9 */
	st = rd(s, 1);
	cr_assert_eq(st.last, 101 * E8);
	cr_assert_eq(st.last_trade_id, 11);
	cr_assert_eq(st.high, 150 * E8);
	cr_assert_eq(st.trade_count, 3);
	/* It expires with second 9, not second 7. */
	tr_s24_advance(s, T0 + DAY + 8 * SEC);
	cr_assert_eq(rd(s, 1).high, 150 * E8);
	tr_s24_advance(s, T0 + DAY + 10 * SEC);
	cr_assert_eq(rd(s, 0).trade_count, 0);
	tr_s24_free(s);
}

Test(stats24h, sums_are_exact_and_rounded_once)
{
	struct tr_s24 *s = make(0, 0, 0);
	struct tr_stats24h st;

	/* 0.00000001 x 0.5 = 0.000000005 three times: the quote volume is 0.000000015,
	 * rounded once to 0.00000002 (three separate roundings would give 0.00000003). */
	for (int i = 0; i < 3; i++)
		tr_s24_add(s, T0 + i, 1, 50000000, 100 + i, 1);
	st = rd(s, 1);
	cr_assert_eq(st.quote_volume, 2);
	cr_assert_eq(st.volume, 150000000);
	cr_assert_eq(st.vwap, 1);
	/* aggTrade counts: trade_count adds the underlying trades */
	tr_s24_add(s, T0 + 10, 2, E8, 200, 7);
	cr_assert_eq(rd(s, 1).trade_count, 10);
	tr_s24_free(s);

	/* BTC at 60000 with 8 decimals, 1 million trades of 0.01234567: exact
	 * (quote volume about 740.7 million, volume 12345.67). */
	s = make(0, 0, 0);
	for (int i = 0; i < 1000000; i++)
		tr_s24_add(s, T0 + (int64_t)i * 50000000, 6000012345678 + (i % 3), 1234567, i, 1);
	st = rd(s, 1);
	__int128 q = 0;
	for (int i = 0; i < 1000000; i++)
		q += (__int128)(6000012345678 + (i % 3)) * 1234567;
	cr_assert_eq(st.volume, 1234567000000);
	cr_assert(q / E8 < INT64_MAX);
	cr_assert_eq(st.quote_volume, (int64_t)((q + E8 / 2) / E8));
	cr_assert_eq(st.vwap, (int64_t)((q + 1234567000000 / 2) / 1234567000000));
	cr_assert_eq(st.high, 6000012345680);
	cr_assert_eq(st.low, 6000012345678);
	tr_s24_free(s);

	/* A volume beyond int64 saturates instead of wrapping. */
	s = make(0, 0, 0);
	tr_s24_add(s, T0, E8, INT64_MAX, 1, 1);
	tr_s24_add(s, T0, E8, INT64_MAX, 2, 1);
	st = rd(s, 1);
	cr_assert_eq(st.volume, INT64_MAX);
	cr_assert_eq(st.quote_volume, INT64_MAX);
	cr_assert_eq(st.vwap, E8);
	tr_s24_free(s);
}

/* ---- brute force ---- */

struct bt {
	int64_t ts, price, qty;
	uint64_t id;
	uint32_t n;
	int64_t eff; /* bucket counted in */
};

struct brute {
	int64_t B, nb;
	int started;
	int64_t cur, clock, last_eff;
	struct bt *t;
	size_t len;
};

static int64_t fdiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void brute_clock(struct brute *b, int64_t now)
{
	int64_t idx = fdiv(now, b->B);

	if (!b->started || idx > b->cur)
		b->cur = idx;
	if (!b->started || now > b->clock)
		b->clock = now;
	b->started = 1;
}

static int brute_add(struct brute *b, int64_t ts, int64_t price, int64_t qty, uint64_t id,
		     uint32_t n)
{
	int64_t idx = fdiv(ts, b->B);

	brute_clock(b, ts);
	if (idx < b->cur - b->nb)
		return 1;
	int64_t eff = b->len && b->last_eff > idx ? b->last_eff : idx;
	b->t[b->len++] = (struct bt){ts, price, qty, id, n, eff};
	b->last_eff = eff;
	return 0;
}

static int64_t rdiv(__int128 num, __int128 den)
{
	/* half away from zero, by comparing twice the remainder */
	int neg = (num < 0) != (den < 0);
	__int128 an = num < 0 ? -num : num, ad = den < 0 ? -den : den;
	__int128 q = an / ad;
	if (2 * (an % ad) >= ad)
		q++;
	q = neg ? -q : q;
	return q > INT64_MAX ? INT64_MAX : q < INT64_MIN ? INT64_MIN : (int64_t)q;
}

static void brute_check(const struct brute *b, struct tr_s24 *s, int step)
{
	struct tr_stats24h st;
	int rc = tr_s24_read(s, &st);
	int64_t start = b->cur - b->nb;
	size_t lastk = 0, first = SIZE_MAX;
	int64_t hi = INT64_MIN, lo = INT64_MAX;
	__int128 vol = 0, quote = 0;
	uint64_t cnt = 0;

	if (b->len == 0) {
		cr_assert_eq(rc, -ENODATA, "step %d", step);
		return;
	}
	for (size_t k = 0; k < b->len; k++) {
		const struct bt *t = &b->t[k];
		if (t->ts >= b->t[lastk].ts)
			lastk = k;
		if (t->eff < start)
			continue;
		if (first == SIZE_MAX)
			first = k;
		hi = t->price > hi ? t->price : hi;
		lo = t->price < lo ? t->price : lo;
		vol += t->qty;
		quote += (__int128)t->price * t->qty;
		cnt += t->n;
	}
	cr_assert_eq(st.last, b->t[lastk].price, "step %d", step);
	cr_assert_eq(st.ts_update, b->t[lastk].ts, "step %d", step);
	cr_assert_eq(st.open_time, start * b->B, "step %d", step);
	cr_assert_eq(st.close_time, b->clock, "step %d", step);
	if (first == SIZE_MAX) {
		cr_assert_eq(rc, 0, "step %d", step);
		cr_assert_eq(st.trade_count, 0);
		cr_assert_eq(st.open, st.last);
		return;
	}
	cr_assert_eq(rc, 1, "step %d", step);
	int64_t open = b->t[first].price;
	cr_assert_eq(st.open, open, "step %d", step);
	cr_assert_eq(st.first_trade_id, b->t[first].id, "step %d", step);
	cr_assert_eq(st.last_trade_id, b->t[lastk].id, "step %d", step);
	cr_assert_eq(st.high, hi, "step %d: %lld vs %lld", step, (long long)st.high, (long long)hi);
	cr_assert_eq(st.low, lo, "step %d", step);
	cr_assert_eq(st.change, b->t[lastk].price - open, "step %d", step);
	cr_assert_eq(st.change_pct,
		     rdiv((__int128)(b->t[lastk].price - open) * 10000000000ll, open), "step %d",
		     step);
	cr_assert_eq(st.volume, (int64_t)vol, "step %d", step);
	cr_assert_eq(st.quote_volume, rdiv(quote, E8), "step %d", step);
	cr_assert_eq(st.vwap, vol ? rdiv(quote, vol) : 0, "step %d", step);
	cr_assert_eq(st.trade_count, cnt, "step %d", step);
	cr_assert_eq(tr_s24_trade_count(s), cnt);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static void random_run(int64_t window_ns, int64_t bucket_ns, uint32_t initial, int n)
{
	struct tr_s24 *s = make(window_ns, bucket_ns, initial);
	struct brute b = {.B = bucket_ns, .nb = window_ns / bucket_ns};
	int64_t ts = T0 - 3 * SEC / 2, price = 3000 * E8;
	uint64_t id = 1;

	b.t = calloc((size_t)n, sizeof(*b.t));
	for (int step = 0; step < n; step++) {
		uint64_t r = rnd(1000);
		if (r < 5) {
			ts += (int64_t)rnd(
			    2 *
			    (uint64_t)window_ns); /* a quiet spell, maybe longer than the window */
		} else if (r < 15) {
			int64_t now = ts + (int64_t)rnd((uint64_t)window_ns / 4);
			tr_s24_advance(s, now);
			brute_clock(&b, now);
			brute_check(&b, s, step);
			continue;
		} else {
			ts += (int64_t)rnd(3 * (uint64_t)bucket_ns);
		}
		int64_t t = ts;
		if (rnd(50) == 0)
			t -= (int64_t)rnd(5 *
					  (uint64_t)bucket_ns); /* late, maybe before the window */
		price += (int64_t)rnd(2000001) - 1000000;
		if (price < 1)
			price = 1;
		int64_t qty = 1 + (int64_t)rnd(1000 * E8);
		uint32_t cnt = 1 + (uint32_t)rnd(3);
		int want = brute_add(&b, t, price, qty, id, cnt);
		cr_assert_eq(tr_s24_add(s, t, price, qty, id, cnt), want, "step %d", step);
		id++;
		if (step % 97 == 0 || step > n - 50)
			brute_check(&b, s, step);
	}
	free(b.t);
	tr_s24_free(s);
}

Test(stats24h, a_long_random_run_matches_brute_force_over_one_minute)
{
	random_run(60 * SEC, SEC, 1, 60000);
}

Test(stats24h, a_long_random_run_matches_brute_force_over_one_hour)
{
	random_run(3600 * SEC, SEC, 0, 60000);
}

Test(stats24h, a_long_random_run_matches_brute_force_with_coarse_buckets)
{
	random_run(595 * SEC, 7 * SEC, 2, 40000);
}

/* The engine feeds the window one batch per bucket (the trades a candle
 * aggregate gathered) instead of trade by trade: every read must be the
 * same. The trades include equal times in falling id order, out-of-order
 * times inside the bucket, late ones and ones before the window. */
static void batch_add(struct tr_s24_batch *bt, int *n, int64_t t, int64_t price, int64_t qty,
		      uint64_t id, uint32_t cnt)
{
	if (!(*n)++) {
		memset(bt, 0, sizeof *bt);
		bt->first_price = bt->high = bt->low = price;
		bt->first_id = id;
	}
	if (*n == 1 || t >= bt->last_ts) { /* latest by time, the later of equal times */
		bt->last_ts = t;
		bt->last_price = price;
		bt->last_id = id;
	}
	bt->high = price > bt->high ? price : bt->high;
	bt->low = price < bt->low ? price : bt->low;
	bt->count += cnt;
	bt->volume += qty;
	bt->quote += (__int128)price * qty;
}

static void same_reads(struct tr_s24 *a, struct tr_s24 *b, int wa, int wb, int step)
{
	struct tr_stats24h x, y;
	int64_t ox = 0, oy = 0;

	cr_assert_eq(tr_s24_read(a, &x), tr_s24_read(b, &y), "step %d", step);
	cr_assert_eq(memcmp(&x, &y, sizeof x), 0,
		     "step %d: last %lld/%lld open %lld/%lld high %lld/%lld count %llu/%llu "
		     "close_time %lld/%lld",
		     step, (long long)x.last, (long long)y.last, (long long)x.open,
		     (long long)y.open, (long long)x.high, (long long)y.high,
		     (unsigned long long)x.trade_count, (unsigned long long)y.trade_count,
		     (long long)x.close_time, (long long)y.close_time);
	cr_assert_eq(tr_s24_window_open(a, (unsigned)wa, &ox),
		     tr_s24_window_open(b, (unsigned)wb, &oy));
	cr_assert_eq(ox, oy, "step %d: sub-window open", step);
}

Test(stats24h, batches_count_as_their_trades_one_by_one)
{
	struct tr_s24 *a = make(600 * SEC, SEC, 1), *b = make(600 * SEC, SEC, 1);
	int wa = tr_s24_add_window(a, 60 * SEC), wb = tr_s24_add_window(b, 60 * SEC);
	struct tr_s24_batch bt;
	int64_t ts = T0, price = 3000 * E8, bucket = 0;
	uint64_t id = 1000;
	int n = 0, flushes = 0, ignored = 0, brc = 0;

	for (int step = 0; step < 200000; step++) {
		uint64_t r = rnd(1000);
		int64_t t;

		if (r < 3)
			ts += (int64_t)rnd(900 * SEC); /* quiet, maybe past the window */
		else if (r < 300)
			ts += (int64_t)rnd(SEC / 3);
		t = ts;
		if (rnd(20) == 0)
			t -= (int64_t)rnd(SEC); /* out of order, maybe an older bucket */
		if (rnd(500) == 0)
			t -= 700 * SEC; /* before the window */
		int64_t idx = t / SEC;
		int timer = rnd(100) == 0;
		if (n && (idx != bucket || timer || rnd(10) == 0)) {
			/* a fold: the batch so far (the engine folds before the
			 * timer advances the window, and at a new bucket) */
			int rc = tr_s24_add_batch(b, &bt);
			cr_assert_eq(rc, brc, "step %d", step);
			ignored += rc == 1;
			n = 0;
			flushes++;
			same_reads(a, b, wa, wb, step);
		}
		if (timer) {
			int64_t now = ts + (int64_t)rnd(2 * SEC);
			tr_s24_advance(a, now);
			tr_s24_advance(b, now);
			same_reads(a, b, wa, wb, step);
		}
		bucket = idx;
		price += (int64_t)rnd(2001) - 1000;
		int64_t qty = 1 + (int64_t)rnd(100 * E8);
		uint32_t cnt = 1 + (uint32_t)rnd(3);
		/* equal times in falling id order now and then: the later one is last */
		uint64_t tid = rnd(8) == 0 ? id - rnd(50) : id++;
		int rc = tr_s24_add(a, t, price, qty, tid, cnt);
		if (!n)
			brc = rc; /* the trades of a batch share a bucket, so a fate */
		batch_add(&bt, &n, t, price, qty, tid, cnt);
	}
	cr_assert_gt(flushes, 10000);
	cr_assert_gt(ignored, 0, "no batch fell before the window");
	tr_s24_free(a);
	tr_s24_free(b);
}

Test(stats24h, create_rejects_bad_windows)
{
	struct tr_s24_config cfg;
	struct tr_s24 *s = NULL;

	tr_s24_config_default(&cfg);
	cfg.bucket_ns = 7 * SEC; /* does not divide 24 h */
	cr_assert_eq(tr_s24_create(&s, &cfg), -EINVAL);
	cfg.bucket_ns = 0;
	cr_assert_eq(tr_s24_create(&s, &cfg), -EINVAL);
	tr_s24_config_default(&cfg);
	cfg.window_ns = -1;
	cr_assert_eq(tr_s24_create(&s, &cfg), -EINVAL);
	cr_assert_eq(tr_s24_create(&s, NULL), 0);
	tr_s24_free(s);
}

Test(stats24h, movers_rank_gainers_and_losers)
{
	struct tr_stats24h st[7];
	const struct tr_stats24h *p[8];
	const int64_t pct[7] = {5 * E8, -3 * E8, 12 * E8, 0, 5 * E8, -3 * E8, 40 * E8};
	struct tr_mover best[3], worst[3];

	memset(st, 0, sizeof(st));
	for (int i = 0; i < 7; i++) {
		st[i].change_pct = pct[i];
		st[i].trade_count = 1;
		p[i] = &st[i];
	}
	st[6].trade_count = 0; /* no trade in the window: not ranked despite +40 % */
	p[7] = NULL;
	cr_assert_eq(tr_s24_movers(p, 8, 3, best, worst), 3);
	/* gainers: 2 (+12), then 0 and 4 tie at +5: lower id first */
	cr_assert_eq(best[0].symbol_id, 2);
	cr_assert_eq(best[0].change_pct, 12 * E8);
	cr_assert_eq(best[1].symbol_id, 0);
	cr_assert_eq(best[2].symbol_id, 4);
	/* losers: 1 and 5 tie at -3, then 3 at 0 */
	cr_assert_eq(worst[0].symbol_id, 1);
	cr_assert_eq(worst[1].symbol_id, 5);
	cr_assert_eq(worst[2].symbol_id, 3);
	cr_assert_eq(worst[2].change_pct, 0);

	/* fewer ranked symbols than asked */
	struct tr_mover b8[8], w8[8];
	cr_assert_eq(tr_s24_movers(p, 2, 8, b8, w8), 2);
	cr_assert_eq(b8[0].symbol_id, 0);
	cr_assert_eq(b8[1].symbol_id, 1);
	cr_assert_eq(w8[0].symbol_id, 1);
	cr_assert_eq(w8[1].symbol_id, 0);
	cr_assert_eq(tr_s24_movers(p, 8, 0, b8, w8), 0);
}

Test(stats24h, movers_of_a_one_hour_window_from_live_stats)
{
	/* The engine keeps a 24 h and a 1 h tr_s24 per symbol, fed the same trades. */
	struct tr_s24 *h1[3], *d1[3];
	struct tr_stats24h sh[3], sd[3];
	const struct tr_stats24h *ph[3], *pd[3];
	struct tr_mover best[1], worst[1];

	for (int i = 0; i < 3; i++) {
		h1[i] = make(3600 * SEC, 0, 0);
		d1[i] = make(0, 0, 0);
	}
	/* Each symbol trades at p0 at 00:00 (T0), p1 at 04:00 and again at 23:05, then p2
	 * at 23:30; read at 23:59:59.999999999. 24 h: p0 -> p2; last hour: p1 -> p2.
	 *   symbol 0: 100, 200, 200: +100 % over 24 h,   0 % over 1 h
	 *   symbol 1: 100, 100,  90:  -10 % over 24 h, -10 % over 1 h
	 *   symbol 2: 100, 150, 120:  +20 % over 24 h, -20 % over 1 h */
	const int64_t p0[3] = {100, 100, 100}, p1[3] = {200, 100, 150}, p2[3] = {200, 90, 120};
	for (int i = 0; i < 3; i++) {
		int64_t t[4] = {T0, T0 + 4 * 3600 * SEC, T0 + (23 * 60 + 5) * 60 * SEC,
				T0 + (23 * 60 + 30) * 60 * SEC};
		int64_t px[4] = {p0[i], p1[i], p1[i], p2[i]};
		for (int k = 0; k < 4; k++) {
			tr_s24_add(h1[i], t[k], px[k] * E8, E8, k + 1, 1);
			tr_s24_add(d1[i], t[k], px[k] * E8, E8, k + 1, 1);
		}
		tr_s24_advance(h1[i], T0 + 24 * 3600 * SEC - 1);
		tr_s24_advance(d1[i], T0 + 24 * 3600 * SEC - 1);
		cr_assert_eq(tr_s24_read(h1[i], &sh[i]), 1);
		cr_assert_eq(tr_s24_read(d1[i], &sd[i]), 1);
		cr_assert_eq(sh[i].trade_count, 2);
		cr_assert_eq(sd[i].trade_count, 4);
		ph[i] = &sh[i];
		pd[i] = &sd[i];
	}
	cr_assert_eq(tr_s24_movers(pd, 3, 1, best, worst), 1);
	cr_assert_eq(best[0].symbol_id, 0);
	cr_assert_eq(best[0].change_pct, 100 * E8);
	cr_assert_eq(worst[0].symbol_id, 1);
	cr_assert_eq(worst[0].change_pct, -10 * E8);
	cr_assert_eq(tr_s24_movers(ph, 3, 1, best, worst), 1);
	cr_assert_eq(best[0].symbol_id, 0);
	cr_assert_eq(best[0].change_pct, 0);
	cr_assert_eq(worst[0].symbol_id, 2);
	cr_assert_eq(worst[0].change_pct, -20 * E8);
	for (int i = 0; i < 3; i++) {
		tr_s24_free(h1[i]);
		tr_s24_free(d1[i]);
	}
}

/* A timer advance within the same bucket still expires a sub-window that a
 * late trade reopened with a bucket older than the sub-window (the advance
 * skips its expiry only when no bucket came since the last one). */
Test(stats24h, an_advance_in_the_same_bucket_expires_a_late_bucket_from_a_sub_window)
{
	struct tr_s24 *s;
	struct tr_s24_config cfg;
	int64_t open = 0;

	tr_s24_config_default(&cfg);
	cr_assert_eq(tr_s24_create(&s, &cfg), 0);
	int w = tr_s24_add_window(s, 3600 * SEC);
	cr_assert_geq(w, 0);
	cr_assert_eq(tr_s24_add(s, T0, 100 * E8, E8, 1, 1), 0);
	tr_s24_advance(s, T0 + 7200 * SEC);
	cr_assert_eq(tr_s24_window_open(s, (unsigned)w, &open), 0, "nothing in the last hour");
	tr_s24_advance(s, T0 + 7200 * SEC + SEC / 10);
	/* 1.5 h old: in the 24 h window (a new bucket), not in the hour */
	cr_assert_eq(tr_s24_add(s, T0 + 1800 * SEC, 101 * E8, E8, 2, 1), 0);
	tr_s24_advance(s, T0 + 7200 * SEC + SEC / 5);
	cr_assert_eq(tr_s24_window_open(s, (unsigned)w, &open), 0,
		     "the late bucket is not in the hour (open %lld)", (long long)open);
	cr_assert_eq(tr_s24_trade_count(s), 2);
	tr_s24_free(s);
}
