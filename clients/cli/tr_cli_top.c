/* tr_cli_top.c - `tickring top`: a live per-symbol view of a region.
 *
 * Top follows the trade ring with a cursor and reads the latest table once a
 * frame. The ring gives what only a follower can know: trades per second per
 * symbol (a sliding 1 s window of 20 buckets of 50 ms, counted by the time
 * top read the trade) and, when the engine keeps no 24 h statistics, the
 * volume and the first price seen since top started. The latest table gives
 * the values a frame shows: last trade, best bid and ask, and 24 h change and
 * volume when tr_latest_stats() has them. Prices are exact decimals from
 * tr_fixed_format(); only percentages and rates go through double.
 *
 * Like tail, top outlives its engine: it opens the region in any state (a
 * stopped engine's last values stay readable), follows an in-place restart
 * through the cursor's epoch and a replaced file by reopening it. A lap is
 * never silent: the cursor skips to the newest record (nothing old is worth
 * replaying in a live view), symbols without a baseline take it from the
 * latest table, and the loss is shown in the header.
 *
 * On a terminal each frame is redrawn in place (ANSI home, erase-line and
 * erase-below on the alternate screen, no curses), and the terminal is
 * restored on SIGINT/SIGTERM/SIGHUP. Otherwise each frame is one summary line
 * and one line per symbol, `key=value` fields, for scripts (docs/cli.md).
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_atomic.h"
#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_reader.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define WAIT_NS 200000000ll   /* tr_wait slice: how soon a signal is noticed */
#define CHECK_NS 1000000000ll /* liveness and file-replacement check period */
#define BUCKET_NS 50000000ll  /* trades/s window: NBUCKETS buckets of 50 ms */
#define NBUCKETS 20
#define NSLOTS (NBUCKETS + 1) /* the window, plus the bucket being filled */
#define DRAIN_MAX 4096	      /* records read per clock reading */
#define PXBUF 40	      /* a price with a sign and padding zeros */
#define CELL 48

static const char usage[] =
    "usage: tickring [--instance NAME] top [options]\n"
    "\n"
    "Live view, one row per symbol: last price, change and volume (24 h when the\n"
    "engine keeps 24 h statistics, else since top started), trades/s over the last\n"
    "second, best bid and ask, spread, and lag (now - exchange time of the last trade;\n"
    "and receive time - exchange time); with the engine's analytics also the 1 h change,\n"
    "RSI and the first SMA of one interval, a stale mark, and the top movers.\n"
    "\n"
    "      --interval-ms N  redraw every N ms (default 1000, at least 100)\n"
    "      --indicators IV  RSI and SMA of this candle interval (default 1m, else the\n"
    "                       first configured one)\n"
    "  -s, --symbols A,B    only these symbols (case-insensitive, any venue)\n"
    "      --once           measure one interval, print one snapshot and exit\n"
    "  -i, --instance NAME  region instance (also accepted before the command)\n"
    "  -h, --help           this help\n"
    "\n"
    "On a terminal the view is redrawn in place; otherwise every interval prints a\n"
    "summary line and one `key=value` line per symbol (format: docs/cli.md).\n"
    "Exit: 0 on SIGINT/SIGTERM, a closed pipe or after --once; 1 if the region cannot\n"
    "be opened; 2 on a usage error.\n";

/* Terminal modes: the alternate screen with the cursor hidden, and back. */
static const char enter_screen[] = "\033[?1049h\033[?25l\033[2J";
static const char leave_screen[] = "\033[?25h\033[?1049l";

static volatile sig_atomic_t stop, resized;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stop = 1;
}

/* Ctrl-Z: give the terminal back, stop; on SIGCONT take it again and redraw.
 * Only async-signal-safe calls. */
static void on_stop_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	if (sig == SIGTSTP) {
		n = write(1, leave_screen, sizeof leave_screen - 1);
		signal(SIGTSTP, SIG_DFL);
		raise(SIGTSTP); /* stops here until SIGCONT */
	} else {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTSTP, &sa, NULL);
		n = write(1, enter_screen, sizeof enter_screen - 1);
		resized = 1; /* redraw at once */
	}
	(void)n;
	errno = saved;
}

/* What top learned from the trade ring about one symbol id. */
struct sym_state {
	int64_t first_price; /* baseline of "since start" */
	int64_t volume;	     /* trades read, saturating */
	uint64_t trades;
	bool has_first;
	uint8_t decimals; /* most fractional digits shown so far: keeps columns still */
	uint32_t bucket_n[NSLOTS];
	int64_t bucket_idx[NSLOTS]; /* which 50 ms bucket since t0 slot i counts */
};

