/* test_candle.c - the candle builder against an exact-decimal reference and hand-worked cases.
 *
 * Reference: tests/ref/kline_ref.py, a separate Python program using the decimal module,
 * computes the klines of the recorded Binance spot trades ($TR_ROOT/../shared/data); this
 * file feeds the same trades (parsed with tr_parse_binance) into tr_candle and requires every
 * field of every candle to be equal as decimal text. Then the same trades in one pass,
 * shuffled within the lateness, and shuffled into revisions must give the same finals.
 * Hand-worked cases cover lateness, empty intervals, gaps, non-market prints, UTC
 * alignment at day and week boundaries, aggTrade counts, partial rate limiting, rounding
 * and overflow.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tr_abi.h"
#include "tr_candle.h"
#include "tr_fixed.h"
#include "tr_parse.h"

#define NS 1000000000LL
#define MS 1000000LL
#define LINE_CAP (1u << 20)

/* ---- helpers ------------------------------------------------------------------ */

struct sink {
	struct tr_candle *v;
	size_t n, cap;
};

static void sink_emit(void *ctx, struct tr_candle *c)
{
	struct sink *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		cr_assert(s->v);
	}
	s->v[s->n++] = *c;
}

static int64_t fx(const char *s)
{
	int64_t v;

	cr_assert_eq(tr_fixed_parse(s, strlen(s), &v), TR_FIXED_OK, "%s", s);
	return v;
}

static struct tr_trade mk(int64_t ts_ns, const char *px, const char *qty, uint64_t id, int side)
{
	struct tr_trade t = {0};

	t.ts_event = ts_ns;
	t.price = fx(px);
	t.qty = fx(qty);
	t.trade_id = id;
	t.side = (uint8_t)side;
	t.trade_count = 1;
	return t;
}

static struct tr_candle_builder *mkb(uint32_t iv, int64_t late, int64_t revise, int policy,
				     uint32_t partial, struct sink *s)
{
	struct tr_candle_cfg cfg = {.interval_s = iv,
				    .symbol_id = 3,
				    .venue_id = 1,
				    .policy = (uint8_t)policy,
				    .partial_per_s = partial,
				    .lateness_ns = late,
				    .revise_ns = revise,
				    .emit = sink_emit,
				    .ctx = s};
	struct tr_candle_builder *b = tr_candle_new(&cfg);

	cr_assert(b);
	return b;
}

static size_t count_final(const struct sink *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += (s->v[i].flags & TR_CANDLE_FINAL) != 0;
	return n;
}

/* The latest final record of each open_time, in open_time order. Returns a
 * new array; *n gets its length. Also checks: revisions of one bucket only
 * grow, and a bucket's partials never follow its first final. */
static struct tr_candle *finals(const struct sink *s, size_t *n)
{
	struct tr_candle *out = calloc(s->n + 1, sizeof *out);
	size_t k = 0;

	cr_assert(out);
	for (size_t i = 0; i < s->n; i++) {
		const struct tr_candle *c = &s->v[i];
		size_t j;

		for (j = 0; j < k; j++)
			if (out[j].open_time == c->open_time)
				break;
		if (!(c->flags & TR_CANDLE_FINAL)) {
			cr_assert(j == k, "partial after final for open_time %" PRId64,
				  c->open_time);
			continue;
		}
		if (j == k)
			k++;
		else
			cr_assert(c->revision >= out[j].revision);
		out[j] = *c;
	}
	/* insertion sort by open_time */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && out[j - 1].open_time > out[j].open_time; j--) {
			struct tr_candle t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	*n = k;
	return out;
}

/* Every field but seq and revision. */
static void assert_same_candle(const struct tr_candle *a, const struct tr_candle *b,
			       const char *what)
{
	cr_assert_eq(a->open_time, b->open_time, "%s", what);
	cr_assert_eq(a->open, b->open, "%s open @%" PRId64, what, a->open_time);
	cr_assert_eq(a->high, b->high, "%s", what);
	cr_assert_eq(a->low, b->low, "%s", what);
	cr_assert_eq(a->close, b->close, "%s close @%" PRId64, what, a->open_time);
	cr_assert_eq(a->volume, b->volume, "%s", what);
	cr_assert_eq(a->quote_volume, b->quote_volume, "%s", what);
	cr_assert_eq(a->taker_buy_volume, b->taker_buy_volume, "%s", what);
	cr_assert_eq(a->taker_buy_quote_volume, b->taker_buy_quote_volume, "%s", what);
	cr_assert_eq(a->vwap, b->vwap, "%s", what);
	cr_assert_eq(a->first_trade_id, b->first_trade_id, "%s", what);
	cr_assert_eq(a->last_trade_id, b->last_trade_id, "%s", what);
	cr_assert_eq(a->ts_update, b->ts_update, "%s", what);
	cr_assert_eq(a->trade_count, b->trade_count, "%s", what);
	cr_assert_eq(a->symbol_id, b->symbol_id, "%s", what);
	cr_assert_eq(a->interval_s, b->interval_s, "%s", what);
	cr_assert_eq(a->venue_id, b->venue_id, "%s", what);
	cr_assert_eq(a->flags, b->flags, "%s", what);
}

