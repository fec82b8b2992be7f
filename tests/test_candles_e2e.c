/* test_candles_e2e.c - the engine's candles from the recorded Binance days
 * against an independent reference (tests/ref/kline_ref.py, exact decimals
 * in Python), every field of every fully covered 1m and 5m candle; and a
 * paced replay builds exactly the candles of a replay at full speed. */
#include "e2e.h"
#include "tr_fixed.h"

#define MAXC 4096

static const char *const files[] = {
    "binance-spot/btcusdt_20240808.gz", "binance-spot/btcusdt_20240809.gz",
    "binance-spot/ethusdt_20240808.gz", "binance-spot/ethusdt_20240809.gz"};

struct finals {
	struct tr_candle c[MAXC];
	char sym[MAXC][TR_NAME_LEN];
	int n;
};

/* Replay the four files into inst at speed; keep the last final record of
 * each (symbol, interval, open time). */
static void replay(const char *inst, const char *speed, const char *log, struct finals *f)
{
	char p[4][600];
	for (int i = 0; i < 4; i++)
		snprintf(p[i], sizeof p[i], "%s/%s", e2e_data(), files[i]);
	tr_writer_unlink(NULL, inst);
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			(char *)inst,
			(char *)"--ring-slots",
			(char *)"262144",
			(char *)"--replay-speed",
			(char *)speed,
			(char *)"--candle-intervals",
			(char *)"1m,5m,15m",
			(char *)"--dead-letter",
			(char *)"/dev/null",
			(char *)"--replay",
			p[0],
			p[1],
			p[2],
			p[3],
			NULL};
	pid_t pid = e2e_spawn(argv, NULL, log);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tickringd --replay failed (see %s)", log);

	struct tr_region *r;
	struct tr_cursor c;
	struct tr_candle k;
	cr_assert_eq(tr_region_open(&r, inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	tr_cursor_init(&c, r, TR_KIND_CANDLE, TR_JOIN_SEQ, 1);
	f->n = 0;
	int rc;
	while ((rc = tr_poll(&c, &k)) != TR_POLL_EMPTY) {
		cr_assert_neq(rc, TR_POLL_LAPPED, "candle ring too small");
		if (rc != TR_POLL_RECORD || !(k.flags & TR_CANDLE_FINAL))
			continue;
		int i;
		for (i = 0; i < f->n; i++)
			if (f->c[i].symbol_id == k.symbol_id &&
			    f->c[i].interval_s == k.interval_s && f->c[i].open_time == k.open_time)
				break;
		cr_assert_lt(i, MAXC);
		if (i == f->n)
			f->n++;
		else
			cr_assert_gt(k.revision, f->c[i].revision,
				     "a final repeated without revision");
		f->c[i] = k;
		struct tr_symbol s;
		tr_symbol_get(r, k.symbol_id, &s);
		snprintf(f->sym[i], TR_NAME_LEN, "%s", s.name);
	}
	tr_region_close(r);
	tr_writer_unlink(NULL, inst);
}

/* The value of "key": in a JSON line, as text (strings without quotes). */
static void field(const char *line, const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	cr_assert_not_null(p, "no %s in %s", key, line);
	p += strlen(pat);
	if (*p == '"')
		p++;
	size_t i = 0;
	while (p[i] && p[i] != '"' && p[i] != ',' && p[i] != '}' && i + 1 < n) {
		out[i] = p[i];
		i++;
	}
	out[i] = 0;
}

static void expect_fixed(const char *line, const char *key, int64_t v)
{
	char want[64], got[TR_FIXED_BUFSZ];
	field(line, key, want, sizeof want);
	tr_fixed_format(v, got);
	cr_assert_str_eq(got, want, "%s differs: engine %s, reference %s in %s", key, got, want,
			 line);
}

static struct finals fast, paced;

Test(candles_e2e, klines_equal_an_independent_reference, .timeout = 240)
{
	char inst[64], log[64], cmd[4096], line[2048], v[64];
	snprintf(inst, sizeof inst, "cdl-%d", (int)getpid());
	snprintf(log, sizeof log, "/tmp/cdl-%d.log", (int)getpid());
	replay(inst, "max", log, &fast);

	int n = snprintf(cmd, sizeof cmd, "python3 %s/tests/ref/kline_ref.py --intervals 1m,5m,15m",
			 getenv("TR_ROOT"));
	for (int i = 0; i < 4; i++)
		n += snprintf(cmd + n, sizeof cmd - n, " %s/%s", e2e_data(), files[i]);
	snprintf(cmd + n, sizeof cmd - n, " 2>/dev/null");
	FILE *ref = popen(cmd, "r");
	cr_assert_not_null(ref);
	int compared = 0, per_interval[3] = {0};
	while (fgets(line, sizeof line, ref)) {
		if (!strstr(line, "\"covered\":true"))
			continue;
		char sym[32];
		field(line, "symbol", sym, sizeof sym);
		field(line, "interval_s", v, sizeof v);
		uint32_t iv = (uint32_t)atoi(v);
		field(line, "open_time_ms", v, sizeof v);
		int64_t open_ns = atoll(v) * 1000000;
		const struct tr_candle *k = NULL;
		for (int i = 0; i < fast.n && !k; i++)
			if (!strcmp(fast.sym[i], sym) && fast.c[i].interval_s == iv &&
			    fast.c[i].open_time == open_ns)
				k = &fast.c[i];
		cr_assert_not_null(k, "no engine candle for %s", line);
		expect_fixed(line, "open", k->open);
		expect_fixed(line, "high", k->high);
		expect_fixed(line, "low", k->low);
		expect_fixed(line, "close", k->close);
		expect_fixed(line, "volume", k->volume);
		expect_fixed(line, "quote_volume", k->quote_volume);
		expect_fixed(line, "taker_buy_volume", k->taker_buy_volume);
		expect_fixed(line, "taker_buy_quote_volume", k->taker_buy_quote_volume);
		expect_fixed(line, "vwap", k->vwap);
		field(line, "trades", v, sizeof v);
		cr_assert_eq(k->trade_count, (uint32_t)atoll(v), "%s", line);
		field(line, "first_id", v, sizeof v);
		cr_assert_eq(k->first_trade_id, (uint64_t)atoll(v), "%s", line);
		field(line, "last_id", v, sizeof v);
		cr_assert_eq(k->last_trade_id, (uint64_t)atoll(v), "%s", line);
		field(line, "close_time_ms", v, sizeof v);
		cr_assert_eq(k->open_time + (int64_t)k->interval_s * 1000000000 - 1000000,
			     atoll(v) * 1000000);
		cr_assert(!(k->flags & TR_CANDLE_GAP), "no gap in the recordings");
		compared++;
		per_interval[iv == 60 ? 0 : iv == 300 ? 1 : 2]++;
	}
	cr_assert_eq(pclose(ref), 0, "kline_ref.py failed");
	/* 23:55..00:04 covered: 10 one-minute and 2 five-minute candles per symbol */
	cr_assert_eq(per_interval[0], 20, "1m candles compared: %d", per_interval[0]);
	cr_assert_eq(per_interval[1], 4, "5m candles compared: %d", per_interval[1]);
	cr_assert_eq(compared, 24);
	unlink(log);
}

Test(candles_e2e, paced_replay_builds_the_same_candles, .timeout = 240)
{
	char a[64], b[64], log[64];
	snprintf(a, sizeof a, "cdla-%d", (int)getpid());
	snprintf(b, sizeof b, "cdlb-%d", (int)getpid());
	snprintf(log, sizeof log, "/tmp/cdl-%d.log", (int)getpid());
	replay(a, "max", log, &fast);
	replay(b, "60", log, &paced);
	cr_assert_eq(paced.n, fast.n, "%d finals paced, %d at full speed", paced.n, fast.n);
	for (int i = 0; i < fast.n; i++) {
		int j;
		for (j = 0; j < paced.n; j++)
			if (!strcmp(paced.sym[j], fast.sym[i]) &&
			    paced.c[j].interval_s == fast.c[i].interval_s &&
			    paced.c[j].open_time == fast.c[i].open_time)
				break;
		cr_assert_lt(j, paced.n, "final %s %us at %lld missing when paced", fast.sym[i],
			     fast.c[i].interval_s, (long long)fast.c[i].open_time);
		struct tr_candle x = fast.c[i], y = paced.c[j];

		/* ring positions and symbol ids (registration order) may differ */
		x.seq = y.seq = 0;
		x.symbol_id = y.symbol_id = 0;
		cr_assert_eq(memcmp(&x, &y, sizeof x), 0, "final %d (%s %us at %lld) differs", i,
			     fast.sym[i], x.interval_s, (long long)x.open_time);
	}
	unlink(log);
}
