/* engine.c - what candles and analytics cost the engine per trade.
 *
 * The recorded BTCUSDT trades (both days, 19,904 @trade frames) go through
 * the real engine in this process (tr_engine_frame: parse, dedupe, publish,
 * latest table), once with no candle intervals ("bare") and once with the
 * default six and the rolling 24 h statistics ("full"). Each pass needs a
 * fresh region, since the engine drops trade ids it has seen; the best of
 * several passes is kept, as the least disturbed by the rest of the machine.
 * The difference is the cost of candles and analytics per trade.
 *
 * Usage: bench-engine [--quick] [--results-dir DIR]
 */
#define _GNU_SOURCE
#include <getopt.h>
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

/* One pass over every frame into a fresh instance; ns per trade. */
static double pass(unsigned ninterval)
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
	snprintf(cfg.dead_letter, sizeof cfg.dead_letter, "/dev/null");
	tr_writer_unlink(NULL, cfg.instance);
	if (tr_uring_init(&u, 64) < 0 || tr_engine_open(&e, &cfg, &u) < 0) {
		fprintf(stderr, "bench-engine: %s\n", tr_errmsg());
		exit(1);
	}
	int venue = tr_engine_venue(e, "binance");
	int64_t t0 = now_ns();
	for (size_t i = 0; i < nframes; i++)
		tr_engine_frame(e, (unsigned)venue, TR_SRC_REPLAY, frames[i].ts, frames[i].buf,
				frames[i].len);
	int64_t t1 = now_ns();
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
	for (int d = 8; d <= 9; d++) {
		snprintf(path, sizeof path, "%s/../shared/data/binance-spot/btcusdt_2024080%d.gz",
			 root ? root : ".", d);
		load(path);
	}
	struct bu_machine m;
	bu_machine(&m);
	double bare = 1e18, full = 1e18;
	for (int i = 0; i < passes; i++) {
		double b = pass(0), f = pass(6); /* interleaved: the same machine weather */
		bare = b < bare ? b : bare;
		full = f < full ? f : full;
	}
	double added = full - bare;
	printf("bench-engine: %s, %ld cores, %s\n", m.cpu, m.cores, m.kernel);
	printf("  %zu recorded BTCUSDT trade frames through tr_engine_frame, best of %d passes\n",
	       nframes, passes);
	printf("  bare (parse, dedupe, publish, latest)      %8.1f ns/trade\n", bare);
	printf("  full (+ 6 candle intervals, 24 h stats)    %8.1f ns/trade\n", full);
	printf("  candles and analytics add                  %8.1f ns/trade  target < 100 ns %s\n",
	       added, added < 100 ? "PASS" : "MISS");
	const struct bu_metric mt[] = {{"engine_ns_per_trade_bare", bare},
				       {"engine_ns_per_trade_full", full},
				       {"engine_ns_per_trade_added", added},
				       {"engine_trades", (double)nframes}};
	if (bu_write(dir, "engine", &m, mt, 4) < 0) {
		fprintf(stderr, "bench-engine: cannot write %s/engine.json\n", dir);
		return 1;
	}
	return 0;
}