/* ---- recorded trades ------------------------------------------------------------ */

struct tape {
	struct tr_trade *v;
	size_t n, cap;
};

static void load(struct tape *tp, const char *rel, const char *symbol)
{
	char path[4200];
	const char *root = getenv("TR_ROOT");
	char *line = malloc(LINE_CAP + TR_PARSE_PADDING);
	struct tr_parser *p = tr_parser_new();

	cr_assert(line && p);
	snprintf(path, sizeof path, "%s/../shared/data/%s", root ? root : ".", rel);
	gzFile gz = gzopen(path, "rb");

	cr_assert(gz, "cannot open %s (TR_ROOT=%s)", path, root ? root : "unset");
	while (gzgets(gz, line, LINE_CAP)) {
		char *f = strchr(line, ' ');
		struct tr_msg m;

		if (!f || !strstr(f, "@trade\""))
			continue;
		f++;
		size_t len = strcspn(f, "\r\n");

		cr_assert_eq(tr_parse_binance(p, f, len, &m), TR_MSG_TRADE, "%s", f);
		cr_assert_str_eq(m.symbol, symbol);
		if (tp->n == tp->cap) {
			tp->cap = tp->cap ? tp->cap * 2 : 4096;
			tp->v = realloc(tp->v, tp->cap * sizeof *tp->v);
			cr_assert(tp->v);
		}
		struct tr_trade *t = &tp->v[tp->n++];

		memset(t, 0, sizeof *t);
		t->ts_event = m.u.trade.ts_trade;
		t->price = m.u.trade.price;
		t->qty = m.u.trade.qty;
		t->trade_id = m.u.trade.trade_id;
		t->side = m.u.trade.side;
		t->flags = m.u.trade.nonmarket ? TR_TRADE_NONMARKET : 0;
		t->trade_count = 1;
	}
	gzclose(gz);
	tr_parser_free(p);
	free(line);
}

static const char *const SYMS[2] = {"BTCUSDT", "ETHUSDT"};
static const uint32_t IVS[] = {1,    60,    180,   300,	  900,	 1800,	3600,
			       7200, 14400, 21600, 28800, 43200, 86400, 604800};
#define NIVS (sizeof IVS / sizeof IVS[0])
static const char *const IV_TEXT = "1s,1m,3m,5m,15m,30m,1h,2h,4h,6h,8h,12h,1d,1w";

static struct tape tapes[2];

static void load_tapes(void)
{
	if (tapes[0].n)
		return;
	load(&tapes[0], "binance-spot/btcusdt_20240808.gz", "BTCUSDT");
	load(&tapes[0], "binance-spot/btcusdt_20240809.gz", "BTCUSDT");
	load(&tapes[1], "binance-spot/ethusdt_20240808.gz", "ETHUSDT");
	load(&tapes[1], "binance-spot/ethusdt_20240809.gz", "ETHUSDT");
}

enum mode { MODE_1X, MODE_ONEPASS, MODE_SHUFFLED, MODE_REVISED };

struct arrival {
	int64_t at;
	size_t i;
};

static int cmp_arrival(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Feed a tape to a fresh builder the way `mode` says; returns the sink. */
static struct sink run_tape(const struct tape *tp, uint32_t iv, int policy, enum mode mode)
{
	struct sink s = {0};
	int64_t late = 2 * NS, revise = mode == MODE_REVISED ? 10 * NS : 2 * NS;
	struct tr_candle_builder *b = mkb(iv, late, revise, policy, 0, &s);
	struct arrival *arr = malloc(tp->n * sizeof *arr);
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	cr_assert(arr);
	for (size_t i = 0; i < tp->n; i++) {
		int64_t jitter = 0;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		if (mode == MODE_SHUFFLED)
			jitter = (int64_t)((rng >> 16) % (uint64_t)(late - 1));
		else if (mode == MODE_REVISED)
			jitter = (int64_t)((rng >> 16) % (uint64_t)(late + 6 * NS));
		arr[i] = (struct arrival){tp->v[i].ts_event + jitter, i};
	}
	if (mode == MODE_SHUFFLED || mode == MODE_REVISED)
		qsort(arr, tp->n, sizeof *arr, cmp_arrival);
	for (size_t k = 0; k < tp->n; k++) {
		int r = tr_candle_add(b, &tp->v[arr[k].i], arr[k].at);

		cr_assert(r == TR_CANDLE_ADD_APPLIED || r == TR_CANDLE_ADD_REVISED, "add: %d", r);
		if (mode != MODE_REVISED)
			cr_assert_eq(r, TR_CANDLE_ADD_APPLIED);
		if (mode == MODE_1X || (mode != MODE_ONEPASS && k % 97 == 0))
			tr_candle_advance(b, arr[k].at);
	}
	if (mode == MODE_ONEPASS)
		tr_candle_flush(b);
	else
		tr_candle_advance(b, tp->v[tp->n - 1].ts_event + late + (int64_t)iv * NS);
	cr_assert(!tr_candle_current(b) || (tr_candle_current(b)->flags & TR_CANDLE_FINAL));
	tr_candle_free(b);
	free(arr);
	return s;
}

/* A JSON member of a reference line as text: a string's content or a number. */
static void member(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];

	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);

	cr_assert(p, "no %s in %s", key, line);
	p += strlen(pat);
	if (*p == '"')
		p++;
	size_t n = strcspn(p, "\",}");

	cr_assert(n < cap);
	memcpy(out, p, n);
	out[n] = 0;
}