/* One row of a frame. */
struct row {
	char name[TR_NAME_LEN + 1];
	char venue[TR_VENUE_LEN + 1];
	uint32_t id;
	bool trade_ok, quote_ok, chg_ok, pct_ok, base_24h;
	struct tr_trade trade;
	struct tr_quote quote;
	int64_t chg, volume;
	double pct, tps;
	bool h1_ok, rsi_ok, sma_ok, stale;
	double pct_1h, rsi;
	int64_t sma;
	unsigned sma_period;
};

struct top {
	const char *instance;
	char path[300];
	struct tr_region *r;
	struct tr_cursor c;
	struct sym_state *st; /* per symbol id */
	uint32_t cap;
	char *filter_buf; /* --symbols, split in place */
	char **filter;
	int nfilter;
	int64_t interval_ns;
	bool once, tty;
	int64_t ind_iv;	    /* --indicators, seconds; 0: 1m or the first */
	int64_t t0;	    /* monotonic: buckets count from here */
	int64_t since_real; /* wall time the "since start" baselines began */
	uint64_t heads[TR_NKINDS];
	int64_t heads_t;
	uint64_t lap_events, lost;
	int alive; /* last liveness verdict: 1, 0, or -1 before the first check */
	char verdict[256];
	struct row *rows;
	size_t rows_cap;
};

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t s;

	return __builtin_add_overflow(a, b, &s) ? (b > 0 ? INT64_MAX : INT64_MIN) : s;
}

/* A name from the region as one printable word: no spaces, no '='. */
static void clean(const char *s, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		out[i] = s[i] > ' ' && s[i] <= '~' && s[i] != '=' ? s[i] : '?';
	out[i] = 0;
}

static int decimals(int64_t v)
{
	char b[TR_FIXED_BUFSZ];
	size_t n = tr_fixed_format(v, b);
	char *dot = strchr(b, '.');

	return dot ? (int)(b + n - dot - 1) : 0;
}

/* v exactly, with at least dec fractional digits (zeros appended) and a '+'
 * on positive values when sign is set. Returns buf (PXBUF bytes). */
static char *px(int64_t v, int dec, bool sign, char *buf)
{
	char b[TR_FIXED_BUFSZ];
	size_t n = tr_fixed_format(v, b);
	char *dot = strchr(b, '.');
	int have = dot ? (int)(b + n - dot - 1) : 0;
	int len = snprintf(buf, PXBUF, "%s%s", sign && v > 0 ? "+" : "", b);

	if (dec > have) {
		if (!dot)
			buf[len++] = '.';
		while (have++ < dec && len < PXBUF - 1)
			buf[len++] = '0';
		buf[len] = 0;
	}
	return buf;
}

/* ---- following the region ---- */

static void sample_heads(struct top *t)
{
	for (unsigned k = 0; k < TR_NKINDS; k++)
		t->heads[k] = tr_region_head(t->r, k);
	t->heads_t = tr_cli_now_mono();
}

/* Symbols that have no baseline yet take the latest trade: at start, and
 * after a lap, the only trade top can know. */
static void seed_baselines(struct top *t)
{
	uint32_t n = tr_symbol_count(t->r);
	struct tr_trade tr;

	for (uint32_t id = 0; id < n && id < t->cap; id++)
		if (!t->st[id].has_first && tr_latest_trade(t->r, id, &tr) == 0) {
			t->st[id].first_price = tr.price;
			t->st[id].has_first = true;
		}
}

/* Open (or reopen) the region: a new file has new symbol ids, so everything
 * top counted starts over. */
