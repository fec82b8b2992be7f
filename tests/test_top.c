/* test_top.c - `tickring top` end to end.
 *
 * tr-synth fills a unique instance and the real `tickring top` from $TR_BUILD
 * reads it: into a pipe (the key=value lines scripts parse) and on a
 * pseudo-terminal (the full-screen view, which must give the terminal back on
 * SIGTERM). Live values move while top looks at them, so exact agreement with
 * the latest table is checked against a stopped engine, whose region stays
 * readable and still. No timing is asserted; waits are bounded by the
 * suite's timeout.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_fixed.h"
#include "tr_reader.h"
#include "tr_writer.h"

#include "tproc.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- processes ---- */

/* Start argv with stdout on fd out (closed here) and stderr into a file. */
static pid_t spawn(const char *const argv[], int out, const char *err)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (e < 0 || dup2(out, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv); /* execv does not write them */
		_exit(127);
	}
	close(out);
	tproc_track(pid);
	return pid;
}

/* Append what fd has to *buf; returns bytes read, 0 at EOF (or EIO: a pty
 * whose other side closed). */
static ssize_t drain(int fd, char **buf, size_t *len, size_t *cap)
{
	if (*cap - *len < 4097) {
		*cap = *cap * 2 + 8192;
		cr_assert_not_null(*buf = realloc(*buf, *cap));
	}
	ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
	if (n < 0 && (errno == EIO || errno == EINTR))
		return errno == EIO ? 0 : -1;
	cr_assert_geq(n, 0, "read: %s", strerror(errno));
	*len += (size_t)n;
	(*buf)[*len] = 0;
	return n;
}

struct result {
	int status;
	char *out, *err;
};

/* Run argv to completion with stdout a pipe. */
static struct result run(const char *const argv[])
{
	const char *e = tproc_tmpfile("top");
	int p[2];
	struct result r = {0};
	size_t len = 0, cap = 0;

	cr_assert_eq(pipe(p), 0);
	pid_t pid = spawn(argv, p[1], e);
	while (drain(p[0], &r.out, &len, &cap) != 0)
		;
	close(p[0]);
	r.status = tproc_reap(pid);
	r.err = tproc_slurp(e);
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Start tr-synth at 500 trades/s and wait until every symbol has traded. */
static pid_t synth_start(const char *inst, const char *symbols, int nsym)
{
	const char *argv[] = {tproc_prog("tr-synth"),
			      "--instance",
			      inst,
			      "--rate",
			      "500",
			      "--symbols",
			      symbols,
			      NULL};
	int devnull = open("/dev/null", O_WRONLY);
	pid_t pid = spawn(argv, devnull, tproc_tmpfile("top"));
	struct tr_region *r;
	struct tr_trade t;

	while (tr_region_open(&r, inst, TR_OPEN_NO_CTL) < 0)
		sleep_ms(5);
	for (int id = 0; id < nsym; id++)
		while (tr_symbol_count(r) <= (uint32_t)id ||
		       tr_latest_trade(r, (uint32_t)id, &t) < 0)
			sleep_ms(5);
	tr_region_close(r);
	return pid;
}

static void synth_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	cr_assert_eq(tproc_reap(pid), 0, "tr-synth did not stop cleanly");
}

/* ---- the key=value lines ---- */

/* Split output into lines (in place); returns the count. */
static int split(char *out, char **line, int max)
{
	int n = 0;

	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		cr_assert_lt(n, max, "more lines than expected");
		line[n++] = l;
	}
	return n;
}

/* The third word of a line: the symbol, or "-" on the summary line. */
static void subject(const char *line, char *out, size_t cap)
{
	const char *p = line;

	cr_assert(!strncmp(line, "top t=", 6), "not a top line: %s", line);
	for (int w = 0; w < 2; w++)
		p = strchr(p, ' ') + 1;
	size_t n = strcspn(p, " ");
	cr_assert_lt(n, cap);
	memcpy(out, p, n);
	out[n] = 0;
}

/* The value of key in a line, into out. */
static const char *field(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];

	snprintf(pat, sizeof pat, " %s=", key);
	const char *p = strstr(line, pat);
	cr_assert_not_null(p, "no %s= in: %s", key, line);
	p += strlen(pat);
	size_t n = strcspn(p, " ");
	cr_assert_lt(n, cap);
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

/* An exact decimal field. */
static int64_t decimal(const char *line, const char *key)
{
	char v[64];
	int64_t x;

	field(line, key, v, sizeof v);
	cr_assert_eq(tr_fixed_parse(v, strlen(v), &x), TR_FIXED_OK, "%s=%s is not exact: %s", key,
		     v, line);
	return x;
}