static void expect_fixed(const char *line, const char *key, int64_t got)
{
	char want[64], buf[TR_FIXED_BUFSZ];

	member(line, key, want, sizeof want);
	tr_fixed_format(got, buf);
	cr_assert_str_eq(buf, want, "%s: engine %s, reference %s in %s", key, buf, want, line);
}

static void expect_int(const char *line, const char *key, int64_t got)
{
	char want[64], buf[32];

	member(line, key, want, sizeof want);
	snprintf(buf, sizeof buf, "%" PRId64, got);
	cr_assert_str_eq(buf, want, "%s: engine %s, reference %s in %s", key, buf, want, line);
}

/* ---- the recorded data against the reference -------------------------------------- */

Test(candle, shouldEqualExactDecimalReferenceOnRecordedSpotTrades, .timeout = 120)
{
	const char *root = getenv("TR_ROOT");
	char cmd[8192], line[1024];
	struct tr_candle *fin[2][NIVS];
	size_t nfin[2][NIVS], matched[2][NIVS] = {{0}};
	size_t covered_1m[2] = {0};

	cr_assert(root, "TR_ROOT is not set: run through tests/run.sh");
	load_tapes();
	for (int y = 0; y < 2; y++)
		for (size_t i = 0; i < NIVS; i++) {
			struct sink s = run_tape(&tapes[y], IVS[i], TR_CANDLE_POLICY_SKIP, MODE_1X);

			cr_assert_eq(count_final(&s), s.n, "no partials were asked for");
			fin[y][i] = finals(&s, &nfin[y][i]);
			cr_assert_eq(nfin[y][i], s.n, "one final per bucket, no revisions");
			free(s.v);
		}
	snprintf(cmd, sizeof cmd,
		 "python3 %s/tests/ref/kline_ref.py --intervals %s"
		 " %s/../shared/data/binance-spot/btcusdt_20240808.gz"
		 " %s/../shared/data/binance-spot/btcusdt_20240809.gz"
		 " %s/../shared/data/binance-spot/ethusdt_20240808.gz"
		 " %s/../shared/data/binance-spot/ethusdt_20240809.gz",
		 root, IV_TEXT, root, root, root, root);
	FILE *py = popen(cmd, "r");

	cr_assert(py, "cannot run %s", cmd);
	size_t lines = 0;

	while (fgets(line, sizeof line, py)) {
		char sym[32], v[64];
		int y;
		size_t i;

		lines++;
		member(line, "symbol", sym, sizeof sym);
		y = !strcmp(sym, "ETHUSDT");
		cr_assert(y || !strcmp(sym, "BTCUSDT"), "%s", line);
		member(line, "interval_s", v, sizeof v);
		for (i = 0; i < NIVS && IVS[i] != (uint32_t)atol(v); i++)
			;
		cr_assert(i < NIVS, "%s", line);
		member(line, "open_time_ms", v, sizeof v);
		int64_t ot = atoll(v) * MS;
		const struct tr_candle *c = NULL;

		for (size_t k = 0; k < nfin[y][i]; k++)
			if (fin[y][i][k].open_time == ot)
				c = &fin[y][i][k];
		cr_assert(c, "engine has no candle for %s", line);
		expect_int(line, "close_time_ms",
			   (c->open_time + (int64_t)c->interval_s * NS) / MS - 1);
		expect_fixed(line, "open", c->open);
		expect_fixed(line, "high", c->high);
		expect_fixed(line, "low", c->low);
		expect_fixed(line, "close", c->close);
		expect_fixed(line, "volume", c->volume);
		expect_fixed(line, "quote_volume", c->quote_volume);
		expect_int(line, "trades", c->trade_count);
		expect_fixed(line, "taker_buy_volume", c->taker_buy_volume);
		expect_fixed(line, "taker_buy_quote_volume", c->taker_buy_quote_volume);
		expect_fixed(line, "vwap", c->vwap);
		expect_int(line, "first_id", (int64_t)c->first_trade_id);
		expect_int(line, "last_id", (int64_t)c->last_trade_id);
		cr_assert_eq(c->flags, TR_CANDLE_FINAL);
		cr_assert_eq(c->revision, 0);
		cr_assert_eq(c->symbol_id, 3);
		cr_assert_eq(c->interval_s, IVS[i]);
		matched[y][i]++;
		member(line, "covered", v, sizeof v);
		if (IVS[i] == 60 && !strcmp(v, "true")) {
			/* the fully covered minutes are 23:55..00:04 (SOURCES.md) */
			cr_assert(ot >= 1723161300 * NS && ot <= 1723161840 * NS, "%s", line);
			covered_1m[y]++;
		}
	}
	cr_assert_eq(pclose(py), 0, "%s failed", cmd);
	cr_assert_gt(lines, 1000);
	for (int y = 0; y < 2; y++) {
		cr_assert_eq(covered_1m[y], 10, "%s: 10 fully covered minutes", SYMS[y]);
		for (size_t i = 0; i < NIVS; i++) {
			cr_assert_eq(matched[y][i], nfin[y][i],
				     "%s %us: engine %zu candles, reference %zu", SYMS[y], IVS[i],
				     nfin[y][i], matched[y][i]);
			free(fin[y][i]);
		}
	}
	cr_log_info("candle: %zu reference candles equal, every field", lines);
}

