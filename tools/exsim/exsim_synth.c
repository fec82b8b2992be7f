/* exsim_synth.c - a synthetic market as a source: random walks, Poisson arrivals.
 *
 * For benchmarks longer than the recordings and for symbols nobody recorded.
 * Arrivals are a Poisson process at --rate frames per second over all
 * symbols together (exponential gaps in source time, which the feed paces
 * like a replay); each arrival picks a symbol and is a trade (30 %) or a
 * bookTicker (70 %). With --burst K, an arrival is, with probability
 * --burst-prob, a sweep of K trades at the same instant walking the price.
 *
 * Frames look like Binance spot's: trade ids contiguous per symbol, prices
 * and quantities as exact 8-decimal strings ("61837.63000000") from integer
 * mantissas, never through double; "E" and "T" are the wall clock in ms when
 * the frame is taken, so latency measured against them is real.
 *
 * The market is deterministic given --seed (timestamps aside).
 *
 * --stamp-price (for end-to-end latency benchmarks): a trade's price is the
 * CLOCK_REALTIME ns at which the frame is made, written with 8 decimals, so
 * the consumer's int64 price mantissa is that instant exactly. The frame is
 * made when it is due and published at once (no --delay-ms), so the stamp
 * precedes the lws_write by exsim's own queueing, which the figure includes.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SCALE 100000000ll /* 10^8: the exchange's own precision */

struct sym {
	char upper[24], lower[24];
	int64_t px, tick; /* mantissas at SCALE */
	uint64_t trade_id, update_id;
};

struct synth {
	struct exsim_source base;
	struct sym *s;
	int n;
	double rate, burst_prob;
	int burst, burst_left, burst_sym;
	bool burst_maker; /* a sweep hits one side */
	bool stamp;	  /* --stamp-price */
	uint64_t rng;
	int64_t next_ts;
	char data[512];
};

static uint64_t rnd(struct synth *g)
{
	/* xorshift64*: quality enough for a market that only has to look busy */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ull;
}

static double unit(struct synth *g)
{
	return ((rnd(g) >> 11) + 0.5) / 9007199254740992.0;
}

static void gap(struct synth *g)
{
	if (g->burst_left > 0)
		return; /* a burst is one instant */
	g->next_ts += (int64_t)(-log(unit(g)) / g->rate * 1e9) + 1;
}

static int synth_peek(struct exsim_source *s, int64_t *ts)
{
	*ts = ((struct synth *)s)->next_ts;
	return 1;
}

static int fmt_dec(char *out, size_t n, int64_t m)
{
	return snprintf(out, n, "%lld.%08lld", (long long)(m / SCALE), (long long)(m % SCALE));
}

static void walk(struct synth *g, struct sym *y)
{
	uint64_t r = rnd(g) % 4;

	if (r == 0)
		y->px += y->tick;
	else if (r == 1 && y->px > 100 * y->tick)
		y->px -= y->tick;
}