static double number(const char *line, const char *key)
{
	char v[64], *end;

	field(line, key, v, sizeof v);
	double x = strtod(v, &end);
	cr_assert(end != v && !*end, "%s=%s is not a number", key, v);
	return x;
}

/* Check a snapshot: the summary line, then one line per symbol in order.
 * Fills sym_line[i] for want[i]. */
static void check_snapshot(char *out, const char *const *want, int nwant, char **sym_line,
			   char **summary)
{
	char *line[64], who[64], v[64];
	int n = split(out, line, 64);

	cr_assert_eq(n, nwant + 1, "%d lines, want a summary and %d symbols", n, nwant);
	subject(line[0], who, sizeof who);
	cr_assert_str_eq(who, "-", "the summary comes first: %s", line[0]);
	cr_assert_eq(number(line[0], "symbols"), nwant);
	field(line[0], "instance", v, sizeof v);
	*summary = line[0];
	for (int i = 0; i < nwant; i++) {
		subject(line[i + 1], who, sizeof who);
		cr_assert_str_eq(who, want[i], "rows sorted by symbol: %s", line[i + 1]);
		cr_assert_str_eq(field(line[i + 1], "venue", v, sizeof v), "synth");
		cr_assert_gt(decimal(line[i + 1], "last"), 0);
		sym_line[i] = line[i + 1];
	}
}

/* ---- tests ---- */

TestSuite(top, .fini = tproc_cleanup, .timeout = 120);