/* Replay at 1x (advance after each trade), at maximum speed (one pass, no advance),
 * shuffled within the lateness, and shuffled beyond it into revisions: the same finals. */
Test(candle, shouldBuildSameFinalsWhateverTheArrivalOrderAndAdvanceCadence, .timeout = 120)
{
	load_tapes();
	for (int y = 0; y < 2; y++)
		for (size_t i = 0; i < NIVS; i++)
			for (int policy = 0; policy < 2; policy++) {
				struct sink base = run_tape(&tapes[y], IVS[i], policy, MODE_1X);
				size_t nb;
				struct tr_candle *fb = finals(&base, &nb);

				/* Under FLAT, a revision does not re-issue the empty candles
				 * after it (docs/candles.md): revisions only under SKIP. */
				enum mode last =
				    policy == TR_CANDLE_POLICY_FLAT ? MODE_SHUFFLED : MODE_REVISED;

				for (enum mode m = MODE_ONEPASS; m <= last; m++) {
					struct sink s = run_tape(&tapes[y], IVS[i], policy, m);
					size_t n;
					struct tr_candle *f = finals(&s, &n);
					char what[64];

					snprintf(what, sizeof what, "%s %us policy %d mode %d",
						 SYMS[y], IVS[i], policy, (int)m);
					cr_assert_eq(n, nb, "%s", what);
					if (m != MODE_REVISED)
						cr_assert_eq(count_final(&s), n, "%s: no revisions",
							     what);
					else if (IVS[i] == 1)
						cr_assert_gt(count_final(&s), n,
							     "%s: revisions happened", what);
					for (size_t k = 0; k < n; k++)
						assert_same_candle(&f[k], &fb[k], what);
					free(f);
					free(s.v);
				}
				if (policy == TR_CANDLE_POLICY_FLAT)
					for (size_t k = 1; k < nb; k++) {
						cr_assert_eq(fb[k].open_time,
							     fb[k - 1].open_time +
								 (int64_t)IVS[i] * NS);
						if (fb[k].flags & TR_CANDLE_EMPTY) {
							cr_assert_eq(fb[k].open, fb[k - 1].close);
							cr_assert_eq(fb[k].high, fb[k].open);
							cr_assert_eq(fb[k].volume, 0);
							cr_assert_eq(fb[k].trade_count, 0);
						}
					}
				free(fb);
				free(base.v);
			}
}

/* ---- hand-worked cases -------------------------------------------------------------- */

#define T0 (1723420800LL * NS) /* 2024-08-12T00:00:00Z, a Monday */