static int synth_take(struct exsim_source *s, struct exsim_frame *f)
{
	struct synth *g = (struct synth *)s;
	struct timespec now;
	char stream[64], p[32], q[32], b[32], a[32];
	int len, k;
	bool trade;

	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (g->burst_left > 0) {
		k = g->burst_sym;
		trade = true;
		g->burst_left--;
	} else {
		k = (int)(rnd(g) % (uint64_t)g->n);
		trade = rnd(g) % 10 < 3;
		if (g->burst > 0 && unit(g) < g->burst_prob) {
			g->burst_sym = k;
			g->burst_left = g->burst - 1;
			g->burst_maker = rnd(g) & 1;
			trade = true;
		}
	}
	struct sym *y = &g->s[k];
	if (trade) {
		bool sweep = g->burst_sym == k;
		bool buyer_maker = sweep ? g->burst_maker : (rnd(g) & 1);

		if (sweep)
			y->px += buyer_maker ? -y->tick : y->tick; /* walks the book one way */
		else
			walk(g, y);
		if (y->px < 100 * y->tick)
			y->px = 100 * y->tick;
		fmt_dec(p, sizeof p,
			g->stamp ? (int64_t)now.tv_sec * 1000000000 + now.tv_nsec : y->px);
		fmt_dec(q, sizeof q, (int64_t)(1 + rnd(g) % 50000) * 1000);
		len = snprintf(g->data, sizeof g->data,
			       "{\"e\":\"trade\",\"E\":%lld,\"s\":\"%s\",\"t\":%llu,\"p\":\"%s\","
			       "\"q\":\"%s\",\"T\":%lld,\"m\":%s,\"M\":true}",
			       ms, y->upper, (unsigned long long)y->trade_id++, p, q, ms,
			       buyer_maker ? "true" : "false");
		snprintf(stream, sizeof stream, "%s@trade", y->lower);
	} else {
		walk(g, y);
		fmt_dec(b, sizeof b, y->px);
		fmt_dec(a, sizeof a, y->px + y->tick);
		fmt_dec(p, sizeof p, (int64_t)(1 + rnd(g) % 500000) * 1000);
		fmt_dec(q, sizeof q, (int64_t)(1 + rnd(g) % 500000) * 1000);
		len = snprintf(g->data, sizeof g->data,
			       "{\"u\":%llu,\"s\":\"%s\",\"b\":\"%s\",\"B\":\"%s\",\"a\":\"%s\","
			       "\"A\":\"%s\"}",
			       (unsigned long long)y->update_id++, y->upper, b, p, a, q);
		snprintf(stream, sizeof stream, "%s@bookTicker", y->lower);
	}
	if (g->burst_left == 0)
		g->burst_sym = -1;
	int rc = exsim_frame_set(f, stream, strlen(stream), g->data, (size_t)len);
	if (rc < 0)
		return rc;
	f->ts = g->next_ts;
	gap(g);
	return 0;
}

static int synth_restart(struct exsim_source *s)
{
	(void)s;
	return 0; /* endless */
}

static void synth_destroy(struct exsim_source *s)
{
	struct synth *g = (struct synth *)s;

	free(g->s);
	free(g);
}

/* A plausible starting price for well-known symbols, else one from the name. */
static int64_t start_price(const char *sym, uint32_t h)
{
	if (!strcasecmp(sym, "BTCUSDT"))
		return 6183763000000ll;
	if (!strcasecmp(sym, "ETHUSDT"))
		return 248055000000ll;
	return (int64_t)(10 + h % 990) * SCALE;
}

int exsim_synth_open(struct exsim_source **out, const struct exsim_config *cfg)
{
	struct synth *g = calloc(1, sizeof *g);
	char *list = strdup(cfg->symbols ? cfg->symbols : "BTCUSDT,ETHUSDT");

	if (!g || !list) {
		free(g);
		free(list);
		return -ENOMEM;
	}
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(t);

		if (n == 0 || n >= sizeof g->s[0].upper)
			continue;
		struct sym *ns = realloc(g->s, (size_t)(g->n + 1) * sizeof *ns);
		if (!ns) {
			free(list);
			synth_destroy(&g->base);
			return -ENOMEM;
		}
		g->s = ns;
		struct sym *y = &g->s[g->n++];
		memset(y, 0, sizeof *y);
		uint32_t h = 2166136261u;
		for (size_t i = 0; i < n; i++) {
			y->upper[i] = (char)(t[i] >= 'a' && t[i] <= 'z' ? t[i] - 32 : t[i]);
			y->lower[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]);
			h = (h ^ (unsigned char)y->upper[i]) * 16777619u;
		}
		y->px = start_price(y->upper, h);
		y->tick = y->px >= 10 * SCALE ? SCALE / 100 : SCALE / 10000;
		y->px -= y->px % y->tick;
		y->trade_id = 1000000000ull + h % 1000000000u;
		y->update_id = 50000000000ull + h;
	}
	free(list);
	if (g->n == 0) {
		synth_destroy(&g->base);
		return -EINVAL;
	}
	g->rate = cfg->rate > 0 ? cfg->rate : 1000;
	g->burst = cfg->burst;
	g->burst_prob = cfg->burst_prob;
	g->burst_sym = -1;
	g->stamp = cfg->stamp_price;
	g->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ull;
	g->next_ts = 0;
	gap(g);
	g->base.peek = synth_peek;
	g->base.take = synth_take;
	g->base.restart = synth_restart;
	g->base.destroy = synth_destroy;
	*out = &g->base;
	return 0;
}
