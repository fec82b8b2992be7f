/* engine.c - what candles and analytics cost the engine per trade.
 *
 * The recorded BTCUSDT trades (both days, 19,904 @trade frames) go through
 * the real engine in this process (tr_engine_frame: parse, dedupe, publish,
 * latest table), once with analytics off ("bare": `analytics no`) and once
 * with the default six candle intervals and every analytic on ("full"; also
 * with partial candle records off, to show what they cost on this quiet
 * stream of about 30 trades/s, where 10 partials/s for each of 6 intervals
 * are two partial records per trade). Each pass needs a
 * fresh region, since the engine drops trade ids it has seen; the best of
 * several passes is kept, as the least disturbed by the rest of the machine.
 * The difference is the cost of candles and analytics per trade.
 *
 * Usage: bench-engine [--quick] [--results-dir DIR]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench_util.h"
#include "tr_config.h"
#include "tr_engine.h"
#include "tr_err.h"
#include "tr_parse.h"
#include "tr_uring.h"
#include "tr_writer.h"

struct frame {
	char *buf;
	size_t len;
	int64_t ts;
};

static struct frame *frames;
static size_t nframes;

static void load(const char *path)
{
	static char line[1 << 20];
	gzFile f = gzopen(path, "rb");

	if (!f) {
		fprintf(stderr, "bench-engine: %s: cannot open\n", path);
		exit(1);
	}
	while (gzgets(f, line, sizeof line)) {
		char *sp = strchr(line, ' ');
		if (!sp || !strstr(sp, "@trade\""))
			continue;
		size_t len = strcspn(sp + 1, "\n");
		frames = realloc(frames, (nframes + 1) * sizeof *frames);
		struct frame *fr = &frames[nframes++];
		fr->buf = calloc(1, len + TR_PARSE_PADDING);
		memcpy(fr->buf, sp + 1, len);
		fr->len = len;
		fr->ts = atoll(line);
	}
	gzclose(f);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One pass over every frame into a fresh instance; ns per trade. It commits
 * every commit_every frames (256: what `tickringd --replay` does at full
 * speed; 1: the live engine when each loop turn holds one frame, the worst
 * case for the lazy latest-table refresh) and runs the timer every 100 ms of
 * recorded time, as the live engine's 10 Hz timer would. */
static double pass(unsigned ninterval, bool analytics, uint32_t partials, unsigned commit_every,
		   int64_t *side_ns)
{
	struct tr_config cfg;
	struct tr_uring u;
	struct tr_engine *e;

	tr_config_default(&cfg);
	snprintf(cfg.instance, sizeof cfg.instance, "bench-engine-%d", (int)getpid());
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.ring_slots[k] = 1 << 16;
	cfg.symbol_capacity = 16;
	cfg.ninterval = ninterval;
	cfg.an.enabled = analytics;
	cfg.candle_partials = partials;
	snprintf(cfg.dead_letter, sizeof cfg.dead_letter, "/dev/null");
	tr_writer_unlink(NULL, cfg.instance);
	if (tr_uring_init(&u, 64) < 0 || tr_engine_open(&e, &cfg, &u) < 0) {
		fprintf(stderr, "bench-engine: %s\n", tr_errmsg());
		exit(1);
	}
	int venue = tr_engine_venue(e, "binance");
	int64_t t0 = now_ns(), tick = 0, side = 0;
	for (size_t i = 0; i < nframes; i++) {
		tr_engine_frame(e, (unsigned)venue, TR_SRC_REPLAY, frames[i].ts, frames[i].buf,
				frames[i].len);
		if (i % commit_every == commit_every - 1) {
			int64_t a = now_ns();
			tr_engine_commit(e);
			side += now_ns() - a;
		}
		if (frames[i].ts - tick >= 100000000) {
			int64_t a = now_ns();
			tr_engine_tick(e);
			side += now_ns() - a;
			tick = frames[i].ts;
		}
	}
	int64_t t1 = now_ns();
	if (side_ns)
		*side_ns = side;
	tr_engine_close(e);
	tr_uring_exit(&u);
	tr_writer_unlink(NULL, cfg.instance);
	return (double)(t1 - t0) / (double)nframes;
}

