/* tr-synth.c - a synthetic producer: a random-walk market in a tickring region.
 *
 * Every client (the CLI, the bindings, the bridges, the tests) can run before
 * the engine exists, against a region that tr-synth fills the way the engine
 * will: venue "synth", a symbol table, trades with contiguous ids per symbol,
 * quotes around the last price, a final 1s candle per symbol per second, an
 * engine_start event and, once a second, one of the other event types with
 * a plausible payload; the latest table kept up to date; commits after each
 * batch and a heartbeat at 20 Hz.
 *
 * The market is deterministic given --seed: the main generator drives only
 * symbol, price, quantity and side, so the trade sequence is the same at any
 * rate. Timestamps are real (CLOCK_REALTIME) and event payloads use their
 * own generator, since both depend on timing.
 */
#define _GNU_SOURCE
#include "tr_err.h"
#include "tr_layout.h"
#include "tr_writer.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK 1000000ll /* price tick 0.01 */
#define LOT 1000ll     /* quantity step 0.00001 */
#define NS 1000000000ll
#define HEARTBEAT_NS 50000000ll
#define CLOSE_DELAY_NS 5000000ll /* close a second this long after it ends */
#define MAX_SYMBOLS 1024
#define MAX_BATCH 1024
#define VERSION "tr-synth 0.1.0"

static const char usage[] =
    "usage: tr-synth [options]\n"
    "\n"
    "Publish a synthetic random-walk market into a tickring region, for trying and\n"
    "testing clients without the engine.\n"
    "\n"
    "  -i, --instance NAME    region instance (default $TICKRING_INSTANCE or \"default\")\n"
    "  -r, --rate N[/s]|max   trades per second (default 1000); max: as fast as possible\n"
    "  -n, --count N          stop after N trades (default: run until SIGINT/SIGTERM)\n"
    "  -s, --symbols A,B,...  symbols (default BTCUSDT,ETHUSDT)\n"
    "  -k, --kinds K,...      rings to publish: trades,quotes,candles,events (default all)\n"
    "  -S, --slots N          slots per ring, a power of two (default 65536)\n"
    "      --seed N           random seed (default 1); same seed, same trades\n"
    "      --unlink-on-exit   remove the region files when done\n"
    "  -h, --help             this help\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct candle_acc {
	int64_t sec; /* open second of the candle being built */
	int64_t open, high, low, close, volume, tb_volume;
	__int128 quote, tb_quote; /* sum price*qty at 1e-16, rounded once at the end */
	uint64_t first_id, last_id;
	int64_t ts_update;
	uint32_t count;
};

struct sym {
	uint32_t id;
	int64_t price;
	uint64_t next_trade_id;
	int64_t min_ts; /* ts_event floor: never older than a closed candle or the last trade */
	struct candle_acc c;
};

struct synth {
	struct tr_writer *w;
	const char *instance;
	double rate; /* trades/s; 0: max */
	uint64_t count;
	unsigned kinds; /* bit per enum tr_kind */
	uint64_t slots, seed;
	bool unlink_on_exit;
	char *symbol_list;
	uint16_t venue;
	int iv_1s; /* latest-table index of the 1s interval, or -1 */
	struct sym *syms;
	unsigned nsyms;
	uint64_t rng, ev_rng, ts_rng;
	uint64_t trades, n[TR_NKINDS];
	unsigned next_event;
};

