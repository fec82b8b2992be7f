/* test_tables.c - venue and symbol tables, and the latest table's seqlock. */
#include <errno.h>
#include <pthread.h>

#include "th.h"

static struct tr_region *open_reader(const char *inst)
{
	struct tr_region *r = NULL;

	cr_assert_eq(tr_region_open(&r, inst, 0), 0, "%s", tr_errmsg());
	return r;
}

Test(symbols, ids_are_dense_stable_and_idempotent)
{
	char inst[64];
	th_instance(inst, sizeof inst, "sym");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_symbol s;

	int spot = tr_writer_venue(w, "binance");
	int fut = tr_writer_venue(w, "binance-usdm");
	cr_assert_eq(spot, 0);
	cr_assert_eq(fut, 1);
	cr_assert_eq(tr_writer_venue(w, "binance"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "ETHUSDT"), 1);
	cr_assert_eq(tr_writer_symbol(w, 1, "BTCUSDT"), 2,
		     "same name on another venue is another symbol");
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), 0);
	cr_assert_eq(tr_symbol_count(r), 3);
	cr_assert_eq(tr_venue_count(r), 2);
	cr_assert_str_eq(tr_venue_name(r, 1), "binance-usdm");
	cr_assert_str_eq(tr_venue_name(r, 7), "?");
	cr_assert_eq(tr_symbol_get(r, 2, &s), 0);
	cr_assert_str_eq(s.name, "BTCUSDT");
	cr_assert_eq(s.venue_id, 1);
	cr_assert_eq(s.id, 2);
	cr_assert_eq(tr_symbol_get(r, 3, &s), -ENOENT);
	cr_assert_eq(tr_symbol_find(r, NULL, "ethusdt"), 1, "case-insensitive");
	cr_assert_eq(tr_symbol_find(r, "binance-usdm", "BTCUSDT"), 2);
	cr_assert_eq(tr_symbol_find(r, NULL, "DOGEUSDT"), -ENOENT);
	tr_writer_symbol_status(w, 1, TR_SYM_HALTED);
	tr_symbol_get(r, 1, &s);
	cr_assert_eq(s.status, TR_SYM_HALTED);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(symbols, bad_names_and_a_full_table_are_errors)
{
	char inst[64];
	th_instance(inst, sizeof inst, "symfull");
	struct tr_writer *w = th_writer(inst, 16); /* capacity 64 */
	char name[32];

	int v = tr_writer_venue(w, "x");
	cr_assert_eq(tr_writer_symbol(w, (unsigned)v, ""), -EINVAL);
	cr_assert_eq(tr_writer_symbol(w, (unsigned)v, "A B"), -EINVAL);
	cr_assert_eq(tr_writer_symbol(w, (unsigned)v, "0123456789012345678901234567890123"),
		     -EINVAL);
	cr_assert_eq(tr_writer_symbol(w, 5, "BTCUSDT"), -EINVAL, "unregistered venue");
	cr_assert_eq(tr_writer_venue(w, "a-venue-name-too-long"), -EINVAL);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof name, "S%d", i);
		cr_assert_eq(tr_writer_symbol(w, (unsigned)v, name), i);
	}
	cr_assert_eq(tr_writer_symbol(w, (unsigned)v, "ONEMORE"), -ENOSPC);
	cr_assert_not_null(strstr(tr_errmsg(), "full"));
	for (int i = 1; i < TR_MAX_VENUES; i++) {
		snprintf(name, sizeof name, "v%d", i);
		cr_assert_eq(tr_writer_venue(w, name), i);
	}
	cr_assert_eq(tr_writer_venue(w, "extra"), -ENOSPC);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(latest, parts_round_trip_and_report_missing_data)
{
	char inst[64];
	th_instance(inst, sizeof inst, "latest");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_trade t = {.price = 6183763000000, .qty = 100000, .trade_id = 42}, t2;
	struct tr_quote q = {.bid_px = 1, .ask_px = 2}, q2;
	struct tr_candle k = {.open = 5, .close = 6, .interval_s = 60}, k2;
	struct tr_stats24h st;

	int v = tr_writer_venue(w, "binance");
	int s = tr_writer_symbol(w, (unsigned)v, "BTCUSDT");
	cr_assert_eq(tr_latest_trade(r, (uint32_t)s, &t2), -ENODATA);
	cr_assert_eq(tr_latest_trade(r, 9, &t2), -ENOENT);
	int i1m = tr_interval_index(r, 60);
	cr_assert_eq(i1m, 1);
	cr_assert_eq(tr_interval_index(r, 7), -ENOENT);

	struct tr_latest *l = tr_latest_begin(w, (unsigned)s);
	tr_latest_put(l, &l->trade, &t, sizeof t);
	tr_latest_put(l, &l->quote, &q, sizeof q);
	tr_latest_put(l, &l->candles[i1m], &k, sizeof k);
	tr_latest_mark(l, TR_LATEST_TRADE | TR_LATEST_QUOTE | TR_LATEST_CANDLE(i1m));
	tr_latest_end(l);
	cr_assert_eq(l->lock % 2, 0);
	cr_assert_eq(tr_latest_trade(r, (uint32_t)s, &t2), 0);
	cr_assert_eq(memcmp(&t, &t2, sizeof t), 0);
	cr_assert_eq(tr_latest_quote(r, (uint32_t)s, &q2), 0);
	cr_assert_eq(q2.ask_px, 2);
	cr_assert_eq(tr_latest_candle(r, (uint32_t)s, (unsigned)i1m, &k2), 0);
	cr_assert_eq(k2.close, 6);
	cr_assert_eq(tr_latest_candle(r, (uint32_t)s, 0, &k2), -ENODATA);
	cr_assert_eq(tr_latest_stats(r, (uint32_t)s, &st), -ENODATA);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(latest, a_writer_stuck_mid_update_is_reported_not_waited_for, .timeout = 60)
{
	char inst[64];
	th_instance(inst, sizeof inst, "stuck");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_trade t;

	int s = tr_writer_symbol(w, (unsigned)tr_writer_venue(w, "v"), "X");
	tr_latest_begin(w, (unsigned)s); /* and never end */
	cr_assert_eq(tr_latest_trade(r, (uint32_t)s, &t), -EAGAIN);
	cr_assert_not_null(strstr(tr_errmsg(), "locked"));
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(latest, readers_never_see_a_torn_entry, .timeout = 120)
{
	char inst[64];
	th_instance(inst, sizeof inst, "hammer");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);

	th_latest_hammer(w, r, 300000);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}