Test(top, once_into_a_pipe_prints_a_line_per_symbol_of_a_live_producer)
{
	const char *inst = tproc_instance("top");
	static const char *const syms[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
	pid_t sp = synth_start(inst, "SOLUSDT,BTCUSDT,ETHUSDT", 3);
	const char *argv[] = {tproc_prog("tickring"), "--instance", inst, "top", "--once", NULL};
	struct result r = run(argv);
	char *line[3], *summary, v[64];

	cr_assert_eq(r.status, 0, "top exited %d: %s", r.status, r.err);
	check_snapshot(r.out, syms, 3, line, &summary);
	cr_assert_str_eq(field(summary, "alive", v, sizeof v), "yes");
	cr_assert_gt(number(summary, "trades_ps"), 0);
	cr_assert_gt(number(summary, "quotes_ps"), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_gt(number(line[i], "tps"), 0, "%s", line[i]);
		cr_assert_str_eq(field(line[i], "base", v, sizeof v), "start");
		cr_assert_gt(decimal(line[i], "vol"), 0, "%s", line[i]);
		cr_assert_lt(decimal(line[i], "bid"), decimal(line[i], "ask"), "%s", line[i]);
		decimal(line[i], "chg");
		number(line[i], "chg_pct");
		number(line[i], "lag_ms");
		number(line[i], "feed_ms");
	}
	synth_stop(sp);
	result_free(&r);
}

Test(top, once_on_a_stopped_engine_shows_exactly_its_latest_values)
{
	const char *inst = tproc_instance("top");
	static const char *const syms[] = {"BTCUSDT", "ETHUSDT"};
	pid_t sp = synth_start(inst, "ETHUSDT,BTCUSDT", 2);

	synth_stop(sp); /* the region stays, still: top must show what it holds */
	const char *argv[] = {tproc_prog("tickring"), "--instance", inst,     "top",
			      "--interval-ms",	      "200",	    "--once", NULL};
	struct result r = run(argv);
	char *line[2], *summary, v[64];
	struct tr_region *reg;

	cr_assert_eq(r.status, 0, "top exited %d: %s", r.status, r.err);
	check_snapshot(r.out, syms, 2, line, &summary);
	cr_assert_str_eq(field(summary, "alive", v, sizeof v), "no");
	cr_assert_eq(number(summary, "trades_ps"), 0);
	cr_assert_eq(tr_region_open(&reg, inst, TR_OPEN_ANY_STATE | TR_OPEN_NO_CTL), 0, "%s",
		     tr_errmsg());
	for (int i = 0; i < 2; i++) {
		int id = tr_symbol_find(reg, NULL, syms[i]);
		struct tr_trade t;
		struct tr_quote q;

		cr_assert_geq(id, 0);
		cr_assert_eq(tr_latest_trade(reg, (uint32_t)id, &t), 0);
		cr_assert_eq(tr_latest_quote(reg, (uint32_t)id, &q), 0);
		cr_assert_eq(decimal(line[i], "last"), t.price, "%s", line[i]);
		cr_assert_eq(decimal(line[i], "bid"), q.bid_px, "%s", line[i]);
		cr_assert_eq(decimal(line[i], "ask"), q.ask_px, "%s", line[i]);
		cr_assert_eq(decimal(line[i], "spread"), q.ask_px - q.bid_px);
		/* Nothing traded while top looked: no change, volume or rate. */
		cr_assert_eq(decimal(line[i], "chg"), 0, "%s", line[i]);
		cr_assert_eq(decimal(line[i], "vol"), 0, "%s", line[i]);
		cr_assert_eq(number(line[i], "tps"), 0, "%s", line[i]);
		cr_assert_geq(number(line[i], "lag_ms"), 0, "%s", line[i]);
	}
	tr_region_close(reg);
	result_free(&r);
}

Test(top, symbols_option_shows_only_those_symbols)
{
	const char *inst = tproc_instance("top");
	static const char *const syms[] = {"ETHUSDT"};
	pid_t sp = synth_start(inst, "BTCUSDT,ETHUSDT,SOLUSDT", 3);

	synth_stop(sp);
	const char *argv[] = {
	    tproc_prog("tickring"), "--instance", inst,	       "top",	       "--once",
	    "--interval-ms",	    "100",	  "--symbols", "ethusdt,NOPE", NULL};
	struct result r = run(argv);
	char *line[1], *summary;

	cr_assert_eq(r.status, 0, "top exited %d: %s", r.status, r.err);
	check_snapshot(r.out, syms, 1, line, &summary);
	result_free(&r);
}

Test(top, exits_1_when_the_region_cannot_be_opened)
{
	const char *inst = tproc_instance("top"); /* unlinked: nothing there */
	const char *argv[] = {tproc_prog("tickring"), "--instance", inst, "top", "--once", NULL};
	struct result r = run(argv);

	cr_assert_eq(r.status, 1, "top exited %d", r.status);
	cr_assert(strstr(r.err, "tickring: ") && strstr(r.err, inst), "stderr: %s", r.err);
	cr_assert_str_eq(r.out, "");
	result_free(&r);
}

Test(top, rejects_a_bad_interval_with_a_usage_error)
{
	const char *argv[] = {tproc_prog("tickring"), "top", "--interval-ms", "0", "--once", NULL};
	struct result r = run(argv);

	cr_assert_eq(r.status, 2, "top exited %d", r.status);
	cr_assert(strstr(r.err, "interval"), "stderr: %s", r.err);
	result_free(&r);
}

Test(top, on_a_terminal_redraws_in_place_and_restores_it_on_sigterm)
{
	const char *inst = tproc_instance("top");
	pid_t sp = synth_start(inst, "BTCUSDT,ETHUSDT", 2);
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	cr_assert_geq(m, 0, "posix_openpt: %s", strerror(errno));
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	cr_assert_geq(s, 0, "%s: %s", ptsname(m), strerror(errno));
	struct winsize ws = {.ws_row = 30, .ws_col = 60}; /* narrower than the table */
	cr_assert_eq(ioctl(s, TIOCSWINSZ, &ws), 0);

	const char *argv[] = {tproc_prog("tickring"), "--instance", inst, "top",
			      "--interval-ms",	      "100",	    NULL};
	pid_t tp = spawn(argv, s, tproc_tmpfile("top"));
	char *out = NULL;
	size_t len = 0, cap = 0;
	int frames = 0;

	/* Two whole frames, each ending with erase-below, then stop it. */
	while (frames < 2) {
		cr_assert_gt(drain(m, &out, &len, &cap), 0, "top closed the terminal: %s", out);
		frames = 0;
		for (const char *p = out; (p = strstr(p, "\033[J")); p++)
			frames++;
	}
	kill(tp, SIGTERM);
	while (drain(m, &out, &len, &cap) != 0)
		;
	close(m);
	cr_assert_eq(tproc_reap(tp), 0, "top exited badly on SIGTERM");
	synth_stop(sp);

	cr_assert(!strncmp(out, "\033[?1049h", 8), "enters the alternate screen");
	cr_assert(strstr(out, "SYMBOL") && strstr(out, "BTCUSDT") && strstr(out, "ETHUSDT"));
	cr_assert(strstr(out, "\033[H"), "redraws from home");
	const char *restore = "\033[?25h\033[?1049l";
	cr_assert_geq(len, strlen(restore));
	cr_assert_str_eq(out + len - strlen(restore), restore,
			 "shows the cursor and leaves the alternate screen last");
	/* Lines are cut at the terminal's width, so nothing wraps. */
	size_t w = 0;
	for (const char *p = out; *p; p++) {
		if (*p == '\033' && p[1] == '[') { /* CSI: parameters, then a final byte */
			for (p += 2; *p && (*p < 0x40 || *p > 0x7e); p++)
				;
			if (!*p)
				break;
			if (*p == 'H')
				w = 0; /* cursor home */
		} else if (*p == '\r' || *p == '\n') {
			w = 0;
		} else {
			cr_assert_leq(++w, 60u, "a line wider than the terminal: %.80s", p - w + 1);
		}
	}
	free(out);
}

/* The engine's analytics: tickringd replays both recorded symbols, then top
 * shows each symbol's 1 h change, RSI and SMA from the latest table and a
 * movers line in the table's order. */
Test(top, shows_the_engines_indicators_and_movers)
{
	const char *inst = tproc_instance("topan");
	char d[4][600], v[64];
	const char *files[4] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz", "ethusdt_20240808.gz",
				"ethusdt_20240809.gz"};
	const char *root = getenv("TR_ROOT");

	for (int i = 0; i < 4; i++)
		snprintf(d[i], sizeof d[i], "%s/../shared/data/binance-spot/%s", root ? root : ".",
			 files[i]);
	const char *eng[] = {tproc_prog("tickringd"),
			     "--instance",
			     inst,
			     "--ring-slots",
			     "262144",
			     "--candle-intervals",
			     "1s,1m",
			     "--indicator-sma",
			     "10",
			     "--dead-letter",
			     "/dev/null",
			     "--replay",
			     d[0],
			     d[1],
			     d[2],
			     d[3],
			     NULL};
	struct result e = run(eng);
	cr_assert_eq(e.status, 0, "tickringd exited %d: %s", e.status, e.err);
	result_free(&e);
	const char *argv[] = {tproc_prog("tickring"), "--instance", inst,	    "top", "--once",
			      "--interval-ms",	      "100",	    "--indicators", "1s",  NULL};
	struct result r = run(argv);
	cr_assert_eq(r.status, 0, "top exited %d: %s", r.status, r.err);
	char *line[8];
	int n = split(r.out, line, 8);
	cr_assert_eq(n, 4, "summary, two symbols, movers: %d lines", n);
	struct tr_region *reg;
	cr_assert_eq(tr_region_open(&reg, inst, TR_OPEN_ANY_STATE | TR_OPEN_NO_CTL), 0, "%s",
		     tr_errmsg());
	for (int i = 1; i <= 2; i++) {
		char who[64];
		subject(line[i], who, sizeof who);
		int id = tr_symbol_find(reg, NULL, who);
		struct tr_indicators ind;
		struct tr_sym_analytics an;

		cr_assert_geq(id, 0);
		cr_assert_eq(tr_latest_indicators(reg, (uint32_t)id, 0, &ind), 0);
		cr_assert_eq(tr_latest_analytics(reg, (uint32_t)id, &an), 0);
		cr_assert_eq(decimal(line[i], "sma"), ind.sma[0], "%s", line[i]);
		snprintf(v, sizeof v, "%.2f", (double)ind.rsi / 1e8);
		char got[64];
		cr_assert_str_eq(field(line[i], "rsi", got, sizeof got), v, "%s", line[i]);
		snprintf(v, sizeof v, "%.4f", (double)an.change_pct_1h / 1e8);
		cr_assert_str_eq(field(line[i], "chg_pct_1h", got, sizeof got), v, "%s", line[i]);
		cr_assert_str_eq(field(line[i], "stale", got, sizeof got), "no");
	}
	struct tr_movers mv;
	cr_assert_eq(tr_movers(reg, &mv), 0);
	char who[64], want[256], got[256];
	subject(line[3], who, sizeof who);
	cr_assert_str_eq(who, "-");
	cr_assert_not_null(strstr(line[3], " movers "), "%s", line[3]);
	struct tr_symbol s0, s1;
	tr_symbol_get(reg, mv.list[TR_MOVERS_GAIN_24H][0].symbol_id, &s0);
	tr_symbol_get(reg, mv.list[TR_MOVERS_GAIN_24H][1].symbol_id, &s1);
	snprintf(want, sizeof want, "%s:%.4f,%s:%.4f", s0.name,
		 (double)mv.list[TR_MOVERS_GAIN_24H][0].change_pct / 1e8, s1.name,
		 (double)mv.list[TR_MOVERS_GAIN_24H][1].change_pct / 1e8);
	cr_assert_str_eq(field(line[3], "gain_24h", got, sizeof got), want);
	cr_assert_geq(mv.list[TR_MOVERS_GAIN_24H][0].change_pct,
		      mv.list[TR_MOVERS_GAIN_24H][1].change_pct, "gainers first");
	tr_region_close(reg);
	tr_writer_unlink(NULL, inst);
	result_free(&r);
}