/* splitmix64: small, fast and good enough for a synthetic market. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static bool on(const struct synth *s, unsigned kind)
{
	return s->kinds & (1u << kind);
}

static void publish(struct synth *s, unsigned kind, void *rec)
{
	static const unsigned ctr[TR_NKINDS] = {TR_CTR_TRADES, TR_CTR_QUOTES, TR_CTR_CANDLES,
						TR_CTR_EVENTS};

	tr_writer_publish(s->w, kind, rec);
	tr_writer_counter_add(s->w, ctr[kind], 1);
	s->n[kind]++;
}

/* Rounded quotient of a 1e-16 sum back to 1e-8, saturating. */
static int64_t scale_down(__int128 v)
{
	__int128 q = (v + TR_SCALE / 2) / TR_SCALE;

	return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

static void publish_candle(struct synth *s, struct sym *y, bool final)
{
	struct candle_acc *a = &y->c;
	struct tr_candle c;

	memset(&c, 0, sizeof c);
	c.open_time = a->sec * NS;
	c.symbol_id = y->id;
	c.venue_id = s->venue;
	c.interval_s = 1;
	c.flags = final ? TR_CANDLE_FINAL : 0;
	if (a->count) {
		c.open = a->open;
		c.high = a->high;
		c.low = a->low;
		c.close = a->close;
		c.volume = a->volume;
		c.quote_volume = scale_down(a->quote);
		c.taker_buy_volume = a->tb_volume;
		c.taker_buy_quote_volume = scale_down(a->tb_quote);
		c.vwap = a->volume ? (int64_t)(a->quote / a->volume) : a->close;
		c.first_trade_id = a->first_id;
		c.last_trade_id = a->last_id;
		c.ts_update = a->ts_update;
		c.trade_count = a->count;
	} else { /* flat candle carrying the last price */
		c.open = c.high = c.low = c.close = c.vwap = y->price;
		c.flags |= TR_CANDLE_EMPTY;
	}
	if (on(s, TR_KIND_CANDLE))
		publish(s, TR_KIND_CANDLE, &c);
	if (final && s->iv_1s >= 0) {
		struct tr_latest *l = tr_latest_begin(s->w, y->id);

		tr_latest_put(l, &l->candles[s->iv_1s], &c, sizeof c);
		tr_latest_mark(l, TR_LATEST_CANDLE(s->iv_1s));
		tr_latest_end(l);
	}
}

/* Close y's candles up to (not including) second to_sec, empty ones too. */
static void close_seconds(struct synth *s, struct sym *y, int64_t to_sec)
{
	if (to_sec - y->c.sec > 10)
		y->c.sec = to_sec - 10;
	while (y->c.sec < to_sec) {
		int64_t next = y->c.sec + 1;

		publish_candle(s, y, true);
		memset(&y->c, 0, sizeof y->c);
		y->c.sec = next;
	}
	if (y->min_ts < to_sec * NS)
		y->min_ts = to_sec * NS; /* no trade may fall into a closed candle */
}

static void one_trade(struct synth *s)
{
	struct sym *y = &s->syms[rnd(&s->rng) % s->nsyms];
	int64_t step = (int64_t)(rnd(&s->rng) % 11) - 5;
	int64_t qty = (int64_t)(1 + rnd(&s->rng) % 100000) * LOT;
	unsigned side = rnd(&s->rng) & 1 ? TR_SIDE_BUY : TR_SIDE_SELL;
	int64_t spread = (int64_t)(1 + rnd(&s->rng) % 3) * TICK;
	int64_t bid_qty = (int64_t)(1 + rnd(&s->rng) % 100000) * LOT;
	int64_t ask_qty = (int64_t)(1 + rnd(&s->rng) % 100000) * LOT;
	int64_t now = tr_now_ns();
	int64_t ts = now - (int64_t)(rnd(&s->ts_rng) % 2000000); /* 0-2 ms feed latency */
	struct tr_trade t;
	struct tr_quote q;

	y->price += step * TICK;
	if (y->price < TICK)
		y->price = TICK;
	if (ts < y->min_ts)
		ts = y->min_ts;
	y->min_ts = ts;
	if (ts / NS > y->c.sec)
		close_seconds(s, y, ts / NS);

	memset(&t, 0, sizeof t);
	t.ts_event = ts;
	t.ts_recv = now;
	t.price = y->price;
	t.qty = qty;
	t.trade_id = y->next_trade_id++;
	t.symbol_id = y->id;
	t.venue_id = s->venue;
	t.side = (uint8_t)side;
	t.trade_count = 1;
	memset(&q, 0, sizeof q);
	q.ts_event = ts;
	q.ts_recv = now;
	q.bid_px = y->price > spread ? y->price - spread : TICK;
	q.bid_qty = bid_qty;
	q.ask_px = y->price + spread;
	q.ask_qty = ask_qty;
	q.symbol_id = y->id;
	q.venue_id = s->venue;
	if (on(s, TR_KIND_TRADE))
		publish(s, TR_KIND_TRADE, &t);
	if (on(s, TR_KIND_QUOTE))
		publish(s, TR_KIND_QUOTE, &q);

	struct tr_latest *l = tr_latest_begin(s->w, y->id);
	tr_latest_put(l, &l->trade, &t, sizeof t);
	tr_latest_put(l, &l->quote, &q, sizeof q);
	tr_latest_put(l, &l->ts_update, &now, sizeof now);
	tr_latest_mark(l, TR_LATEST_TRADE | TR_LATEST_QUOTE);
	tr_latest_end(l);

	struct candle_acc *a = &y->c;
	__int128 notional = (__int128)t.price * t.qty;
	if (!a->count) {
		a->open = a->high = a->low = t.price;
		a->first_id = t.trade_id;
	}
	a->high = t.price > a->high ? t.price : a->high;
	a->low = t.price < a->low ? t.price : a->low;
	a->close = t.price;
	a->volume += t.qty;
	a->quote += notional;
	if (side == TR_SIDE_BUY) {
		a->tb_volume += t.qty;
		a->tb_quote += notional;
	}
	a->last_id = t.trade_id;
	a->ts_update = ts;
	a->count++;
	s->trades++;
}

/* Once a second: one event of the next type, with a payload of its shape. */
static void one_event(struct synth *s)
{
	static const uint16_t cycle[] = {
	    TR_EV_FEED_UP,	TR_EV_GAP,	     TR_EV_STALE,      TR_EV_STALE_CLEARED,
	    TR_EV_VOLUME_SPIKE, TR_EV_PRICE_OUTLIER, TR_EV_LATE_TRADE, TR_EV_ALERT,
	    TR_EV_FEED_DOWN,	TR_EV_BAD_INPUT};
	struct sym *y = &s->syms[rnd(&s->ev_rng) % s->nsyms];
	uint64_t r = rnd(&s->ev_rng);
	struct tr_event e;

	memset(&e, 0, sizeof e);
	e.ts_recv = tr_now_ns();
	e.ts_event = e.ts_recv - (int64_t)(r % 1000000);
	e.type = cycle[s->next_event++ % (sizeof cycle / sizeof cycle[0])];
	e.venue_id = s->venue;
	e.symbol_id = y->id;
	switch (e.type) {
	case TR_EV_FEED_UP:
		e.symbol_id = UINT32_MAX;
		snprintf(e.u.text, sizeof e.u.text, "synth://%s", s->instance);
		break;
	case TR_EV_FEED_DOWN:
		e.severity = 2;
		e.symbol_id = UINT32_MAX;
		snprintf(e.u.text, sizeof e.u.text, "synthetic disconnect");
		break;
	case TR_EV_BAD_INPUT:
		e.severity = 1;
		snprintf(e.u.text, sizeof e.u.text, "synthetic \"bad\" frame\\%u",
			 (unsigned)(r % 100));
		break;
	case TR_EV_GAP:
		e.severity = 1;
		e.u.gap.expected_id = y->next_trade_id;
		e.u.gap.missing = 1 + r % 10;
		e.u.gap.got_id = y->next_trade_id + e.u.gap.missing;
		break;
	case TR_EV_STALE:
	case TR_EV_STALE_CLEARED:
		e.severity = e.type == TR_EV_STALE;
		e.u.stale.silent_ns = (int64_t)(1 + r % 30) * NS;
		e.u.stale.last_trade_ns = e.ts_event - e.u.stale.silent_ns;
		break;
	case TR_EV_VOLUME_SPIKE:
		e.u.spike.volume = (int64_t)(10 + r % 90) * TR_SCALE;
		e.u.spike.baseline = 2 * TR_SCALE;
		e.u.spike.score = e.u.spike.volume / 2;
		e.u.spike.interval_s = 60;
		e.u.spike.open_time = e.ts_event / (60 * NS) * 60 * NS;
		break;
	case TR_EV_PRICE_OUTLIER:
		e.u.outlier.reference = y->price;
		e.u.outlier.price = y->price + (int64_t)(100 + r % 100) * TICK;
		e.u.outlier.deviation = (int64_t)(8 + r % 4) * TR_SCALE;
		e.u.outlier.trade_id = y->next_trade_id ? y->next_trade_id - 1 : 0;
		break;
	case TR_EV_LATE_TRADE:
		e.u.late.trade_id = y->next_trade_id ? y->next_trade_id - 1 : 0;
		e.u.late.lateness_ns = (int64_t)(r % 5000) * 1000000;
		e.u.late.trade_ts = e.ts_event - e.u.late.lateness_ns;
		e.u.late.interval_s = 1;
		break;
	case TR_EV_ALERT:
		e.u.alert.rule_id = 1;
		e.u.alert.rule_kind = 1;
		e.u.alert.value = y->price;
		e.u.alert.threshold = y->price - TICK;
		snprintf(e.u.alert.text, sizeof e.u.alert.text, "price above threshold");
		break;
	}
	publish(s, TR_KIND_EVENT, &e);
}

static int parse_kinds(struct synth *s, char *list)
{
	char *save = NULL;

	s->kinds = 0;
	for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		int kind = tr_kind_parse(k);

		if (kind < 0) {
			fprintf(stderr, "tr-synth: unknown kind '%s'\n", k);
			return -1;
		}
		s->kinds |= 1u << kind;
	}
	return s->kinds ? 0 : -1;
}

