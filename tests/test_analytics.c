/* test_analytics.c - analytics detectors by hand, and the engine's analytics end to end.
 *
 * The detectors (tr_analytics.h) on hand-worked numbers; then the real
 * engine (tr_engine, in this process, on its own region) fed Binance trade
 * frames as a replay, and everything it publishes read back through the
 * reader API: outlier flags and events, stale and stale_cleared from the
 * timer and from a replay without timer, volume spikes, every alert kind,
 * indicators in the latest table against hand-computed values, the movers
 * table's order, and the latest-table refresh bound.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_analytics.h"
#include "tr_config.h"
#include "tr_engine.h"
#include "tr_err.h"
#include "tr_parse.h"
#include "tr_reader.h"
#include "tr_stats24h.h"
#include "tr_uring.h"
#include "tr_writer.h"

#define E8 100000000LL
#define SEC 1000000000LL
#define T0 1723161600000000000LL /* 2024-08-09 00:00:00 UTC */

/* ---- detectors by hand ---- */

Test(analytics, outlier_median_mad_and_floor)
{
	struct tr_outlier o;
	int64_t dev = 0;

	/* window 4, threshold 3 MADs, no floor */
	cr_assert_eq(tr_outlier_init(&o, 4, 3 * E8, 0), 0);
	const int64_t p[4] = {100 * E8, 102 * E8, 101 * E8, 104 * E8};
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tr_outlier_check(&o, p[i], &dev), 0,
			     "no verdict before the window fills");
	/* sorted 100 101 102 104: lower median 101; |x - 101| = 1 0 1 3: sorted 0 1 1 3, MAD 1 */
	cr_assert(o.valid);
	cr_assert_eq(o.ref, 101 * E8);
	cr_assert_eq(o.mad, 1 * E8);
	cr_assert_eq(tr_outlier_check(&o, 104 * E8, &dev), 0, "3 MADs is not beyond 3");
	cr_assert_eq(tr_outlier_check(&o, 98 * E8 - 1, &dev), 1, "just over 3 MADs below");
	cr_assert_eq(dev, 300000001, "deviation in MADs x 1e8: (3e8 + 1) / 1e8");
	tr_outlier_free(&o);

	/* Equal prices: MAD 0; the floor (10 bps of 100 = 0.1) is the unit. */
	cr_assert_eq(tr_outlier_init(&o, 4, 10 * E8, 10), 0);
	for (int i = 0; i < 4; i++)
		tr_outlier_check(&o, 100 * E8, &dev);
	cr_assert_eq(o.mad, 0);
	cr_assert_eq(o.limit, E8 / 10);
	cr_assert_eq(tr_outlier_check(&o, 101 * E8, &dev), 0, "1.0 away = 10 floors: not beyond");
	cr_assert_eq(tr_outlier_check(&o, 101 * E8 + 1, &dev), 1);
	tr_outlier_free(&o);
	cr_assert_eq(tr_outlier_init(&o, 3, E8, 0), -EINVAL);
}

Test(analytics, spike_multiple_and_zscore)
{
	int64_t base = 0, score = 0;
	struct tr_spike *s = tr_spike_new(4, TR_SPIKE_MULTIPLE, 3 * E8);

	cr_assert_not_null(s);
	const int64_t v[4] = {1 * E8, 2 * E8, 3 * E8, 2 * E8}; /* mean 2 */
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tr_spike_close(s, v[i], &base, &score), 0, "warm-up: no verdict");
	cr_assert_eq(tr_spike_close(s, 6 * E8 - 1, &base, &score), 0, "below 3x the mean");
	/* window now 2 3 2 (6-1e-8): sum 13 - 1e-8, mean 3.25 - 0.25e-8 */
	cr_assert_eq(tr_spike_close(s, 10 * E8, &base, &score), 1);
	cr_assert_eq(base, 325000000, "mean rounded: (1300000000 - 1) / 4");
	cr_assert_eq(score, 307692308, "10 / 3.2499999975 = 3.07692308");
	tr_spike_free(s);

	/* z-score: window 1 3 1 3 (mean 2, population sd 1); 4 is z = 2 */
	s = tr_spike_new(4, TR_SPIKE_ZSCORE, 2 * E8);
	const int64_t w[4] = {1 * E8, 3 * E8, 1 * E8, 3 * E8};
	for (int i = 0; i < 4; i++)
		tr_spike_close(s, w[i], &base, &score);
	cr_assert_eq(tr_spike_close(s, 4 * E8, &base, &score), 1);
	cr_assert_eq(score, 2 * E8);
	cr_assert_eq(base, 2 * E8);
	/* revision replaces the last volume: window 3 1 3 1 -> mean 2, 4 is z = 2 again */
	tr_spike_revise(s, 1 * E8);
	cr_assert_eq(tr_spike_close(s, 4 * E8 - 1, &base, &score), 0, "just under z = 2");
	tr_spike_free(s);
}

