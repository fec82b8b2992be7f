/* test_analytics_e2e.c - analytics through tickringd on the recorded days.
 *
 * Warm start: replaying day 1, stopping, and replaying day 2 into the same
 * instance with `warm-start yes` leaves exactly the indicators of one run
 * over both days (every field of every interval); without warm start they
 * differ. Publication: the Python reader (tests/py/check_reader.py, mode
 * analytics) reads the same indicators, analytics block and movers as the C
 * reader from the engine's region.
 */
#include "e2e.h"
#include "tr_fixed.h"

static const char *const day[2] = {"binance-spot/btcusdt_20240808.gz",
				   "binance-spot/btcusdt_20240809.gz"};

/* tickringd --replay files into inst with the journal in jdir. */
static void run(const char *inst, const char *jdir, int d0, int d1, const char *warm,
		const char *log)
{
	char p[2][600];
	char *argv[40];
	int n = 0;

	for (int i = 0; i < 2; i++)
		snprintf(p[i], sizeof p[i], "%s/%s", e2e_data(), day[i]);
	const char *fixed[] = {"tickringd", "--instance",      inst,   "--ring-slots",
			       "262144",    "--journal-dir",   jdir,   "--candle-intervals",
			       "1s,1m",	    "--candle-empty",  "skip", "--indicator-sma",
			       "5,20",	    "--indicator-ema", "10",   "--indicator-macd",
			       "3,6,2",	    "--indicator-bb",  "5,2",  "--dead-letter",
			       "/dev/null", "--warm-start",    warm,   "--replay"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		argv[n++] = (char *)fixed[i];
	for (int i = d0; i <= d1; i++)
		argv[n++] = p[i];
	argv[n] = NULL;
	pid_t pid = e2e_spawn(argv, NULL, log);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tickringd failed (see %s)", log);
}

struct ind_pair {
	struct tr_indicators iv[2];
	uint64_t closes;
};

static void read_ind(const char *inst, struct ind_pair *out)
{
	struct tr_region *r;

	cr_assert_eq(tr_region_open(&r, inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	int s = tr_symbol_find(r, NULL, "BTCUSDT");
	cr_assert_geq(s, 0);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(tr_latest_indicators(r, (uint32_t)s, i, &out->iv[i]), 0, "%s",
			     tr_errmsg());
	tr_region_close(r);
}

static char jdirs[3][128], insts[3][64], logpath[128];

static void cleanup(void)
{
	char cmd[400];

	for (int i = 0; i < 3; i++) {
		if (insts[i][0])
			tr_writer_unlink(NULL, insts[i]);
		if (jdirs[i][0]) {
			snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdirs[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", jdirs[i]);
		}
	}
	unlink(logpath);
}

Test(analytics_e2e, warm_start_continues_the_indicators, .timeout = 240, .fini = cleanup)
{
	struct ind_pair once, twice, cold;

	snprintf(logpath, sizeof logpath, "/tmp/anw-%d.log", (int)getpid());
	for (int i = 0; i < 3; i++) {
		snprintf(insts[i], sizeof insts[i], "anw%d-%d", i, (int)getpid());
		snprintf(jdirs[i], sizeof jdirs[i], "/tmp/anw%d-%d.journal", i, (int)getpid());
		tr_writer_unlink(NULL, insts[i]);
	}
	run(insts[0], jdirs[0], 0, 1, "no", logpath);  /* both days in one run */
	run(insts[1], jdirs[1], 0, 0, "no", logpath);  /* day 1, stop, */
	run(insts[1], jdirs[1], 1, 1, "yes", logpath); /* day 2 with a warm start */
	run(insts[2], jdirs[2], 0, 0, "no", logpath);  /* the same without warm start */
	run(insts[2], jdirs[2], 1, 1, "no", logpath);
	read_ind(insts[0], &once);
	read_ind(insts[1], &twice);
	read_ind(insts[2], &cold);
	for (int i = 0; i < 2; i++) {
		const struct tr_indicators *a = &once.iv[i], *b = &twice.iv[i];

		/* 1s: hundreds of closes; 1m: a dozen (two ~6 minute recordings) */
		cr_assert_geq(a->closes, i ? 10 : 200, "interval %d: %llu closes", i,
			      (unsigned long long)a->closes);
		cr_assert(a->valid & TR_IND_V_SMA(0), "SMA 5 defined");
		cr_assert(a->valid & TR_IND_V_MACD_SIGNAL);
		cr_assert(a->valid & TR_IND_V_BB);
		if (!i)
			cr_assert(a->valid & TR_IND_V_SMA(1), "SMA 20 defined");
		cr_assert_eq(b->closes, a->closes, "interval %d: %llu closes vs %llu", i,
			     (unsigned long long)b->closes, (unsigned long long)a->closes);
		cr_assert_eq(b->open_time, a->open_time);
		cr_assert_eq(b->sma[0], a->sma[0]);
		cr_assert_eq(b->sma[1], a->sma[1]);
		cr_assert_eq(b->ema[0], a->ema[0], "EMA carries its whole history");
		cr_assert_eq(b->rsi, a->rsi);
		cr_assert_eq(b->macd_signal, a->macd_signal);
		cr_assert_eq(b->bb_upper, a->bb_upper);
		cr_assert_eq(memcmp(a, b, sizeof *a), 0, "interval %d: every field", i);
		/* without the warm start the history is day 2 only */
		cr_assert_lt(cold.iv[i].closes, a->closes);
	}
	/* on 1m, EMA 10 needs day 1's closes: undefined after a cold start */
	cr_assert(once.iv[1].valid & TR_IND_V_EMA(0));
	cr_assert(!(cold.iv[1].valid & TR_IND_V_EMA(0)), "a cold start has too little history");
}

/* One line the way check_reader.py prints it. */
static void fx(char *buf, size_t n, int64_t v)
{
	if (v == TR_IND_V_UNDEF)
		snprintf(buf, n, "undef");
	else
		tr_fixed_format(v, buf);
}

Test(analytics_e2e, python_reads_indicators_analytics_and_movers, .timeout = 240, .fini = cleanup)
{
	snprintf(logpath, sizeof logpath, "/tmp/anp-%d.log", (int)getpid());
	snprintf(insts[0], sizeof insts[0], "anp-%d", (int)getpid());
	snprintf(jdirs[0], sizeof jdirs[0], "/tmp/anp-%d.journal", (int)getpid());
	tr_writer_unlink(NULL, insts[0]);
	run(insts[0], jdirs[0], 0, 1, "no", logpath);

	struct tr_region *r;
	cr_assert_eq(tr_region_open(&r, insts[0], TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	int s = tr_symbol_find(r, NULL, "BTCUSDT");
	char cmd[512], got[1 << 14], want[1024], v[16][TR_FIXED_BUFSZ];
	snprintf(cmd, sizeof cmd, "python3 %s/tests/py/check_reader.py analytics %s %d",
		 getenv("TR_ROOT"), insts[0], s);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t len = fread(got, 1, sizeof got - 1, p);
	got[len] = 0;
	cr_assert_eq(pclose(p), 0, "python failed:\n%s", got);

	for (unsigned i = 0; i < 2; i++) {
		struct tr_indicators d;
		cr_assert_eq(tr_latest_indicators(r, (uint32_t)s, i, &d), 0);
		fx(v[0], sizeof v[0], d.close);
		for (int k = 0; k < 4; k++) {
			fx(v[1 + k], sizeof v[0], d.sma[k]);
			fx(v[5 + k], sizeof v[0], d.ema[k]);
		}
		fx(v[9], sizeof v[0], d.rsi);
		fx(v[10], sizeof v[0], d.macd);
		fx(v[11], sizeof v[0], d.macd_signal);
		fx(v[12], sizeof v[0], d.macd_hist);
		fx(v[13], sizeof v[0], d.bb_mid);
		fx(v[14], sizeof v[0], d.bb_upper);
		fx(v[15], sizeof v[0], d.bb_lower);
		snprintf(want, sizeof want,
			 "indicators %d %u closes=%llu open_time=%lld valid=%u close=%s "
			 "sma=%s,%s,%s,%s ema=%s,%s,%s,%s rsi=%s macd=%s,%s,%s bb=%s,%s,%s "
			 "periods=%u,%u,%u,%u/%u,%u,%u,%u/%u/%u,%u,%u/%u\n",
			 s, i, (unsigned long long)d.closes, (long long)d.open_time, d.valid, v[0],
			 v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
			 v[13], v[14], v[15], d.sma_period[0], d.sma_period[1], d.sma_period[2],
			 d.sma_period[3], d.ema_period[0], d.ema_period[1], d.ema_period[2],
			 d.ema_period[3], d.rsi_period, d.macd_fast_period, d.macd_slow_period,
			 d.macd_signal_period, d.bb_period);
		cr_assert_not_null(strstr(got, want), "python lacks:\n%sin:\n%s", want, got);
	}
	struct tr_sym_analytics an;
	cr_assert_eq(tr_latest_analytics(r, (uint32_t)s, &an), 0);
	tr_fixed_format(an.open_1h, v[0]);
	tr_fixed_format(an.change_pct_1h, v[1]);
	tr_fixed_format(an.reference, v[2]);
	tr_fixed_format(an.mad, v[3]);
	snprintf(want, sizeof want,
		 "analytics %d open_1h=%s change_pct_1h=%s reference=%s mad=%s outliers=%llu "
		 "flags=%u\n",
		 s, v[0], v[1], v[2], v[3], (unsigned long long)an.outliers, an.flags);
	cr_assert_not_null(strstr(got, want), "python lacks:\n%sin:\n%s", want, got);
	cr_assert(an.flags & TR_SYMA_OUTLIER, "the outlier reference is set");

	struct tr_movers mv;
	cr_assert_eq(tr_movers(r, &mv), 0);
	snprintf(want, sizeof want, "movers ranked=%u,%u\n", mv.ranked[0], mv.ranked[1]);
	cr_assert_not_null(strstr(got, want), "python lacks:\n%sin:\n%s", want, got);
	cr_assert_eq(mv.ranked[0], 1, "one symbol");
	tr_fixed_format(mv.list[TR_MOVERS_GAIN_24H][0].change_pct, v[0]);
	snprintf(want, sizeof want, "movers gain_24h %u:%s\n",
		 mv.list[TR_MOVERS_GAIN_24H][0].symbol_id, v[0]);
	cr_assert_not_null(strstr(got, want), "python lacks:\n%sin:\n%s", want, got);
	tr_region_close(r);
}