static int parse_u64(const char *arg, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	return errno || end == arg || *end || *arg == '-' ? -1 : 0;
}

static int parse_args(struct synth *s, int argc, char **argv)
{
	enum { OPT_SEED = 256, OPT_UNLINK };
	static const struct option opts[] = {
	    {"instance", required_argument, NULL, 'i'},
	    {"rate", required_argument, NULL, 'r'},
	    {"count", required_argument, NULL, 'n'},
	    {"symbols", required_argument, NULL, 's'},
	    {"kinds", required_argument, NULL, 'k'},
	    {"slots", required_argument, NULL, 'S'},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"unlink-on-exit", no_argument, NULL, OPT_UNLINK},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "i:r:n:s:k:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			s->instance = optarg;
			break;
		case 'r':
			if (!strcmp(optarg, "max")) {
				s->rate = 0;
				break;
			}
			s->rate = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "/s")) || !(s->rate > 0)) {
				fprintf(stderr, "tr-synth: --rate N, N/s or max, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_u64(optarg, &s->count) < 0) {
				fprintf(stderr, "tr-synth: bad --count '%s'\n", optarg);
				return -1;
			}
			break;
		case 's':
			free(s->symbol_list);
			s->symbol_list = strdup(optarg);
			break;
		case 'k':
			if (parse_kinds(s, optarg) < 0)
				return -1;
			break;
		case 'S':
			if (parse_u64(optarg, &s->slots) < 0 || s->slots < 2 ||
			    (s->slots & (s->slots - 1))) {
				fprintf(stderr, "tr-synth: --slots must be a power of two >= 2\n");
				return -1;
			}
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &s->seed) < 0) {
				fprintf(stderr, "tr-synth: bad --seed '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_UNLINK:
			s->unlink_on_exit = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tr-synth: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* A start price per symbol from its name, so each run begins the same. */
static int64_t start_price(const char *name)
{
	uint32_t h = 2166136261u;

	if (!strncmp(name, "BTC", 3))
		return 60000 * TR_SCALE;
	if (!strncmp(name, "ETH", 3))
		return 3000 * TR_SCALE;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (int64_t)(1 + h % 1000) * TR_SCALE;
}

static int setup(struct synth *s)
{
	struct tr_writer_config cfg;
	char *save = NULL;
	int id;

	tr_writer_config_default(&cfg);
	cfg.instance = s->instance;
	for (unsigned k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = s->slots;
	cfg.geometry.symbol_capacity = 256; /* 2 MiB of latest table, not the engine's 32 */
	s->iv_1s = -1;
	for (unsigned i = 0; i < cfg.geometry.interval_count; i++)
		if (cfg.geometry.intervals_s[i] == 1)
			s->iv_1s = (int)i;
	if (tr_writer_open(&s->w, &cfg) < 0)
		return -1;
	if ((id = tr_writer_venue(s->w, "synth")) < 0)
		return -1;
	s->venue = (uint16_t)id;
	s->syms = calloc(MAX_SYMBOLS, sizeof *s->syms);
	if (!s->syms)
		return tr_err(ENOMEM, "out of memory");
	for (char *n = strtok_r(s->symbol_list, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		struct sym *y = &s->syms[s->nsyms];

		if (s->nsyms == MAX_SYMBOLS)
			return tr_err(ENOSPC, "more than %d symbols", MAX_SYMBOLS);
		if ((id = tr_writer_symbol(s->w, s->venue, n)) < 0)
			return -1;
		y->id = (uint32_t)id;
		y->price = start_price(n);
		y->next_trade_id = 1;
		y->c.sec = tr_now_ns() / NS;
		y->min_ts = y->c.sec * NS;
		s->nsyms++;
	}
	if (!s->nsyms)
		return tr_err(EINVAL, "no symbols");
	return 0;
}

static void engine_start(struct synth *s)
{
	struct tr_event e;

	memset(&e, 0, sizeof e);
	e.ts_event = e.ts_recv = tr_now_ns();
	e.type = TR_EV_ENGINE_START;
	e.symbol_id = UINT32_MAX;
	e.venue_id = s->venue;
	snprintf(e.u.text, sizeof e.u.text, "%s", VERSION);
	if (on(s, TR_KIND_EVENT))
		publish(s, TR_KIND_EVENT, &e);
	tr_writer_commit(s->w);
}

static void run(struct synth *s)
{
	int64_t t0 = now_mono(), last_hb = t0, last_event_sec = tr_now_ns() / NS;

	while (!stop && (!s->count || s->trades < s->count)) {
		int64_t now = now_mono();
		uint64_t batch = MAX_BATCH;

		if (s->rate > 0) {
			uint64_t due = (uint64_t)((double)(now - t0) / 1e9 * s->rate) + 1;

			batch = due > s->trades ? due - s->trades : 0;
			if (batch > MAX_BATCH)
				batch = MAX_BATCH;
		}
		if (s->count && batch > s->count - s->trades)
			batch = s->count - s->trades;
		for (uint64_t i = 0; i < batch; i++)
			one_trade(s);

		/* Close seconds that have ended for symbols with no trade since. */
		int64_t real = tr_now_ns();
		int64_t sec = (real - CLOSE_DELAY_NS) / NS;
		for (unsigned i = 0; i < s->nsyms; i++)
			if (s->syms[i].c.sec < sec)
				close_seconds(s, &s->syms[i], sec);
		if (on(s, TR_KIND_EVENT) && real / NS > last_event_sec) {
			last_event_sec = real / NS;
			one_event(s);
		}
		tr_writer_commit(s->w);
		if (now - last_hb >= HEARTBEAT_NS) {
			tr_writer_heartbeat(s->w);
			last_hb = now;
		}
		if (s->rate > 0 && !batch) {
			/* Sleep to the next trade, but wake for the heartbeat. */
			int64_t next = t0 + (int64_t)((double)(s->trades + 1) * 1e9 / s->rate);
			int64_t wait = next - now_mono();

			if (wait > 10000000)
				wait = 10000000;
			if (wait > 0) {
				struct timespec ts = {0, (long)wait};
				nanosleep(&ts, NULL);
			}
		}
	}
	/* The seconds still open: their candles so far, not final. */
	for (unsigned i = 0; i < s->nsyms; i++)
		if (s->syms[i].c.count)
			publish_candle(s, &s->syms[i], false);
	tr_writer_commit(s->w);
}

int main(int argc, char **argv)
{
	struct synth s = {.rate = 1000, .kinds = 0xf, .slots = 65536, .seed = 1};
	struct sigaction sa;
	int rc = 0;

	if (parse_args(&s, argc, argv) < 0)
		return 2;
	if (!s.symbol_list)
		s.symbol_list = strdup("BTCUSDT,ETHUSDT");
	if (!s.instance)
		s.instance = getenv("TICKRING_INSTANCE");
	if (!s.instance || !*s.instance)
		s.instance = "default";
	s.rng = s.seed;
	s.ev_rng = s.seed ^ 0x5bd1e995u;
	s.ts_rng = (uint64_t)tr_now_ns();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (!s.symbol_list || setup(&s) < 0) {
		fprintf(stderr, "tr-synth: instance %s: %s\n", s.instance, tr_errmsg());
		rc = 1;
		goto out;
	}
	int64_t t0 = now_mono();
	engine_start(&s);
	run(&s);
	double secs = (double)(now_mono() - t0) / 1e9;
	fprintf(stderr,
		"tr-synth: instance %s: %llu trades, %llu quotes, %llu candles, %llu events "
		"in %.2f s (%.0f trades/s)\n",
		s.instance, (unsigned long long)s.trades, (unsigned long long)s.n[TR_KIND_QUOTE],
		(unsigned long long)s.n[TR_KIND_CANDLE], (unsigned long long)s.n[TR_KIND_EVENT],
		secs, secs > 0 ? (double)s.trades / secs : 0);
out:
	if (s.w) {
		tr_writer_close(s.w);
		if (s.unlink_on_exit)
			tr_writer_unlink(NULL, s.instance);
	}
	free(s.syms);
	free(s.symbol_list);
	return rc;
}