static int top_open(struct top *t)
{
	struct tr_region *r;
	int err;

	if ((err = tr_region_open(&r, t->instance, TR_OPEN_ANY_STATE)) < 0)
		return err;
	uint32_t cap = tr_region_superblock(r)->symbol_capacity;
	struct sym_state *st = calloc(cap ? cap : 1, sizeof *st);
	if (!st) {
		tr_region_close(r);
		return tr_err(ENOMEM, "out of memory");
	}
	/* The cursor joins first, so no trade falls between baseline and ring. */
	tr_cursor_init(&t->c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	t->c.lap_policy = TR_LAP_TAIL;
	tr_region_close(t->r);
	free(t->st);
	t->r = r;
	t->st = st;
	t->cap = cap;
	t->alive = -1;
	t->t0 = tr_cli_now_mono();
	t->since_real = tr_cli_now_real();
	seed_baselines(t);
	sample_heads(t);
	return 0;
}

/* Whether the reader of our stdout has gone (see tail). */
static bool stdout_gone(void)
{
	struct pollfd p = {.fd = 1, .events = 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* Once a second: liveness (reported on stderr unless the screen shows it),
 * and follow a replaced file. */
static void top_check(struct top *t)
{
	int live = tr_region_liveness(t->r, 0) == 0;

	snprintf(t->verdict, sizeof t->verdict, "%s", live ? "alive" : tr_errmsg());
	if (!t->tty && !t->once) {
		if (!live && t->alive != 0)
			fprintf(stderr, "tickring: %s: %s; waiting for the engine\n", t->path,
				t->verdict);
		else if (live && t->alive == 0)
			fprintf(stderr,
				"tickring: %s: engine is running again (pid %d, epoch %llu)\n",
				t->path, tr_load_relaxed(&tr_region_superblock(t->r)->engine_pid),
				(unsigned long long)tr_region_epoch(t->r));
	}
	t->alive = live;
	if (live || !tr_region_replaced(t->r))
		return;
	if (top_open(t) < 0)
		return; /* half-made or vanished again: try next time */
	if (!t->tty)
		fprintf(stderr, "tickring: %s: region file was replaced; following the new one\n",
			t->path);
	top_check(t);
}

static void on_trade(struct top *t, const struct tr_trade *tr, int64_t bucket)
{
	if (tr->symbol_id >= t->cap)
		return;
	struct sym_state *s = &t->st[tr->symbol_id];
	unsigned b = (unsigned)(bucket % NSLOTS);

	if (!s->has_first) {
		s->first_price = tr->price;
		s->has_first = true;
	}
	if (tr->qty > 0)
		s->volume = sat_add(s->volume, tr->qty);
	s->trades++;
	if (s->bucket_idx[b] != bucket) {
		s->bucket_idx[b] = bucket;
		s->bucket_n[b] = 0;
	}
	s->bucket_n[b]++;
}

/* Trades/s of a symbol over the last whole second of buckets (less, scaled,
 * in top's first second). */
static double symbol_tps(const struct top *t, const struct sym_state *s, int64_t now)
{
	int64_t cur = (now - t->t0) / BUCKET_NS;
	int64_t span = cur < NBUCKETS ? cur : NBUCKETS;
	uint64_t n = 0;

	if (span <= 0)
		return 0;
	for (unsigned i = 0; i < NSLOTS; i++)
		if (s->bucket_idx[i] >= cur - span && s->bucket_idx[i] < cur)
			n += s->bucket_n[i];
	return (double)n * 1e9 / (double)(span * BUCKET_NS);
}

/* ---- a frame ---- */

static bool wanted(const struct top *t, const char *name)
{
	if (!t->nfilter)
		return true;
	for (int i = 0; i < t->nfilter; i++)
		if (!strcasecmp(t->filter[i], name))
			return true;
	return false;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->venue, y->venue);
}

/* Latest-table interval slot whose indicators top shows, or -1. */
static int ind_slot(const struct top *t)
{
	int i = tr_interval_index(t->r, (uint32_t)(t->ind_iv ? t->ind_iv : 60));

	if (i < 0 && !t->ind_iv && tr_region_superblock(t->r)->interval_count)
		i = 0;
	return i;
}

/* The engine's analytics of a row: 1 h change, stale flag, RSI and SMA. */
static void row_analytics(const struct top *t, struct row *w)
{
	struct tr_sym_analytics an;
	struct tr_indicators ind;
	int slot = ind_slot(t);

	w->h1_ok = w->rsi_ok = w->sma_ok = w->stale = false;
	if (tr_latest_analytics(t->r, w->id, &an) == 0) {
		w->h1_ok = an.flags & TR_SYMA_H1;
		w->pct_1h = (double)an.change_pct_1h / (double)TR_SCALE;
		w->stale = an.flags & TR_SYMA_STALE;
	}
	if (slot >= 0 && tr_latest_indicators(t->r, w->id, (unsigned)slot, &ind) == 0) {
		w->rsi_ok = ind.valid & TR_IND_V_RSI;
		w->rsi = (double)ind.rsi / (double)TR_SCALE;
		w->sma_ok = ind.valid & TR_IND_V_SMA(0);
		w->sma = ind.sma[0];
		w->sma_period = ind.sma_period[0];
	}
}

/* Fill t->rows from the latest table; returns the row count. */
static size_t build_rows(struct top *t, int64_t now)
{
	uint32_t n = tr_symbol_count(t->r);
	size_t k = 0;

	if (n > t->rows_cap) {
		struct row *rows = realloc(t->rows, n * sizeof *rows);
		if (!rows)
			return 0;
		t->rows = rows;
		t->rows_cap = n;
	}
	for (uint32_t id = 0; id < n && id < t->cap; id++) {
		struct row *w = &t->rows[k];
		struct sym_state *s = &t->st[id];
		struct tr_symbol sym;
		struct tr_stats24h st24;

		if (tr_symbol_get(t->r, id, &sym) < 0)
			continue;
		clean(sym.name, sizeof sym.name, w->name);
		if (!wanted(t, w->name))
			continue;
		clean(tr_venue_name(t->r, sym.venue_id), TR_VENUE_LEN, w->venue);
		w->id = id;
		w->trade_ok = tr_latest_trade(t->r, id, &w->trade) == 0;
		w->quote_ok = tr_latest_quote(t->r, id, &w->quote) == 0;
		w->base_24h = tr_latest_stats(t->r, id, &st24) == 0;
		w->chg_ok = w->pct_ok = false;
		if (w->base_24h) {
			w->chg = st24.change;
			w->pct = (double)st24.change_pct / (double)TR_SCALE;
			w->chg_ok = w->pct_ok = true;
			w->volume = st24.volume;
		} else {
			if (w->trade_ok && s->has_first) {
				w->chg_ok = !__builtin_sub_overflow(w->trade.price, s->first_price,
								    &w->chg);
				w->pct_ok = w->chg_ok && s->first_price != 0;
				if (w->pct_ok)
					w->pct = (double)w->chg * 100.0 / (double)s->first_price;
			}
			w->volume = s->volume;
		}
		w->tps = symbol_tps(t, s, now);
		row_analytics(t, w);
		k++;
	}
	qsort(t->rows, k, sizeof *t->rows, row_cmp);
	return k;
}

static double rate(const struct top *t, unsigned kind, const uint64_t *heads, int64_t now)
{
	/* A restart may move a head back; no rate is better than a negative one. */
	if (heads[kind] < t->heads[kind] || now <= t->heads_t)
		return 0;
	return (double)(heads[kind] - t->heads[kind]) * 1e9 / (double)(now - t->heads_t);
}

/* The values of a frame that do not belong to one symbol. */
struct summary {
	int64_t now_real;
	double tps, qps;
	int pid;
	uint64_t epoch;
	int n24, nstart; /* rows by change/volume baseline */
};

static void ms(int64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f", (double)ns / 1e6);
}

/* The cells of a row, shared by both outputs; spacing differs. Prices are
 * padded to dec decimals (dec < 0: shortest form). */
enum {
	C_SYM,
	C_VENUE,
	C_LAST,
	C_CHG,
	C_PCT,
	C_VOL,
	C_TPS,
	C_BID,
	C_ASK,
	C_SPREAD,
	C_LAG,
	C_FEED,
	C_PCT1H,
	C_RSI,
	C_SMA,
	NCOL
};

static void row_cells(const struct row *w, int dec, bool human, bool mark, int64_t now_real,
		      char cell[NCOL][CELL])
{
	for (int i = 0; i < NCOL; i++)
		snprintf(cell[i], CELL, "-");
	snprintf(cell[C_SYM], CELL, "%s", w->name);
	snprintf(cell[C_VENUE], CELL, "%s", w->venue);
	if (w->trade_ok) {
		px(w->trade.price, dec, false, cell[C_LAST]);
		if (w->trade.ts_event > 0) {
			int64_t lag = now_real - w->trade.ts_event;
			int64_t feed = w->trade.ts_recv - w->trade.ts_event;

			ms(lag, cell[C_LAG], CELL);
			ms(feed, cell[C_FEED], CELL);
			/* Replayed old data: milliseconds of years say nothing on screen. */
			if (human && (lag > 86400000000000ll || lag < -86400000000000ll))
				snprintf(cell[C_LAG], CELL, "%.0fd", lag / 86400e9);
			if (human && (feed > 86400000000000ll || feed < -86400000000000ll))
				snprintf(cell[C_FEED], CELL, "%.0fd", feed / 86400e9);
		}
	}
	if (w->chg_ok)
		px(w->chg, dec, human, cell[C_CHG]); /* lines: as tr_fixed_parse() reads */
	if (w->pct_ok)
		snprintf(cell[C_PCT], CELL, human ? "%+.2f%%" : "%.4f", w->pct);
	if (w->base_24h || w->volume || w->trade_ok)
		px(w->volume, -1, false, cell[C_VOL]);
	snprintf(cell[C_TPS], CELL, "%.0f", w->tps);
	if (w->quote_ok) {
		if (w->quote.bid_px > 0)
			px(w->quote.bid_px, dec, false, cell[C_BID]);
		if (w->quote.ask_px > 0)
			px(w->quote.ask_px, dec, false, cell[C_ASK]);
		if (w->quote.bid_px > 0 && w->quote.ask_px > 0)
			px(w->quote.ask_px - w->quote.bid_px, dec, false, cell[C_SPREAD]);
	}
	if (mark && !w->base_24h && w->chg_ok)
		strcat(cell[C_CHG], "*"); /* "since start" among 24 h rows */
	if (w->h1_ok)
		snprintf(cell[C_PCT1H], CELL, human ? "%+.2f%%" : "%.4f", w->pct_1h);
	if (w->rsi_ok)
		snprintf(cell[C_RSI], CELL, "%.2f", w->rsi);
	if (w->sma_ok)
		px(w->sma, dec, false, cell[C_SMA]);
	if (human && w->stale)
		strcat(cell[C_SYM], "!"); /* no trade for symbol-stale-ms */
}

static void screen_line(FILE *f, const char *s, unsigned cols, bool full);

/* The movers table, one line per list: "SYM +1.23%  SYM -0.5% ...". */
static void movers_lines(const struct top *t, FILE *f, bool human, const char *when, unsigned cols,
			 bool full)
{
	static const char *const name[TR_MOVERS_NLISTS] = {"gain_24h", "loss_24h", "gain_1h",
							   "loss_1h"};
	static const char *const title[TR_MOVERS_NLISTS] = {"gainers 24 h", "losers 24 h ",
							    "gainers 1 h ", "losers 1 h  "};
	struct tr_movers mv;
	char line[1024], sym[TR_NAME_LEN + 1];

	if (tr_movers(t->r, &mv) < 0)
		return;
	if (!human)
		fprintf(f, "top t=%s - movers", when);
	else
		screen_line(f, "", cols, full);
	for (int k = 0; k < TR_MOVERS_NLISTS; k++) {
		size_t n = 0;
		unsigned show = mv.count[k] < 5 ? mv.count[k] : 5;

		if (human)
			n += (size_t)snprintf(line, sizeof line, "%s ", title[k]);
		else
			fprintf(f, " %s=", name[k]);
		for (unsigned i = 0; i < (human ? show : mv.count[k]); i++) {
			struct tr_symbol sy;
			const struct tr_mover *m = &mv.list[k][i];

			if (tr_symbol_get(t->r, m->symbol_id, &sy) < 0)
				snprintf(sym, sizeof sym, "#%u", m->symbol_id);
			else
				clean(sy.name, sizeof sy.name, sym);
			if (human && n < sizeof line)
				n +=
				    (size_t)snprintf(line + n, sizeof line - n, "  %s %+.2f%%", sym,
						     (double)m->change_pct / (double)TR_SCALE);
			else if (!human)
				fprintf(f, "%s%s:%.4f", i ? "," : "", sym,
					(double)m->change_pct / (double)TR_SCALE);
		}
		if (!human && !mv.count[k])
			fputc('-', f);
		if (human)
			screen_line(f, line, cols, full);
	}
	if (!human)
		fputc('\n', f);
}

/* Non-terminal: a summary line, then one line per symbol. */
static void print_lines(const struct top *t, const struct summary *sm, size_t n, FILE *f)
{
	char when[32], cell[NCOL][CELL];

	snprintf(when, sizeof when, "%lld.%03lld", (long long)(sm->now_real / 1000000000),
		 (long long)(sm->now_real % 1000000000 / 1000000));
	char inst[TR_NAME_LEN + 1];
	clean(tr_region_superblock(t->r)->instance, TR_NAME_LEN, inst);
	fprintf(f,
		"top t=%s - instance=%s pid=%d epoch=%llu alive=%s trades_ps=%.0f "
		"quotes_ps=%.0f laps=%llu lost=%llu symbols=%zu\n",
		when, inst, sm->pid, (unsigned long long)sm->epoch, t->alive == 1 ? "yes" : "no",
		sm->tps, sm->qps, (unsigned long long)t->lap_events, (unsigned long long)t->lost,
		n);
	for (size_t i = 0; i < n; i++) {
		const struct row *w = &t->rows[i];

		row_cells(w, -1, false, false, sm->now_real, cell);
		fprintf(f,
			"top t=%s %s venue=%s last=%s chg=%s chg_pct=%s base=%s vol=%s tps=%s "
			"bid=%s ask=%s spread=%s lag_ms=%s feed_ms=%s chg_pct_1h=%s rsi=%s sma=%s "
			"stale=%s\n",
			when, cell[C_SYM], cell[C_VENUE], cell[C_LAST], cell[C_CHG], cell[C_PCT],
			w->base_24h ? "24h" : "start", cell[C_VOL], cell[C_TPS], cell[C_BID],
			cell[C_ASK], cell[C_SPREAD], cell[C_LAG], cell[C_FEED], cell[C_PCT1H],
			cell[C_RSI], cell[C_SMA], w->stale ? "yes" : "no");
	}
	movers_lines(t, f, false, when, 0, false);
}

/* One screen line, cut at the terminal width; erase-line clears what the
 * previous frame left to its right. */
static void screen_line(FILE *f, const char *s, unsigned cols, bool full)
{
	size_t n = strlen(s);

	if (cols && n > cols)
		n = cols;
	fwrite(s, 1, n, f);
	fputs(full ? "\033[K\n" : "\n", f);
}

/* Terminal (or --once on one): header, then a table sized to its content. */
static void print_screen(struct top *t, const struct summary *sm, size_t n, FILE *f, bool full)
{
	static const char *const title[NCOL] = {"SYMBOL", "VENUE",   "LAST", "CHG", "CHG%",
						"VOLUME", "TPS",     "BID",  "ASK", "SPREAD",
						"LAG ms", "FEED ms", "1H%",  "RSI", "SMA"};
	char(*cells)[NCOL][CELL] = calloc(n ? n : 1, sizeof *cells);
	unsigned width[NCOL], cols = 0, lines = 0;
	char line[1024], when[32], since[32], inst[TR_NAME_LEN + 1];
	struct winsize ws;
	struct tm tm;
	time_t secs;

	if (!cells)
		return;
	if (full && ioctl(1, TIOCGWINSZ, &ws) == 0) {
		cols = ws.ws_col;
		lines = ws.ws_row;
	}
	secs = (time_t)(sm->now_real / 1000000000);
	strftime(when, sizeof when, "%H:%M:%S UTC", gmtime_r(&secs, &tm));
	secs = (time_t)(t->since_real / 1000000000);
	strftime(since, sizeof since, "%H:%M:%S UTC", gmtime_r(&secs, &tm));
	clean(tr_region_superblock(t->r)->instance, TR_NAME_LEN, inst);

	snprintf(line, sizeof line,
		 "tickring top   instance %s   engine pid %d epoch %llu: %s   %s", inst, sm->pid,
		 (unsigned long long)sm->epoch, t->verdict, when);
	screen_line(f, line, cols, full);
	int m =
	    snprintf(line, sizeof line, "trades %.0f/s   quotes %.0f/s   symbols %zu   laps %llu",
		     sm->tps, sm->qps, n, (unsigned long long)t->lap_events);
	if (t->lap_events)
		m += snprintf(line + m, sizeof line - (size_t)m,
			      " (lost %llu trades: volume and TPS undercount)",
			      (unsigned long long)t->lost);
	snprintf(line + m, sizeof line - (size_t)m, "   change, volume: %s%s",
		 !sm->nstart ? "24 h"
		 : sm->n24   ? "24 h; * since start "
			     : "since start ",
		 sm->nstart ? since : "");
	screen_line(f, line, cols, full);
	screen_line(f, "", cols, full);

	for (int c = 0; c < NCOL; c++)
		width[c] = (unsigned)strlen(title[c]);
	for (size_t i = 0; i < n; i++) {
		struct row *w = &t->rows[i];
		struct sym_state *s = &t->st[w->id];
		int dec = s->decimals;

		if (w->trade_ok && decimals(w->trade.price) > dec)
			dec = decimals(w->trade.price);
		if (w->quote_ok && decimals(w->quote.bid_px) > dec)
			dec = decimals(w->quote.bid_px);
		if (w->quote_ok && decimals(w->quote.ask_px) > dec)
			dec = decimals(w->quote.ask_px);
		s->decimals = (uint8_t)dec;
		row_cells(w, dec, true, sm->n24 && sm->nstart, sm->now_real, cells[i]);
		for (int c = 0; c < NCOL; c++)
			if (strlen(cells[i][c]) > width[c])
				width[c] = (unsigned)strlen(cells[i][c]);
	}
	/* Rows fit below three header lines and the table title, with the last
	 * screen line kept free so nothing scrolls. */
	size_t show = n;
	if (lines && n + 5 > lines)
		show = lines > 6 ? lines - 6 : 0;
	for (size_t i = 0; i <= show; i++) {
		size_t len = 0;

		for (int c = 0; c < NCOL; c++) {
			const char *v = i ? cells[i - 1][c] : title[c];
			/* names to the left, numbers to the right */
			int left = c == C_SYM || c == C_VENUE;

			len += (size_t)snprintf(line + len, sizeof line - len, "%s%*s%s",
						c ? "  " : "",
						left ? 0 : (int)(width[c] - strlen(v)), "", v);
			if (left)
				len += (size_t)snprintf(line + len, sizeof line - len, "%*s",
							(int)(width[c] - strlen(v)), "");
			if (len >= sizeof line)
				len = sizeof line - 1;
		}
		screen_line(f, line, cols, full);
	}
	if (show < n) {
		snprintf(line, sizeof line, "... %zu more (narrow with --symbols)", n - show);
		screen_line(f, line, cols, full);
	}
	movers_lines(t, f, true, "", cols, full);
	free(cells);
}

/* Render one frame to stdout. Returns 0 or -errno. */
static int frame(struct top *t)
{
	int64_t now = tr_cli_now_mono();
	uint64_t heads[TR_NKINDS];
	struct summary sm = {.now_real = tr_cli_now_real()};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	for (unsigned k = 0; k < TR_NKINDS; k++)
		heads[k] = tr_region_head(t->r, k);
	sm.tps = rate(t, TR_KIND_TRADE, heads, now);
	sm.qps = rate(t, TR_KIND_QUOTE, heads, now);
	memcpy(t->heads, heads, sizeof heads);
	t->heads_t = now;
	sm.pid = tr_load_relaxed(&tr_region_superblock(t->r)->engine_pid);
	sm.epoch = tr_region_epoch(t->r);

	size_t n = build_rows(t, now);
	for (size_t i = 0; i < n; i++) {
		if (t->rows[i].base_24h)
			sm.n24++;
		else
			sm.nstart++;
	}
	/* Built whole, then written at once: no half-drawn frame on screen. */
	if (!(f = open_memstream(&buf, &len)))
		return -ENOMEM;
	if (t->tty && !t->once) {
		fputs(resized ? "\033[H\033[2J" : "\033[H", f);
		resized = 0;
		print_screen(t, &sm, n, f, true);
		fputs("\033[J", f);
	} else if (t->tty) {
		print_screen(t, &sm, n, f, false);
	} else {
		print_lines(t, &sm, n, f);
	}
	fclose(f);
	int err = 0;
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
		err = -(errno ? errno : EIO);
	free(buf);
	return err;
}

/* ---- the command ---- */

static int parse_symbols(struct top *t, const char *arg)
{
	free(t->filter_buf);
	free(t->filter);
	t->nfilter = 0;
	if (!(t->filter_buf = strdup(arg)) ||
	    !(t->filter = calloc(strlen(arg) / 2 + 1, sizeof(char *))))
		return -1;
	for (char *save = NULL, *s = strtok_r(t->filter_buf, ",", &save); s;
	     s = strtok_r(NULL, ",", &save))
		t->filter[t->nfilter++] = s;
	return t->nfilter ? 0 : -1;
}

static int parse_args(struct top *t, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"interval-ms", required_argument, NULL, 't'},
	    {"indicators", required_argument, NULL, 'I'},
	    {"symbols", required_argument, NULL, 's'},
	    {"once", no_argument, NULL, 'o'},
	    {"instance", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	long long v;

	while ((c = getopt_long(argc, argv, "s:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 100 || v > 86400000) {
				fprintf(stderr,
					"tickring top: bad interval '%s' (100 to 86400000 ms)\n",
					optarg);
				return TR_CLI_USAGE;
			}
			t->interval_ns = v * 1000000;
			break;
		case 'I':
			if ((t->ind_iv = tr_interval_parse(optarg)) <= 0) {
				fprintf(stderr, "tickring top: bad interval '%s'\n", optarg);
				return TR_CLI_USAGE;
			}
			break;
		case 's':
			if (parse_symbols(t, optarg) < 0) {
				fprintf(stderr, "tickring top: bad symbol list '%s'\n", optarg);
				return TR_CLI_USAGE;
			}
			break;
		case 'o':
			t->once = true;
			break;
		case 'i':
			t->instance = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			fputs(usage, stderr);
			return TR_CLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tickring top: unexpected argument '%s'\n\n%s", argv[optind],
			usage);
		return TR_CLI_USAGE;
	}
	return 0;
}

static void handle_signals(bool tty)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked wait returns early */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty) {
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGWINCH, &sa, NULL); /* redraw at once, cleared */
		sa.sa_handler = on_stop_signal;
		sigaction(SIGTSTP, &sa, NULL);
		sigaction(SIGCONT, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN); /* a closed pipe becomes EPIPE from fwrite */
}