Test(candle, shouldReviseFinalCandleForTradeInsideLatenessAndReportOneOutside)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 1 * NS, 10 * NS, TR_CANDLE_POLICY_SKIP, 0, &s);
	struct tr_trade a = mk(T0 + 10 * NS, "100", "1", 1, TR_SIDE_BUY);
	struct tr_trade c = mk(T0 + 50 * NS, "101", "2", 2, TR_SIDE_SELL);

	cr_assert_eq(tr_candle_add(b, &a, T0 + 10 * NS), TR_CANDLE_ADD_APPLIED);
	cr_assert_eq(tr_candle_add(b, &c, T0 + 50 * NS), TR_CANDLE_ADD_APPLIED);
	cr_assert_eq(tr_candle_advance(b, T0 + 60 * NS + 999 * MS), 0, "lateness not yet passed");
	cr_assert_eq(tr_candle_advance(b, T0 + 61 * NS + 500 * MS), 1);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.v[0].flags, TR_CANDLE_FINAL);
	cr_assert_eq(s.v[0].revision, 0);
	cr_assert_eq(s.v[0].close, fx("101"));

	/* arrives at 00:01:05: watermark 00:01:04, 4 s after the end, revise window 10 s */
	struct tr_trade l1 = mk(T0 + 59 * NS, "105", "1", 3, TR_SIDE_BUY);

	cr_assert_eq(tr_candle_add(b, &l1, T0 + 65 * NS), TR_CANDLE_ADD_REVISED);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.v[1].flags, TR_CANDLE_FINAL);
	cr_assert_eq(s.v[1].revision, 1);
	cr_assert_eq(s.v[1].open_time, T0);
	cr_assert_eq(s.v[1].open, fx("100"));
	cr_assert_eq(s.v[1].high, fx("105"));
	cr_assert_eq(s.v[1].close, fx("105"));
	cr_assert_eq(s.v[1].volume, fx("4"));
	cr_assert_eq(s.v[1].quote_volume, fx("407"));
	cr_assert_eq(s.v[1].taker_buy_volume, fx("2"));
	cr_assert_eq(s.v[1].taker_buy_quote_volume, fx("205"));
	cr_assert_eq(s.v[1].vwap, fx("101.75"));
	cr_assert_eq(s.v[1].trade_count, 3);
	cr_assert_eq(s.v[1].last_trade_id, 3);
	cr_assert_eq(s.v[1].ts_update, T0 + 59 * NS);

	/* a trade older than the first one becomes the open */
	struct tr_trade l2 = mk(T0 + 1 * NS, "99", "1", 0, TR_SIDE_SELL);

	cr_assert_eq(tr_candle_add(b, &l2, T0 + 66 * NS), TR_CANDLE_ADD_REVISED);
	cr_assert_eq(s.v[2].revision, 2);
	cr_assert_eq(s.v[2].open, fx("99"));
	cr_assert_eq(s.v[2].low, fx("99"));
	cr_assert_eq(s.v[2].first_trade_id, 0);

	/* arrives at 00:01:11: watermark 00:01:10, 10 s after the end: late */
	struct tr_trade l3 = mk(T0 + 30 * NS, "200", "1", 4, TR_SIDE_BUY);

	cr_assert_eq(tr_candle_add(b, &l3, T0 + 71 * NS), TR_CANDLE_ADD_LATE);
	cr_assert_eq(s.n, 3, "a late trade emits nothing");
	const struct tr_candle *cur = tr_candle_current(b);

	cr_assert_eq(cur->high, fx("105"), "and is not applied");
	cr_assert_eq(cur->trade_count, 4);
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldSkipOrFillEmptyIntervalsByPolicy)
{
	for (int policy = 0; policy < 2; policy++) {
		struct sink s = {0};
		struct tr_candle_builder *b = mkb(60, 0, 0, policy, 0, &s);
		struct tr_trade a = mk(T0 + 5 * NS, "10", "1", 1, TR_SIDE_BUY);
		struct tr_trade c = mk(T0 + 55 * NS, "12", "1", 2, TR_SIDE_BUY);
		struct tr_trade d = mk(T0 + 125 * NS, "11", "3", 3, TR_SIDE_SELL);

		tr_candle_advance(
		    b, T0 - 3600 * NS); /* a clock before the first trade emits nothing */
		tr_candle_add(b, &a, T0 + 5 * NS);
		tr_candle_add(b, &c, T0 + 55 * NS);
		tr_candle_add(b, &d, T0 + 125 * NS);
		tr_candle_advance(b, T0 + 180 * NS);
		if (policy == TR_CANDLE_POLICY_SKIP) {
			cr_assert_eq(s.n, 2);
			cr_assert_eq(s.v[0].open_time, T0);
			cr_assert_eq(s.v[1].open_time, T0 + 120 * NS);
		} else {
			cr_assert_eq(s.n, 3);
			const struct tr_candle *e = &s.v[1];

			cr_assert_eq(e->open_time, T0 + 60 * NS);
			cr_assert_eq(e->flags, TR_CANDLE_FINAL | TR_CANDLE_EMPTY);
			cr_assert_eq(e->open, fx("12"));
			cr_assert_eq(e->high, fx("12"));
			cr_assert_eq(e->low, fx("12"));
			cr_assert_eq(e->close, fx("12"));
			cr_assert_eq(e->volume, 0);
			cr_assert_eq(e->quote_volume, 0);
			cr_assert_eq(e->vwap, 0);
			cr_assert_eq(e->trade_count, 0);
			cr_assert_eq(s.v[2].open_time, T0 + 120 * NS);
			cr_assert_eq(s.v[2].flags, TR_CANDLE_FINAL);
		}
		/* a quiet symbol: time alone closes (or fills) intervals */
		size_t before = s.n;

		tr_candle_advance(b, T0 + 300 * NS);
		cr_assert_eq(s.n, before + (policy ? 2 : 0));
		tr_candle_free(b);
		free(s.v);
	}
}