int main(int argc, char **argv)
{
	const char *dir = "bench/results";
	int passes = 15;
	char path[1024];
	const char *root = getenv("TR_ROOT");

	static const struct option opts[] = {{"quick", no_argument, 0, 'q'},
					     {"results-dir", required_argument, 0, 'r'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	for (int c; (c = getopt_long(argc, argv, "qr:h", opts, NULL)) != -1;) {
		if (c == 'q')
			passes = 5;
		else if (c == 'r')
			dir = optarg;
		else {
			fputs("usage: bench-engine [--quick] [--results-dir DIR]\n",
			      c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	/* BENCH_ENGINE_ONLY=bare|full|full1: one pass of one configuration, for
	 * instruction counts under valgrind --tool=callgrind (perf counters are
	 * not available in every VM). */
	const char *only = getenv("BENCH_ENGINE_ONLY");
	for (int d = 8; d <= 9; d++) {
		snprintf(path, sizeof path, "%s/../shared/data/binance-spot/btcusdt_2024080%d.gz",
			 root ? root : ".", d);
		load(path);
	}
	if (only) {
		bool bare = !strcmp(only, "bare"), each = !strcmp(only, "full1");
		printf("%s: %.1f ns/trade\n", only,
		       pass(bare ? 0 : 6, !bare, bare ? 0 : 10, each ? 1 : 256, NULL));
		return 0;
	}
	struct bu_machine m;
	bu_machine(&m);
	double bare = 1e18, full = 1e18, finals = 1e18, bare1 = 1e18, full1 = 1e18;
	double bare_path = 1e18, full_path = 1e18, full_side = 1e18;
	for (int i = 0; i < passes; i++) {
		/* interleaved: the same machine weather */
		int64_t sb, sf;
		double b = pass(0, false, 0, 256, &sb), f = pass(6, true, 10, 256, &sf),
		       g = pass(6, true, 0, 256, NULL), b1 = pass(0, false, 0, 1, NULL),
		       f1 = pass(6, true, 10, 1, NULL);
		bare = b < bare ? b : bare;
		full = f < full ? f : full;
		finals = g < finals ? g : finals;
		bare1 = b1 < bare1 ? b1 : bare1;
		full1 = f1 < full1 ? f1 : full1;
		/* the trade path alone: the pass less its commits and timer runs */
		double bp = b - (double)sb / nframes, fp = f - (double)sf / nframes;
		bare_path = bp < bare_path ? bp : bare_path;
		full_path = fp < full_path ? fp : full_path;
		full_side = (double)sf < full_side ? (double)sf : full_side;
	}
	double secs = (double)(frames[nframes - 1].ts - frames[0].ts) / 1e9;
	double added = full - bare;
	printf("bench-engine: %s, %ld cores, %s\n", m.cpu, m.cores, m.kernel);
	printf("  %zu recorded BTCUSDT trade frames through tr_engine_frame, best of %d passes\n",
	       nframes, passes);
	printf("  bare (parse, dedupe, publish, latest trade; analytics no)  %8.1f ns/trade\n",
	       bare);
	printf("  full (+ 6 intervals, 10 partials/s, 24 h/1 h, indicators,\n"
	       "        outliers, spikes, stale, movers, latest refresh)      %8.1f ns/trade\n",
	       full);
	printf("  full with finals only (candle-partials 0)                   %8.1f ns/trade\n",
	       finals);
	printf("  candles and analytics add                  %8.1f ns/trade  target < 100 ns %s\n",
	       added, added < 100 ? "PASS" : "MISS");
	printf("  (finals only: %.1f ns/trade)\n", finals - bare);
	printf("  the trade path alone (tr_engine_frame; commits and timer runs excluded):\n"
	       "    bare %.1f, full %.1f ns/trade: analytics add %.1f ns/trade  target < 100 ns "
	       "%s\n",
	       bare_path, full_path, full_path - bare_path,
	       full_path - bare_path < 100 ? "PASS" : "MISS");
	printf("  time-driven work (timer: closes, partials, refreshes, movers; commits):\n"
	       "    %.1f us per second of recorded market (%.0f s of it)\n",
	       full_side / 1e3 / (secs > 0 ? secs : 1), secs);
	printf("  committing after every frame (live, one frame per loop turn):\n"
	       "    bare %.1f, full %.1f ns/trade: analytics add %.1f ns/trade\n",
	       bare1, full1, full1 - bare1);
	const struct bu_metric mt[] = {
	    {"engine_ns_per_trade_bare", bare},
	    {"engine_ns_per_trade_full", full},
	    {"engine_ns_per_trade_added", added},
	    {"engine_ns_per_trade_full_finals_only", finals},
	    {"engine_ns_per_trade_path_bare", bare_path},
	    {"engine_ns_per_trade_path_full", full_path},
	    {"engine_ns_per_trade_path_added", full_path - bare_path},
	    {"engine_us_per_market_second_timer", full_side / 1e3 / secs},
	    {"engine_ns_per_trade_bare_commit_each", bare1},
	    {"engine_ns_per_trade_full_commit_each", full1},
	    {"engine_trades", (double)nframes}};
	if (bu_write(dir, "engine", &m, mt, sizeof mt / sizeof mt[0]) < 0) {
		fprintf(stderr, "bench-engine: cannot write %s/engine.json\n", dir);
		return 1;
	}
	return 0;
}