/* Read what the trade ring has, up to the next deadline. */
static void follow(struct top *t, int64_t deadline)
{
	struct tr_trade tr;
	int64_t wait = deadline - tr_cli_now_mono();

	if (wait > WAIT_NS)
		wait = WAIT_NS;
	if (wait < 0)
		wait = 0;
	int res = tr_wait(&t->c, &tr, TR_WAIT_FUTEX, wait);
	int64_t bucket = (tr_cli_now_mono() - t->t0) / BUCKET_NS; /* one clock reading a batch */

	for (int i = 0; res != TR_POLL_EMPTY;
	     res = ++i < DRAIN_MAX ? tr_poll(&t->c, &tr) : TR_POLL_EMPTY) {
		switch (res) {
		case TR_POLL_RECORD:
			on_trade(t, &tr, bucket);
			break;
		case TR_POLL_LAPPED:
			t->lap_events++;
			t->lost += t->c.last_gap;
			if (!t->tty && !t->once)
				fprintf(stderr, "tickring: lapped: lost %llu trades records\n",
					(unsigned long long)t->c.last_gap);
			seed_baselines(t);
			break;
		case TR_POLL_EPOCH:
			if (!t->tty && !t->once)
				fprintf(stderr, "tickring: %s: engine restarted (epoch %llu)\n",
					t->path, (unsigned long long)t->c.epoch);
			break;
		}
	}
}