Test(candle, shouldFlagCandlesSpanningAGap)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);
	struct tr_trade a = mk(T0 + 5 * NS, "10", "1", 1, TR_SIDE_BUY);
	struct tr_trade c = mk(T0 + 65 * NS, "10", "1", 9, TR_SIDE_BUY);
	struct tr_trade d = mk(T0 + 125 * NS, "10", "1", 10, TR_SIDE_BUY);
	struct tr_trade e = mk(T0 + 185 * NS, "10", "1", 20, TR_SIDE_BUY);

	tr_candle_add(b, &a, T0 + 5 * NS);
	cr_assert_eq(tr_candle_current(b)->flags & TR_CANDLE_GAP, 0);
	tr_candle_mark_gap(b); /* e.g. a reconnect */
	cr_assert_eq(tr_candle_current(b)->flags & TR_CANDLE_GAP, TR_CANDLE_GAP);
	tr_candle_add(b, &c, T0 + 65 * NS);
	tr_candle_add(b, &d, T0 + 125 * NS);
	e.flags = TR_TRADE_GAP; /* the engine saw ids 11..19 missing */
	tr_candle_add(b, &e, T0 + 185 * NS);
	tr_candle_flush(b);
	cr_assert_eq(s.n, 4);
	cr_assert_eq(s.v[0].flags, TR_CANDLE_FINAL | TR_CANDLE_GAP);
	cr_assert_eq(s.v[1].flags, TR_CANDLE_FINAL | TR_CANDLE_GAP, "the first trades after it");
	cr_assert_eq(s.v[2].flags, TR_CANDLE_FINAL);
	cr_assert_eq(s.v[3].flags, TR_CANDLE_FINAL | TR_CANDLE_GAP);
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldLeaveNonMarketPrintsOut)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);
	struct tr_trade a = mk(T0 + 5 * NS, "10", "1", 1, TR_SIDE_BUY);
	struct tr_trade x = mk(T0 + 6 * NS, "50", "7", 2, TR_SIDE_SELL);
	struct tr_trade c = mk(T0 + 7 * NS, "11", "1", 3, TR_SIDE_SELL);

	x.flags = TR_TRADE_NONMARKET; /* futures "X":"INSURANCE_FUND" */
	cr_assert_eq(tr_candle_add(b, &a, 0), TR_CANDLE_ADD_APPLIED);
	cr_assert_eq(tr_candle_add(b, &x, 0), TR_CANDLE_ADD_NONMARKET);
	cr_assert_eq(tr_candle_add(b, &c, 0), TR_CANDLE_ADD_APPLIED);
	const struct tr_candle *k = tr_candle_current(b);

	cr_assert_eq(k->high, fx("11"));
	cr_assert_eq(k->volume, fx("2"));
	cr_assert_eq(k->quote_volume, fx("21"));
	cr_assert_eq(k->trade_count, 2);
	cr_assert_eq(k->first_trade_id, 1);
	cr_assert_eq(k->last_trade_id, 3, "ids span the excluded print, as Binance's f/L do");
	cr_assert_eq(k->flags, 0);
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldAlignDaysAndMondayWeeksToUtc)
{
	const int64_t sun_last = 1723420799999LL * MS; /* 2024-08-11T23:59:59.999Z, Sunday */
	const int64_t mon = 1723420800000LL * MS;      /* 2024-08-12T00:00:00Z, Monday */

	cr_assert_eq(tr_candle_align(86400, sun_last), 1723334400LL * NS); /* 2024-08-11 */
	cr_assert_eq(tr_candle_align(86400, mon), mon);
	cr_assert_eq(tr_candle_align(604800, sun_last), 1722816000LL * NS); /* Mon 2024-08-05 */
	cr_assert_eq(tr_candle_align(604800, mon), mon);
	cr_assert_eq(tr_candle_align(604800, 0), -3 * 86400 * NS,
		     "1970-01-01 is in the week of Mon 1969-12-29");
	cr_assert_eq(tr_candle_align(14400, mon - 1), mon - 4 * 3600 * NS);
	cr_assert_eq(tr_candle_align(43200, mon + 13 * 3600 * NS), mon + 12 * 3600 * NS);
	cr_assert_eq(tr_candle_align(1, -1), -NS, "floor, not truncation, before 1970");
	cr_assert(!tr_candle_interval_valid(120));
	cr_assert(!tr_candle_interval_valid(0));
	struct tr_candle_cfg bad = {.interval_s = 120};

	errno = 0;
	cr_assert_null(tr_candle_new(&bad));
	cr_assert_eq(errno, EINVAL);

	uint32_t ivs[2] = {86400, 604800};

	for (int i = 0; i < 2; i++) {
		struct sink s = {0};
		struct tr_candle_builder *b = mkb(ivs[i], 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);
		struct tr_trade a = mk(sun_last, "10", "1", 1, TR_SIDE_BUY);
		struct tr_trade c = mk(mon, "20", "1", 2, TR_SIDE_BUY);

		tr_candle_add(b, &a, sun_last);
		tr_candle_add(b, &c, mon);
		cr_assert_eq(tr_candle_advance(b, mon), 1,
			     "the Sunday candle ends at Monday 00:00");
		tr_candle_flush(b);
		cr_assert_eq(s.n, 2);
		cr_assert_eq(s.v[0].open_time, i ? 1722816000LL * NS : 1723334400LL * NS);
		cr_assert_eq((s.v[0].open_time + (int64_t)ivs[i] * NS) / MS - 1, 1723420799999LL,
			     "close time = open + interval - 1 ms");
		cr_assert_eq(s.v[0].close, fx("10"));
		cr_assert_eq(s.v[1].open_time, mon);
		cr_assert_eq(s.v[1].open, fx("20"));
		cr_assert_eq(s.v[1].interval_s, ivs[i]);
		tr_candle_free(b);
		free(s.v);
	}
}