Test(analytics, alert_rules_parse_and_reject)
{
	struct tr_alert_rule r;

	cr_assert_eq(tr_alert_parse("btc60k cross btcusdt 60000.5", &r, "t:1"), 0, "%s",
		     tr_errmsg());
	cr_assert_eq(r.kind, TR_ALERT_CROSS);
	cr_assert_str_eq(r.symbol, "BTCUSDT");
	cr_assert_eq(r.level, 6000050000000);
	cr_assert_eq(tr_alert_parse("jump change * 2.5 5m", &r, "t:2"), 0, "%s", tr_errmsg());
	cr_assert_eq(r.pct, 250000000);
	cr_assert_eq(r.window_ns, 300 * SEC);
	cr_assert_str_eq(r.symbol, "*");
	cr_assert_eq(tr_alert_parse("vol spike ETHUSDT 1m", &r, "t:3"), 0);
	cr_assert_eq(r.interval_s, 60);
	cr_assert_eq(tr_alert_parse("quiet stale *", &r, "t:4"), 0);
	cr_assert_eq(r.kind, TR_ALERT_STALE);

	cr_assert_eq(tr_alert_parse("x cross * 100", &r, "f.conf:7"), -EINVAL);
	cr_assert_not_null(strstr(tr_errmsg(), "f.conf:7"), "%s", tr_errmsg());
	cr_assert_eq(tr_alert_parse("x change BTCUSDT 2 25h", &r, "w"), -EINVAL);
	cr_assert_eq(tr_alert_parse("x change BTCUSDT -2 5m", &r, "w"), -EINVAL);
	cr_assert_eq(tr_alert_parse("x spike BTCUSDT 7m", &r, "w"), -EINVAL);
	cr_assert_eq(tr_alert_parse("x above BTCUSDT 1", &r, "w"), -EINVAL);
	cr_assert_not_null(strstr(tr_errmsg(), "not cross, change, spike or stale"));
}

Test(analytics, config_directives_and_errors_name_the_line)
{
	struct tr_config c;
	char path[64];

	snprintf(path, sizeof path, "/tmp/tr-an-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("indicator-sma 5,10\n"
	      "indicator-macd 3,6,2\n"
	      "indicator-bb 10,2.5\n"
	      "volume-spike zscore 3.5\n"
	      "volume-spike-intervals 1m,5m\n"
	      "outlier-mads 8\n"
	      "symbol-stale-ms 5000\n"
	      "alert a cross BTCUSDT 60000\n"
	      "alert b stale *\n",
	      f);
	fclose(f);
	tr_config_default(&c);
	cr_assert_eq(tr_config_load(&c, path), 0, "%s", tr_errmsg());
	cr_assert_eq(c.an.sma[0], 5);
	cr_assert_eq(c.an.sma[1], 10);
	cr_assert_eq(c.an.sma[2], 0);
	cr_assert_eq(c.an.macd[2], 2);
	cr_assert_eq(c.an.bb_k, 250000000);
	cr_assert_eq(c.an.spike_mode, TR_SPIKE_ZSCORE);
	cr_assert_eq(c.an.spike_threshold, 350000000);
	cr_assert_eq(c.an.nspike_intervals, 2);
	cr_assert_eq(c.an.outlier_mads, 8 * E8);
	cr_assert_eq(c.an.stale_ms, 5000);
	cr_assert_eq(c.an.nrules, 2);

	f = fopen(path, "w");
	fputs("# ok\nindicator-macd 26,12,9\n", f);
	fclose(f);
	tr_config_default(&c);
	cr_assert_eq(tr_config_load(&c, path), -EINVAL);
	char want[96];
	snprintf(want, sizeof want, "%s:2: indicator-macd", path);
	cr_assert_not_null(strstr(tr_errmsg(), want), "%s", tr_errmsg());

	tr_config_default(&c);
	char *argv[] = {(char *)"tickringd", (char *)"--alert",	  (char *)"a cross BTCUSDT 1",
			(char *)"--alert",   (char *)"a stale *", NULL};
	cr_assert_eq(tr_config_args(&c, 5, argv), -EINVAL, "duplicate rule names");
	cr_assert_not_null(strstr(tr_errmsg(), "--alert"), "%s", tr_errmsg());
	tr_config_default(&c);
	c.an.warm_start = true;
	c.nreplay = 1;
	cr_assert_eq(tr_config_check(&c), -EINVAL, "warm-start without a journal");
	unlink(path);
}

/* ---- the engine, end to end ---- */

struct rig {
	char inst[TR_NAME_LEN];
	struct tr_config cfg;
	struct tr_uring u;
	struct tr_engine *e;
	struct tr_region *r;
	int venue;
	uint64_t next_ev; /* events read so far */
};

static struct rig rig;

static void rig_config(void)
{
	static int n;

	memset(&rig, 0, sizeof rig);
	snprintf(rig.inst, sizeof rig.inst, "an-%d-%d", (int)getpid(), n++);
	tr_config_default(&rig.cfg);
	snprintf(rig.cfg.instance, sizeof rig.cfg.instance, "%s", rig.inst);
	for (int k = 0; k < TR_NKINDS; k++)
		rig.cfg.ring_slots[k] = 1 << 14;
	rig.cfg.symbol_capacity = 16;
	snprintf(rig.cfg.dead_letter, sizeof rig.cfg.dead_letter, "/dev/null");
	rig.cfg.an.refresh_us = 0; /* every commit refreshes: exact checks */
	rig.next_ev = 1;
}