int tr_cli_top(int argc, char **argv, const char *instance)
{
	struct top t = {.instance = instance, .interval_ns = 1000000000ll};
	int rc, err;

	if ((rc = parse_args(&t, argc, argv)) != 0) {
		rc = rc < 0 ? 0 : rc;
		goto out;
	}
	t.tty = isatty(1);
	tr_cli_region_path(t.instance, t.path, sizeof t.path);
	if (top_open(&t) < 0) {
		tr_cli_error(t.path);
		rc = 1;
		goto out;
	}
	snprintf(t.path, sizeof t.path, "%s", tr_region_path(t.r));
	for (int i = 0; i < t.nfilter; i++)
		if (tr_symbol_find(t.r, NULL, t.filter[i]) < 0 && !t.tty)
			fprintf(stderr, "tickring: %s: no symbol %s yet; waiting for it\n", t.path,
				t.filter[i]);
	if (!t.tty)
		setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* a frame is flushed whole */
	if (t.tty && !t.once) { /* alternate screen, cursor hidden, until we exit */
		printf("%stickring top: measuring ...", enter_screen);
		fflush(stdout);
	}
	handle_signals(t.tty && !t.once);
	top_check(&t);

	int64_t start = tr_cli_now_mono();
	int64_t next_frame = start + t.interval_ns, next_check = start + CHECK_NS;
	rc = 0;
	while (!stop) {
		int64_t now = tr_cli_now_mono();

		if (now >= next_check || now >= next_frame) { /* a frame shows a fresh verdict */
			if (!t.tty && stdout_gone())
				break;
			top_check(&t);
			next_check = now + CHECK_NS;
		}
		if (now >= next_frame || resized) {
			if ((err = frame(&t)) < 0) {
				if (err != -EPIPE) {
					fprintf(stderr, "tickring: stdout: %s\n", strerror(-err));
					rc = 1;
				}
				break;
			}
			if (t.once)
				break;
			if (now >= next_frame)
				next_frame = now >= next_frame + t.interval_ns
						 ? now + t.interval_ns
						 : next_frame + t.interval_ns;
		}
		follow(&t, next_frame < next_check ? next_frame : next_check);
	}
	if (t.tty && !t.once) {
		signal(SIGTSTP, SIG_DFL);
		signal(SIGCONT, SIG_DFL);
		fputs(leave_screen, stdout);
		fflush(stdout);
	}
	tr_region_close(t.r);
out:
	free(t.st);
	free(t.rows);
	free(t.filter);
	free(t.filter_buf);
	return rc;
}