Test(candle, shouldCountUnderlyingTradesOfAggTrades)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);
	struct tr_trade a = mk(T0 + 1 * NS, "10", "1", 500, TR_SIDE_BUY);
	struct tr_trade c = mk(T0 + 2 * NS, "10", "1", 501, TR_SIDE_BUY);
	struct tr_trade d = mk(T0 + 3 * NS, "10", "1", 7, TR_SIDE_BUY);

	a.flags = c.flags = TR_TRADE_AGG;
	a.trade_count = 5; /* f 1000, l 1004 */
	c.trade_count = 3;
	d.trade_count = 9; /* not an aggTrade: counts 1 whatever the field says */
	tr_candle_add(b, &a, 0);
	tr_candle_add(b, &c, 0);
	cr_assert_eq(tr_candle_current(b)->trade_count, 8);
	tr_candle_add(b, &d, 0);
	cr_assert_eq(tr_candle_current(b)->trade_count, 9);
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldRateLimitPartialsInCallerClockThenEmitOneFinal)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 2, &s);

	for (int i = 0; i <= 10; i++) { /* 11 trades over 1 s of caller clock */
		struct tr_trade t = mk(T0 + i * 100 * MS, "10", "1", (uint64_t)i + 1, TR_SIDE_BUY);

		tr_candle_add(b, &t, T0 + i * 100 * MS);
	}
	cr_assert_eq(s.n, 3, "partials at 0, 0.5 and 1.0 s");
	for (size_t i = 0; i < s.n; i++)
		cr_assert_eq(s.v[i].flags & TR_CANDLE_FINAL, 0);
	cr_assert_eq(s.v[2].trade_count, 11);
	struct tr_trade t = mk(T0 + 1100 * MS, "11", "1", 12, TR_SIDE_BUY);

	tr_candle_add(b, &t, T0 + 1100 * MS);
	cr_assert_eq(s.n, 3, "pending");
	cr_assert_eq(tr_candle_current(b)->trade_count, 12, "but the current candle is up to date");
	tr_candle_advance(b, T0 + 1300 * MS);
	cr_assert_eq(s.n, 3);
	tr_candle_advance(b, T0 + 1600 * MS);
	cr_assert_eq(s.n, 4, "the pending partial goes out once allowed");
	cr_assert_eq(s.v[3].trade_count, 12);
	tr_candle_advance(b, T0 + 1700 * MS + 60 * NS);
	cr_assert_eq(s.n, 5);
	cr_assert_eq(s.v[4].flags, TR_CANDLE_FINAL);
	cr_assert_eq(s.v[4].trade_count, 12);
	tr_candle_advance(b, T0 + 600 * NS);
	cr_assert_eq(s.n, 5, "exactly one final, no partial after it");
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldRoundQuoteVolumeOnceHalfToEven)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(1, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);
	/* each print's quote is 0.000000005: rounded per trade it would be 0 or 0.00000002 */
	for (int i = 0; i < 3; i++) {
		struct tr_trade t = mk(T0, "0.00000001", "0.5", (uint64_t)i, TR_SIDE_BUY);

		tr_candle_add(b, &t, T0);
	}
	const struct tr_candle *c = tr_candle_current(b);

	cr_assert_eq(c->quote_volume, 2, "1.5e-8 rounds half to even: 2e-8");
	cr_assert_eq(c->vwap, 1);
	struct tr_trade t = mk(T0 + NS, "0.00000001", "2.5", 9, TR_SIDE_SELL);

	tr_candle_add(b, &t, T0 + NS);
	c = tr_candle_current(b);
	cr_assert_eq(c->quote_volume, 2, "2.5e-8 rounds half to even: 2e-8");
	cr_assert_eq(c->taker_buy_quote_volume, 0);
	struct tr_trade u = mk(T0 + NS, "3", "0.00000001", 10, TR_SIDE_SELL);

	tr_candle_add(b, &u,
		      T0 + NS); /* volume 2.50000001, quote 0.00000028 - vwap exact sum/volume */
	c = tr_candle_current(b);
	cr_assert_eq(c->quote_volume, 6, "5.5e-8 -> 6e-8");
	cr_assert_eq(c->vwap, 2, "5.5e-16 / 2.50000001e-8 = 2.19999999e-8 -> 2e-8");
	tr_candle_free(b);
	free(s.v);
}

Test(candle, shouldSaturateSumsAndFlagOverflow)
{
	struct sink s = {0};
	struct tr_candle_builder *b = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s);

	for (int i = 0; i < 4; i++) {
		struct tr_trade t =
		    mk(T0 + i, "90000000000", "60000000000", (uint64_t)i, TR_SIDE_BUY);

		cr_assert_eq(tr_candle_add(b, &t, T0), TR_CANDLE_ADD_APPLIED);
	}
	const struct tr_candle *c = tr_candle_current(b);

	cr_assert_eq(c->volume, INT64_MAX);
	cr_assert_eq(c->quote_volume, INT64_MAX);
	cr_assert_eq(c->taker_buy_volume, INT64_MAX);
	cr_assert_eq(c->taker_buy_quote_volume, INT64_MAX);
	cr_assert_eq(c->flags & TR_CANDLE_OVERFLOW, TR_CANDLE_OVERFLOW);
	cr_assert_eq(c->trade_count, 4);
	cr_assert_eq(c->high, fx("90000000000"));

	/* a single product above int64 at 1e-8 but below the __int128 bound */
	struct sink s2 = {0};
	struct tr_candle_builder *b2 = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s2);
	struct tr_trade t = mk(T0, "1000000", "1000000", 1, TR_SIDE_SELL);

	tr_candle_add(b2, &t, T0);
	c = tr_candle_current(b2);
	cr_assert_eq(c->volume, fx("1000000"));
	cr_assert_eq(c->quote_volume, INT64_MAX, "1e12 does not fit");
	cr_assert_eq(c->vwap, fx("1000000"), "vwap from the exact sum still holds");
	cr_assert_eq(c->flags, TR_CANDLE_OVERFLOW);
	struct tr_trade z = mk(T0, "1", "1", 2, TR_SIDE_SELL);

	z.qty = 0;
	cr_assert_eq(tr_candle_add(b2, &z, T0), -EINVAL);
	tr_candle_free(b);
	tr_candle_free(b2);
	free(s.v);
	free(s2.v);
}