static void rig_open(void)
{
	tr_writer_unlink(NULL, rig.inst);
	cr_assert_eq(tr_uring_init(&rig.u, 64), 0);
	cr_assert_eq(tr_engine_open(&rig.e, &rig.cfg, &rig.u), 0, "%s", tr_errmsg());
	rig.venue = tr_engine_venue(rig.e, "binance");
	cr_assert_eq(tr_region_open(&rig.r, rig.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
}

static void rig_close(void)
{
	if (rig.r)
		tr_region_close(rig.r);
	if (rig.e)
		tr_engine_close(rig.e);
	tr_uring_exit(&rig.u);
	tr_writer_unlink(NULL, rig.inst);
	rig.r = NULL;
	rig.e = NULL;
}

static void trade_at(const char *sym, uint64_t id, const char *px, const char *qty, int64_t ts,
		     int64_t recv);

/* One Binance trade frame, received at recv (ns), trade time = recv. */
static void trade(const char *sym, uint64_t id, const char *px, const char *qty, int64_t recv)
{
	trade_at(sym, id, px, qty, recv, recv);
}

/* One Binance trade frame of trade time ts (ms resolution), received at recv. */
static void trade_at(const char *sym, uint64_t id, const char *px, const char *qty, int64_t ts,
		     int64_t recv)
{
	char buf[512 + TR_PARSE_PADDING], lower[32];
	size_t i;

	for (i = 0; sym[i] && i < sizeof lower - 1; i++)
		lower[i] = (char)(sym[i] | 0x20);
	lower[i] = 0;
	int n =
	    snprintf(buf, 512,
		     "{\"stream\":\"%s@trade\",\"data\":{\"e\":\"trade\",\"E\":%lld,\"s\":\"%s\","
		     "\"t\":%llu,\"p\":\"%s\",\"q\":\"%s\",\"T\":%lld,\"m\":false,\"M\":true}}",
		     lower, (long long)(recv / 1000000), sym, (unsigned long long)id, px, qty,
		     (long long)(ts / 1000000));
	memset(buf + n, 0, TR_PARSE_PADDING);
	cr_assert_eq(
	    tr_engine_frame(rig.e, (unsigned)rig.venue, TR_SRC_REPLAY, recv, buf, (size_t)n), 1,
	    "frame not published: %s", buf);
	tr_engine_commit(rig.e);
}

/* The next event of type (skipping others); fails if none. */
static struct tr_event next_event(unsigned type)
{
	struct tr_cursor c;
	struct tr_event ev;

	tr_cursor_init(&c, rig.r, TR_KIND_EVENT, TR_JOIN_SEQ, rig.next_ev);
	while (tr_poll(&c, &ev) == TR_POLL_RECORD) {
		rig.next_ev = ev.seq + 1;
		if (ev.type == type)
			return ev;
	}
	cr_assert_fail("no event of type %u after seq %llu", type, (unsigned long long)rig.next_ev);
	return ev;
}

/* How many events of type are in the ring. */
static int count_events(unsigned type)
{
	struct tr_cursor c;
	struct tr_event ev;
	int n = 0;

	tr_cursor_init(&c, rig.r, TR_KIND_EVENT, TR_JOIN_SEQ, 1);
	while (tr_poll(&c, &ev) == TR_POLL_RECORD)
		n += ev.type == type;
	return n;
}

static int sym(const char *name)
{
	int id = tr_symbol_find(rig.r, NULL, name);
	cr_assert_geq(id, 0, "%s", tr_errmsg());
	return id;
}

Test(analytics, outlier_is_flagged_reported_and_still_published, .fini = rig_close)
{
	rig_config();
	rig.cfg.an.outlier_window = 8;
	rig_open();
	/* 8 prices around 100 (median 100, MAD 0.5 -> floor 10 bps = 0.1 below it) */
	const char *px[8] = {"100", "100.5", "99.5", "100", "101", "99", "100", "100.5"};
	for (int i = 0; i < 8; i++)
		trade("BTCUSDT", 1 + i, px[i], "1", T0 + i * SEC);
	trade("BTCUSDT", 9, "104", "1", T0 + 8 * SEC);	/* 4 away = 8 MADs: not beyond 10 */
	trade("BTCUSDT", 10, "106", "1", T0 + 9 * SEC); /* 6 away = 12 MADs */
	struct tr_event ev = next_event(TR_EV_PRICE_OUTLIER);
	cr_assert_eq(ev.u.outlier.trade_id, 10);
	cr_assert_eq(ev.u.outlier.price, 106 * E8);
	cr_assert_eq(ev.u.outlier.reference, 100 * E8);
	cr_assert_eq(ev.u.outlier.deviation, 12 * E8);
	cr_assert_eq(count_events(TR_EV_PRICE_OUTLIER), 1);
	struct tr_trade t;
	cr_assert_eq(tr_latest_trade(rig.r, (uint32_t)sym("BTCUSDT"), &t), 0);
	cr_assert_eq(t.trade_id, 10);
	cr_assert(t.flags & TR_TRADE_OUTLIER, "flagged on the published trade");
	struct tr_candle c;
	cr_assert_eq(tr_latest_candle(rig.r, (uint32_t)sym("BTCUSDT"), 0, &c), 0);
	cr_assert_eq(c.high, 106 * E8, "the outlier is in the candle (klines count it)");
	struct tr_sym_analytics an;
	cr_assert_eq(tr_latest_analytics(rig.r, (uint32_t)sym("BTCUSDT"), &an), 0);
	cr_assert_eq(an.outliers, 1);
	cr_assert(an.flags & TR_SYMA_OUTLIER);
}

Test(analytics, stale_from_the_timer_and_cleared_by_a_trade, .fini = rig_close)
{
	rig_config();
	rig.cfg.an.stale_ms = 5000;
	rig_open();
	trade("BTCUSDT", 1, "100", "1", T0);
	trade("ETHUSDT", 1, "10", "1", T0 + 4 * SEC);
	tr_engine_tick(rig.e);
	cr_assert_eq(count_events(TR_EV_STALE), 0, "4 s of silence is not stale");
	trade("ETHUSDT", 2, "10", "1", T0 + 6 * SEC); /* the replayed clock moves on */
	tr_engine_tick(rig.e);
	struct tr_event ev = next_event(TR_EV_STALE);
	cr_assert_eq(ev.symbol_id, (uint32_t)sym("BTCUSDT"));
	cr_assert_eq(ev.ts_event, T0 + 5 * SEC, "stale from the moment the silence reached 5 s");
	cr_assert_eq(ev.u.stale.last_trade_ns, T0);
	cr_assert_eq(ev.u.stale.silent_ns, 5 * SEC);
	struct tr_sym_analytics an;
	tr_engine_commit(rig.e);
	cr_assert_eq(tr_latest_analytics(rig.r, (uint32_t)sym("BTCUSDT"), &an), 0);
	cr_assert(an.flags & TR_SYMA_STALE);
	tr_engine_tick(rig.e);
	cr_assert_eq(count_events(TR_EV_STALE), 1, "reported once");
	trade("BTCUSDT", 2, "100", "1", T0 + 9 * SEC);
	ev = next_event(TR_EV_STALE_CLEARED);
	cr_assert_eq(ev.ts_event, T0 + 9 * SEC);
	cr_assert_eq(ev.u.stale.silent_ns, 9 * SEC);
	cr_assert_eq(tr_latest_analytics(rig.r, (uint32_t)sym("BTCUSDT"), &an), 0);
	cr_assert(!(an.flags & TR_SYMA_STALE));
}

Test(analytics, stale_in_a_replay_without_timer_runs, .fini = rig_close)
{
	rig_config();
	rig.cfg.an.stale_ms = 5000;
	rig_open();
	trade("BTCUSDT", 1, "100", "1", T0);
	trade("BTCUSDT", 2, "100", "1", T0 + 7 * SEC); /* no tick in between */
	struct tr_event ev = next_event(TR_EV_STALE);
	cr_assert_eq(ev.ts_event, T0 + 5 * SEC, "the same event a timer would have seen");
	ev = next_event(TR_EV_STALE_CLEARED);
	cr_assert_eq(ev.u.stale.silent_ns, 7 * SEC);
}

Test(analytics, volume_spike_on_a_closed_candle, .fini = rig_close)
{
	rig_config();
	static const uint32_t iv[] = {60};
	memcpy(rig.cfg.intervals_s, iv, sizeof iv);
	rig.cfg.ninterval = 1;
	rig.cfg.an.spike_window = 4;
	rig_open();
	/* minutes 0..3: volume 1 each; minute 4: volume 5 (5x the mean: a spike) */
	uint64_t id = 1;
	for (int m = 0; m < 4; m++)
		trade("BTCUSDT", id++, "100", "1", T0 + m * 60 * SEC);
	trade("BTCUSDT", id++, "100", "2", T0 + 4 * 60 * SEC);
	trade("BTCUSDT", id++, "100", "3", T0 + 4 * 60 * SEC + 1);
	cr_assert_eq(count_events(TR_EV_VOLUME_SPIKE), 0, "minute 4 is not closed yet");
	trade("BTCUSDT", id++, "100", "1", T0 + 5 * 60 * SEC + 3 * SEC); /* closes minute 4 */
	tr_engine_tick(rig.e);
	struct tr_event ev = next_event(TR_EV_VOLUME_SPIKE);
	cr_assert_eq(ev.u.spike.open_time, T0 + 4 * 60 * SEC);
	cr_assert_eq(ev.u.spike.volume, 5 * E8);
	cr_assert_eq(ev.u.spike.baseline, 1 * E8);
	cr_assert_eq(ev.u.spike.score, 5 * E8);
	cr_assert_eq(ev.u.spike.interval_s, 60);
	cr_assert_eq(count_events(TR_EV_VOLUME_SPIKE), 1);
}

Test(analytics, alerts_from_config_rules, .fini = rig_close)
{
	rig_config();
	static const uint32_t iv[] = {60};
	memcpy(rig.cfg.intervals_s, iv, sizeof iv);
	rig.cfg.ninterval = 1;
	rig.cfg.an.spike_window = 2;
	rig.cfg.an.stale_ms = 600000;
	const char *rules[] = {"up105 cross BTCUSDT 105", "jump change * 2 1m",
			       "vol spike BTCUSDT 1m", "quiet stale ETHUSDT"};
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tr_config_set(&rig.cfg, "alert", rules[i], "test"), 0, "%s",
			     tr_errmsg());
	rig_open();
	trade("BTCUSDT", 1, "100", "1", T0);
	trade("ETHUSDT", 1, "10", "1", T0);
	trade("BTCUSDT", 2, "101", "1", T0 + 60 * SEC);
	trade("BTCUSDT", 3, "106", "1", T0 + 60 * SEC + 10 * SEC); /* crosses 105 up; +4.95 % */
	struct tr_event ev = next_event(TR_EV_ALERT);
	cr_assert_eq(ev.u.alert.rule_id, 0, "rules fire in rule order: cross first");
	cr_assert_eq(ev.u.alert.rule_kind, TR_ALERT_CROSS);
	cr_assert_eq(ev.u.alert.value, 106 * E8);
	cr_assert_eq(ev.u.alert.threshold, 105 * E8);
	cr_assert_eq(ev.aux, 1, "upward");
	cr_assert_str_eq(ev.u.alert.text, "up105");
	ev = next_event(TR_EV_ALERT);
	cr_assert_eq(ev.u.alert.rule_id, 1);
	cr_assert_eq(ev.u.alert.rule_kind, TR_ALERT_CHANGE);
	/* the 1 min window at T0 + 70 s holds the trades from T0 + 10 s on: its
	 * first is 101 (T0 + 60 s), so 101 -> 106 is +4.950495049 % (toward zero) */
	cr_assert_eq(ev.u.alert.value, 495049504);
	cr_assert_eq(ev.u.alert.threshold, 2 * E8);
	trade("BTCUSDT", 4, "107", "1", T0 + 60 * SEC + 20 * SEC);
	cr_assert_eq(count_events(TR_EV_ALERT), 2, "edge-triggered: no repeat while it holds");
	trade("BTCUSDT", 5, "104", "1", T0 + 60 * SEC + 30 * SEC); /* crosses down */
	ev = next_event(TR_EV_ALERT);
	cr_assert_eq(ev.u.alert.rule_id, 0);
	cr_assert_eq(ev.aux, 2, "downward");
	/* minute 2: volume 15 against a mean of (1 + 4) / 2: 6x, a spike, and its alert */
	trade("BTCUSDT", 6, "104", "15", T0 + 120 * SEC);
	trade("BTCUSDT", 7, "104", "1", T0 + 183 * SEC);
	tr_engine_tick(rig.e);
	ev = next_event(TR_EV_VOLUME_SPIKE);
	ev = next_event(TR_EV_ALERT);
	cr_assert_eq(ev.u.alert.rule_id, 2);
	cr_assert_eq(ev.u.alert.rule_kind, TR_ALERT_SPIKE);
	cr_assert_eq(ev.u.alert.value, 6 * E8, "15 / 2.5");
	cr_assert_eq(ev.aux, 60);
	/* ETHUSDT has been silent 183 s; the stale rule fires with the stale event */
	tr_engine_tick(rig.e);
	cr_assert_eq(count_events(TR_EV_STALE), 0, "stale-ms is 600 s");
	trade("BTCUSDT", 8, "104", "1", T0 + 601 * SEC);
	tr_engine_tick(rig.e);
	ev = next_event(TR_EV_STALE);
	cr_assert_eq(ev.symbol_id, (uint32_t)sym("ETHUSDT"));
	ev = next_event(TR_EV_ALERT);
	cr_assert_eq(ev.u.alert.rule_id, 3);
	cr_assert_eq(ev.u.alert.rule_kind, TR_ALERT_STALE);
	cr_assert_eq(ev.symbol_id, (uint32_t)sym("ETHUSDT"));
}

Test(analytics, indicators_published_in_the_latest_table, .fini = rig_close)
{
	rig_config();
	static const uint32_t iv[] = {1, 60};
	memcpy(rig.cfg.intervals_s, iv, sizeof iv);
	rig.cfg.ninterval = 2;
	rig.cfg.candle_flat = false;
	cr_assert_eq(tr_config_set(&rig.cfg, "indicator-sma", "3", "t"), 0);
	cr_assert_eq(tr_config_set(&rig.cfg, "indicator-ema", "2", "t"), 0);
	cr_assert_eq(tr_config_set(&rig.cfg, "indicator-rsi", "2", "t"), 0);
	rig_open();
	/* 1 s closes 10, 11, 13, 12 (seconds 0..3), then one trade at second 10 */
	const char *px[4] = {"10", "11", "13", "12"};
	for (int i = 0; i < 4; i++)
		trade("BTCUSDT", 1 + i, px[i], "1", T0 + i * SEC);
	struct tr_indicators ind;
	uint32_t s = (uint32_t)sym("BTCUSDT");
	trade("BTCUSDT", 5, "12", "1", T0 + 10 * SEC);
	tr_engine_tick(rig.e); /* the watermark (clock - 2 s) closes seconds 0..3 */
	cr_assert_eq(tr_latest_indicators(rig.r, s, 0, &ind), 0);
	cr_assert_eq(ind.closes, 4);
	cr_assert_eq(ind.open_time, T0 + 3 * SEC);
	cr_assert_eq(ind.close, 12 * E8);
	cr_assert_eq(ind.sma_period[0], 3);
	cr_assert_eq(ind.sma[0], 1200000000, "(11 + 13 + 12) / 3");
	/* EMA 2: seed (10 + 11) / 2 = 10.5; then + 2/3 (13 - 10.5) = 12.1666..; then
	 * + 2/3 (12 - 12.1666..) = 12.0555.. */
	cr_assert_eq(ind.ema[0], 1205555556);
	/* RSI 2: changes +1 +2 -1: seed gain 1.5, loss 0; then gain 0.75, loss 0.5: 60 */
	cr_assert_eq(ind.rsi, 60 * E8);
	cr_assert(ind.valid & TR_IND_V_SMA(0));
	cr_assert(ind.valid & TR_IND_V_RSI);
	cr_assert(!(ind.valid & TR_IND_V_MACD), "MACD 12/26 needs 26 closes");
	cr_assert_eq(ind.macd, TR_IND_V_UNDEF);
	cr_assert_eq(tr_latest_indicators(rig.r, s, 1, &ind), -ENODATA, "no 1m close yet");
}

Test(analytics, movers_rank_the_symbols, .fini = rig_close)
{
	rig_config();
	rig_open();
	/* change over the window: A +10 %, B -5 %, C +2 %, D 0 % */
	const char *names[4] = {"AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"};
	const char *open[4] = {"100", "100", "100", "100"}, *last[4] = {"110", "95", "102", "100"};
	for (int i = 0; i < 4; i++)
		trade(names[i], 1, open[i], "1", T0 + i * SEC);
	for (int i = 0; i < 4; i++)
		trade(names[i], 2, last[i], "1", T0 + 10 * SEC + i * SEC);
	tr_engine_tick(rig.e);
	struct tr_movers mv;
	cr_assert_eq(tr_movers(rig.r, &mv), 0, "%s", tr_errmsg());
	cr_assert_eq(mv.ranked[0], 4);
	cr_assert_eq(mv.ranked[1], 4);
	for (int w = 0; w < 2; w++) {
		const struct tr_mover *g = mv.list[w ? TR_MOVERS_GAIN_1H : TR_MOVERS_GAIN_24H];
		const struct tr_mover *l = mv.list[w ? TR_MOVERS_LOSS_1H : TR_MOVERS_LOSS_24H];

		cr_assert_eq(mv.count[w ? TR_MOVERS_GAIN_1H : TR_MOVERS_GAIN_24H], 4);
		cr_assert_eq(g[0].symbol_id, (uint32_t)sym("AAAUSDT"));
		cr_assert_eq(g[0].change_pct, 10 * E8);
		cr_assert_eq(g[0].last, 110 * E8);
		cr_assert_eq(g[0].open, 100 * E8);
		cr_assert_eq(g[1].symbol_id, (uint32_t)sym("CCCUSDT"));
		cr_assert_eq(g[2].symbol_id, (uint32_t)sym("DDDUSDT"));
		cr_assert_eq(g[3].symbol_id, (uint32_t)sym("BBBUSDT"));
		cr_assert_eq(l[0].symbol_id, (uint32_t)sym("BBBUSDT"));
		cr_assert_eq(l[0].change_pct, -5 * E8);
		cr_assert_eq(l[3].symbol_id, (uint32_t)sym("AAAUSDT"));
	}
	struct tr_sym_analytics an;
	cr_assert_eq(tr_latest_analytics(rig.r, (uint32_t)sym("BBBUSDT"), &an), 0);
	cr_assert(an.flags & TR_SYMA_H1);
	cr_assert_eq(an.change_pct_1h, -5 * E8);
}

/* A ranking whose inputs did not change (a new second, the same prices)
 * leaves the lists as they are and stamps its time; the next change of a
 * price re-ranks. */
Test(analytics, movers_unchanged_ranking_stamps_only_its_time, .fini = rig_close)
{
	struct tr_movers a, b, c;

	rig_config();
	rig_open();
	trade("AAAUSDT", 1, "100", "1", T0);
	trade("BBBUSDT", 1, "100", "1", T0);
	trade("AAAUSDT", 2, "104", "1", T0 + 10 * SEC);
	trade("BBBUSDT", 2, "98", "1", T0 + 10 * SEC);
	tr_engine_tick(rig.e);
	cr_assert_eq(tr_movers(rig.r, &a), 0, "%s", tr_errmsg());
	cr_assert_eq(a.count[TR_MOVERS_GAIN_24H], 2);
	/* a second later, both trade at their last prices: nothing ranks anew */
	trade("AAAUSDT", 3, "104", "2", T0 + 11 * SEC);
	trade("BBBUSDT", 3, "98", "2", T0 + 11 * SEC);
	tr_engine_tick(rig.e);
	cr_assert_eq(tr_movers(rig.r, &b), 0, "%s", tr_errmsg());
	cr_assert_gt(b.ts_update, a.ts_update, "the ranking's time moves on");
	cr_assert_eq(memcmp(b.count, a.count, sizeof a.count), 0);
	cr_assert_eq(memcmp(b.ranked, a.ranked, sizeof a.ranked), 0);
	cr_assert_eq(memcmp(b.list, a.list, sizeof a.list), 0);
	/* B gains 8 %: the lists change, to what a full ranking gives */
	trade("BBBUSDT", 4, "108", "1", T0 + 12 * SEC);
	tr_engine_tick(rig.e);
	cr_assert_eq(tr_movers(rig.r, &c), 0, "%s", tr_errmsg());
	cr_assert_gt(c.ts_update, b.ts_update);
	const struct tr_mover *g = c.list[TR_MOVERS_GAIN_24H], *l = c.list[TR_MOVERS_LOSS_1H];
	cr_assert_eq(g[0].symbol_id, (uint32_t)sym("BBBUSDT"));
	cr_assert_eq(g[0].change_pct, 8 * E8);
	cr_assert_eq(g[0].last, 108 * E8);
	cr_assert_eq(g[1].symbol_id, (uint32_t)sym("AAAUSDT"));
	cr_assert_eq(l[0].symbol_id, (uint32_t)sym("AAAUSDT"));
	cr_assert_eq(l[0].change_pct, 4 * E8);
}

/* The engine hands the 24 h window the trades of each candle aggregate at
 * once (at a new second, a commit's refresh, the timer), not one by one:
 * the published statistics and 1 h change must be those of a window fed
 * trade by trade, out-of-order and equal trade times included, over more
 * than an hour so that buckets made from whole aggregates open the 1 h
 * window. */
Test(analytics, stats24h_in_the_latest_table_equal_a_window_fed_trade_by_trade, .fini = rig_close)
{
	struct tr_s24 *ref;
	int64_t t = T0 + 800000000, px = 100 * E8, newest = 0, newest_recv = 0;
	uint64_t x = 88172645463325252ull;
	int h1, opened = 0;

	rig_config();
	rig.cfg.an.refresh_us = 1000000; /* commits leave the trades in the aggregate */
	rig_open();
	cr_assert_eq(tr_s24_create(&ref, NULL), 0);
	h1 = tr_s24_add_window(ref, 3600 * SEC);
	for (uint64_t id = 1; id <= 4000; id++) {
		char p[32], q[32];
		int64_t recv = T0 + (int64_t)id * 1000; /* received in order, 1 us apart */

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (id == 2)
			t -= 500000000; /* the window's open: the first to arrive, not the earliest
					 */
		else if (x % 7 == 0)
			t -= (int64_t)(x % 1500) * 1000000; /* out of order, maybe a second back */
		else if (x % 97 == 0)
			t += 200 * SEC; /* a quiet spell */
		else if (x % 5 != 0)
			t += (int64_t)(x % 400) * 1000000; /* else an equal time */
		px += (int64_t)(x >> 20) % 2001 - 1000;
		snprintf(p, sizeof p, "%lld.%08lld", (long long)(px / E8), (long long)(px % E8));
		snprintf(q, sizeof q, "0.%05llu", (unsigned long long)(x >> 40) % 99999 + 1);
		trade_at("BTCUSDT", id, p, q, t, recv);
		tr_s24_add(ref, t, px, (int64_t)((x >> 40) % 99999 + 1) * 1000, id, 1);
		if (t > newest) {
			newest = t;
			newest_recv = recv;
		}
		if (id % 7)
			continue;
		/* The timer folds the aggregate and ages the window at the
		 * candle clock: the newest trade time plus the receive time since. */
		tr_engine_tick(rig.e);
		tr_s24_advance(ref, newest + (recv - newest_recv));

		struct tr_stats24h got, want;
		struct tr_sym_analytics an;
		int64_t open = 0;
		uint32_t id_ = (uint32_t)sym("BTCUSDT");
		cr_assert_eq(tr_latest_stats(rig.r, id_, &got), 0);
		cr_assert_geq(tr_s24_read(ref, &want), 0);
		cr_assert_eq(memcmp(&got, &want, sizeof got), 0,
			     "trade %llu: last %lld/%lld open %lld/%lld count %llu/%llu",
			     (unsigned long long)id, (long long)got.last, (long long)want.last,
			     (long long)got.open, (long long)want.open,
			     (unsigned long long)got.trade_count,
			     (unsigned long long)want.trade_count);
		cr_assert_eq(tr_latest_analytics(rig.r, id_, &an), 0);
		cr_assert_eq(tr_s24_window_open(ref, (unsigned)h1, &open), 1);
		cr_assert_eq(an.open_1h, open, "trade %llu: 1 h open", (unsigned long long)id);
		opened += open != want.open;
	}
	cr_assert_gt(opened, 0, "the 1 h window never opened after the 24 h one");
	tr_s24_free(ref);
}

Test(analytics, latest_table_refresh_is_lazy_and_bounded, .fini = rig_close)
{
	rig_config();
	rig.cfg.an.refresh_us = 1000000; /* 1 s between refreshes of a symbol */
	rig_open();
	uint32_t s;
	struct tr_candle c;
	trade("BTCUSDT", 1, "100", "1", T0); /* first refresh at commit */
	s = (uint32_t)sym("BTCUSDT");
	cr_assert_eq(tr_latest_candle(rig.r, s, 1, &c), 0);
	cr_assert_eq(c.trade_count, 1);
	trade("BTCUSDT", 2, "101", "1", T0 + SEC / 2);
	struct tr_trade t;
	cr_assert_eq(tr_latest_trade(rig.r, s, &t), 0);
	cr_assert_eq(t.trade_id, 2, "the trade entry is written at once");
	cr_assert_eq(tr_latest_candle(rig.r, s, 1, &c), 0);
	cr_assert_eq(c.trade_count, 1, "the candle copy waits for the refresh gap");
	tr_engine_tick(rig.e); /* the timer refreshes whatever is behind */
	cr_assert_eq(tr_latest_candle(rig.r, s, 1, &c), 0);
	cr_assert_eq(c.trade_count, 2);
	cr_assert_eq(c.close, 101 * E8);
	struct tr_stats24h st;
	cr_assert_eq(tr_latest_stats(rig.r, s, &st), 0);
	cr_assert_eq(st.trade_count, 2);
	trade("BTCUSDT", 3, "102", "1", T0 + 2 * SEC); /* a second later: refreshed at commit */
	cr_assert_eq(tr_latest_candle(rig.r, s, 1, &c), 0);
	cr_assert_eq(c.trade_count, 3);
}

/* Live, the timer may run before the first trade: the candle clock must not
 * start at the wall clock, which is years ahead of recorded data served by a
 * simulator (that once made the 1 s builder emit a flat candle per second
 * from 2024 to now). */
Test(analytics, timer_before_the_first_trade_does_not_set_the_candle_clock, .fini = rig_close,
     .timeout = 60)
{
	rig_config();
	rig.cfg.nfeeds = 1;
	snprintf(rig.cfg.feeds[0].venue, sizeof rig.cfg.feeds[0].venue, "binance");
	rig.cfg.nsymbols = 1;
	snprintf(rig.cfg.symbols[0], sizeof rig.cfg.symbols[0], "BTCUSDT");
	rig_open();
	tr_engine_tick(rig.e); /* live: the receive clock is the wall clock */
	char buf[512 + TR_PARSE_PADDING];
	int n =
	    snprintf(buf, 512,
		     "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":%lld,"
		     "\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"100\",\"q\":\"1\",\"T\":%lld,\"m\":false,"
		     "\"M\":true}}",
		     (long long)(T0 / 1000000), (long long)(T0 / 1000000));
	memset(buf + n, 0, TR_PARSE_PADDING);
	cr_assert_eq(
	    tr_engine_frame(rig.e, (unsigned)rig.venue, TR_SRC_FEED, tr_now_ns(), buf, (size_t)n),
	    1);
	tr_engine_tick(rig.e);
	tr_engine_commit(rig.e);
	cr_assert_lt(tr_region_head(rig.r, TR_KIND_CANDLE), 100,
		     "a few candle records, not one per second since the data's day");
}

/* kill -9 between publishing a trade and recording it in the latest table:
 * the restarted engine still knows that trade (the ring's newest) and drops
 * its redelivery instead of publishing it twice. */
Test(analytics, restart_dedupes_the_trade_the_latest_table_missed)
{
	char buf[512 + TR_PARSE_PADDING];
	struct tr_trade t;
	struct tr_cursor c;
	int64_t t0 = 1723161600000000000ll;

	rig_config();
	rig_open();
	trade("BTCUSDT", 100, "60000", "1", t0);
	/* The crash window, reproduced: trade 101 reaches the ring only. */
	tr_cursor_init(&c, rig.r, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	t.trade_id = 101;
	tr_writer_publish(tr_engine_writer(rig.e), TR_KIND_TRADE, &t);
	tr_region_close(rig.r);
	rig.r = NULL;
	tr_engine_close(rig.e);
	tr_uring_exit(&rig.u);
	cr_assert_eq(tr_uring_init(&rig.u, 64), 0);
	cr_assert_eq(tr_engine_open(&rig.e, &rig.cfg, &rig.u), 0, "%s", tr_errmsg());
	rig.venue = tr_engine_venue(rig.e, "binance");
	cr_assert_eq(tr_region_open(&rig.r, rig.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	int n = snprintf(buf, 512,
			 "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":%lld,"
			 "\"s\":\"BTCUSDT\",\"t\":101,\"p\":\"60000\",\"q\":\"1\",\"T\":%lld,"
			 "\"m\":false,\"M\":true}}",
			 (long long)(t0 / 1000000 + 1), (long long)(t0 / 1000000 + 1));
	memset(buf + n, 0, TR_PARSE_PADDING);
	cr_assert_eq(tr_engine_frame(rig.e, (unsigned)rig.venue, TR_SRC_REPLAY, t0 + 1000000, buf,
				     (size_t)n),
		     0, "trade 101 published twice");
	trade("BTCUSDT", 102, "60000", "1", t0 + 2000000);
	rig_close();
}

/* The reference and MAD of every window equal the lower medians of a sorted
 * copy: windows of assorted sizes, prices with many repeats (as recorded
 * trades have) and without. */
static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

Test(analytics, outlier_reference_and_mad_equal_a_sort)
{
	static int64_t win[512], srt[512];
	uint64_t x = 0x2545f4914f6cdd1dull;
	int64_t dev;

	for (uint32_t n = 4; n <= 512; n = n * 3 / 2 + 1) {
		for (int spread = 1; spread <= 1000000; spread *= 1000) {
			struct tr_outlier o;

			cr_assert_eq(tr_outlier_init(&o, n, 0, 0), 0);
			for (int w = 0; w < 6; w++) {
				for (uint32_t i = 0; i < n; i++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					win[i] = 100 * E8 + (int64_t)(x % (uint64_t)spread) * 1000;
					tr_outlier_check(&o, win[i], &dev);
				}
				uint32_t k = (n - 1) / 2;
				memcpy(srt, win, n * sizeof *srt);
				qsort(srt, n, sizeof *srt, cmp64);
				int64_t ref = srt[k];
				for (uint32_t i = 0; i < n; i++)
					srt[i] = win[i] > ref ? win[i] - ref : ref - win[i];
				qsort(srt, n, sizeof *srt, cmp64);
				cr_assert(o.valid);
				cr_assert_eq(o.ref, ref, "window %u spread %d", n, spread);
				cr_assert_eq(o.mad, srt[k], "window %u spread %d", n, spread);
			}
			tr_outlier_free(&o);
		}
	}
}