#define E8 100000000LL

/* n / 1e8 half to even, saturated at INT64_MAX (*ovf set), from the exact
 * sum: the rule the builder's split sums must give. */
static int64_t q8_expect(__int128 n, int *ovf)
{
	__int128 q = n / 100000000, r = n % 100000000;

	if (2 * r > 100000000 || (2 * r == 100000000 && (q & 1)))
		q++;
	if (q > INT64_MAX) {
		*ovf = 1;
		return INT64_MAX;
	}
	return (int64_t)q;
}

/* Trades merged as aggregates (split once for all builders, or not split)
 * make the record that adding them one by one makes, and its quote volumes
 * are the exact sums rounded once: random trades, sums at the int64 limit
 * of a record, a tie there, and sums beyond it. */
Test(candle, shouldMergeAggregatesAsTradesWhateverTheQuoteSplit)
{
	enum { N = 400 };
	static struct tr_trade tv[N];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const int64_t big = INT64_MAX;

	for (int sc = 0; sc < 5; sc++) {
		int n = sc == 0 ? N : 2;
		__int128 q = 0, tq = 0;

		for (int i = 0; i < n; i++) {
			struct tr_trade *t = &tv[i];

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memset(t, 0, sizeof *t);
			t->ts_event = T0 + (int64_t)(x % 1000) * MS;
			t->trade_id = 100 + (uint64_t)i;
			t->side = (x >> 20 & 1) ? TR_SIDE_BUY : TR_SIDE_SELL;
			t->trade_count = 1;
			if (sc == 0) { /* random prices and sizes, 8 decimals */
				t->price = 1 + (int64_t)(x >> 24) % 10000000000000;
				t->qty = 1 + (int64_t)(x >> 8) % 10000000000;
			} else if (sc == 1) { /* quote volume exactly INT64_MAX: fits */
				t->price = i ? 1 : big - 1;
				t->qty = E8;
			} else if (sc == 2) { /* a tie (.5) below the limit: to even */
				t->price = i ? 2 : big - 2;
				t->qty = E8 / 2;
			} else if (sc == 3) { /* one past the limit: saturates */
				t->price = i ? 2 : big - 1;
				t->qty = E8;
			} else { /* far beyond what 64 bits hold */
				t->price = fx("90000000000");
				t->qty = fx("60000000000");
			}
			t->side = sc ? TR_SIDE_BUY : t->side;
			q += (__int128)t->price * t->qty;
			if (t->side == TR_SIDE_BUY)
				tq += (__int128)t->price * t->qty;
		}
		for (int chunk = 1; chunk <= n; chunk = chunk * 7 + 1) {
			struct sink s1 = {0}, s2 = {0}, s3 = {0};
			struct tr_candle_builder *b1 = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s1);
			struct tr_candle_builder *b2 = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s2);
			struct tr_candle_builder *b3 = mkb(60, 0, 0, TR_CANDLE_POLICY_SKIP, 0, &s3);
			struct tr_candle_agg g;

			memset(&g, 0, sizeof g);
			for (int i = 0; i < n; i += chunk) {
				tr_candle_agg_reset(&g, T0, T0 + NS);
				for (int j = i; j < n && j < i + chunk; j++) {
					cr_assert_eq(tr_candle_add(b1, &tv[j], T0),
						     TR_CANDLE_ADD_APPLIED);
					tr_candle_agg_add(&g, &tv[j]);
				}
				cr_assert_eq(tr_candle_add_agg(b3, &g, T0), TR_CANDLE_ADD_APPLIED);
				tr_candle_agg_split(&g);
				cr_assert_eq(tr_candle_add_agg(b2, &g, T0), TR_CANDLE_ADD_APPLIED);
			}
			struct tr_candle c1 = *tr_candle_current(b1), c2 = *tr_candle_current(b2),
					 c3 = *tr_candle_current(b3);
			int ovf = 0;
			int64_t qv = q8_expect(q, &ovf), tqv = q8_expect(tq, &ovf);

			cr_assert_eq(c1.quote_volume, qv, "case %d: %" PRId64 " != %" PRId64, sc,
				     c1.quote_volume, qv);
			cr_assert_eq(c1.taker_buy_quote_volume, tqv, "case %d", sc);
			cr_assert_eq(!!(c1.flags & TR_CANDLE_OVERFLOW), ovf, "case %d", sc);
			cr_assert(!memcmp(&c1, &c2, sizeof c1),
				  "case %d chunk %d: split merge differs", sc, chunk);
			cr_assert(!memcmp(&c1, &c3, sizeof c1),
				  "case %d chunk %d: plain merge differs", sc, chunk);
			tr_candle_free(b1);
			tr_candle_free(b2);
			tr_candle_free(b3);
			free(s1.v);
			free(s2.v);
			free(s3.v);
		}
	}
}
