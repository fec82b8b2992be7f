/* test_cli.c - the user-facing pieces: tr_format, `tickring` and tr-synth.
 *
 * Unit tests pin the JSON schema against hand-written strings, since Kafka,
 * Redis and HTTP consumers will parse exactly these bytes. End-to-end tests
 * run the real programs from $TR_BUILD as processes: tr-synth fills a unique
 * instance and `tickring tail`/`stat` read it; their output is parsed back
 * and checked for contiguity and exact decimals. No timing is asserted; the
 * waits are bounded by each test's timeout.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_reader.h"
#include "tr_writer.h"

#include "tproc.h"

/* ---- processes ---- */

/* Start argv with stdout and stderr into files; the child dies with us. */
static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)argv); /* execv does not write them */
		_exit(127);
	}
	tproc_track(pid);
	return pid;
}

/* Whether the file exists and holds a whole line yet. */
static int has_line(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, found = 0;

	if (!f)
		return 0;
	while ((c = getc(f)) != EOF && !(found = c == '\n'))
		;
	fclose(f);
	return found;
}

struct result {
	int status;
	char *out, *err;
};

static struct result run(const char *const argv[])
{
	const char *o = tproc_tmpfile("cli"), *e = tproc_tmpfile("cli");
	struct result r;

	r.status = tproc_reap(spawn(argv, o, e));
	r.out = tproc_slurp(o);
	r.err = tproc_slurp(e);
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Wait until the instance's engine is alive (the test timeout bounds it). */
static void wait_alive(const char *inst)
{
	struct tr_region *r;

	while (tr_region_open(&r, inst, TR_OPEN_NO_CTL) < 0)
		sleep_ms(5);
	tr_region_close(r);
}

/* Run tr-synth to completion with extra arguments. */
static void synth_run(const char *inst, const char *count, const char *symbols, const char *kinds)
{
	const char *argv[] = {tproc_prog("tr-synth"),
			      "--instance",
			      inst,
			      "--rate",
			      "max",
			      "--count",
			      count,
			      "--symbols",
			      symbols,
			      "--kinds",
			      kinds,
			      "--seed",
			      "7",
			      NULL};
	struct result r = run(argv);

	cr_assert_eq(r.status, 0, "tr-synth failed (%d): %s", r.status, r.err);
	cr_assert(strstr(r.err, "trades"), "tr-synth prints a summary: %s", r.err);
	result_free(&r);
}

/* ---- a minimal JSON reader for flat objects (what tail --json prints) ---- */

struct jv {
	char key[40];
	char type;     /* s string, n number, b bool, z null, a array of strings */
	char str[256]; /* string value, number text, or array items joined by ',' */
};

struct jobj {
	struct jv f[48];
	int n;
};

static const char *jstring(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		char c = *p++;

		if ((unsigned char)c < 0x20)
			return NULL; /* control characters must be escaped */
		if (c == '\\') {
			c = *p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++)
					if (!strchr("0123456789abcdefABCDEF", *p++))
						return NULL;
				c = '?';
			} else if (c == 'n' || c == 't' || c == 'r') {
				c = ' ';
			} else if (c != '"' && c != '\\' && c != '/') {
				return NULL;
			}
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
	out[n] = 0;
	return *p == '"' ? p + 1 : NULL;
}

static int jparse(const char *p, struct jobj *o)
{
	o->n = 0;
	if (*p++ != '{')
		return -1;
	while (*p != '}') {
		if (o->n == 48)
			return -1;
		struct jv *v = &o->f[o->n++];

		if (!(p = jstring(p, v->key, sizeof v->key)) || *p++ != ':')
			return -1;
		if (*p == '"') {
			v->type = 's';
			p = jstring(p, v->str, sizeof v->str);
		} else if (*p == '[') {
			size_t n = 0;
			char item[64];

			v->type = 'a';
			v->str[0] = 0;
			for (p++; p && *p != ']';) {
				if (!(p = jstring(p, item, sizeof item)))
					return -1;
				n += (size_t)snprintf(v->str + n, sizeof v->str - n, "%s%s",
						      n ? "," : "", item);
				if (*p == ',')
					p++;
			}
			p = p ? p + 1 : NULL;
		} else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
			v->type = *p == 't' ? 'b' : 'z';
			snprintf(v->str, sizeof v->str, "%.4s", p);
			p += 4;
		} else if (!strncmp(p, "false", 5)) {
			v->type = 'b';
			snprintf(v->str, sizeof v->str, "false");
			p += 5;
		} else {
			size_t n = strspn(p, "-0123456789");

			if (!n || n >= sizeof v->str)
				return -1;
			v->type = 'n';
			memcpy(v->str, p, n);
			v->str[n] = 0;
			p += n;
		}
		if (!p)
			return -1;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return -1;
	}
	return p[1] == 0 ? 0 : -1;
}

static const struct jv *jget(const struct jobj *o, const char *key, char type)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->f[i].key, key)) {
			cr_assert_eq(o->f[i].type, type, "field %s has type %c, want %c", key,
				     o->f[i].type, type);
			return &o->f[i];
		}
	cr_assert_fail("field %s missing", key);
	return NULL;
}

static unsigned long long jnum(const struct jobj *o, const char *key)
{
	return strtoull(jget(o, key, 'n')->str, NULL, 10);
}

/* A price or quantity: a decimal string that parses exactly and formats back
 * to itself. */
static int64_t jdecimal(const struct jobj *o, const char *key)
{
	const char *s = jget(o, key, 's')->str;
	char back[TR_FIXED_BUFSZ];
	int64_t v;

	cr_assert_eq(tr_fixed_parse(s, strlen(s), &v), TR_FIXED_OK, "%s \"%s\" is not exact", key,
		     s);
	tr_fixed_format(v, back);
	cr_assert_str_eq(back, s, "%s does not round trip", key);
	return v;
}

/* Split output into lines (in place); returns the count. */
static int lines(char *out, char **line, int max)
{
	int n = 0;

	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		cr_assert_lt(n, max, "more lines than expected");
		line[n++] = l;
	}
	return n;
}

/* Check a tail --json trades output; returns the line count. */
static int check_trades(char *out, int want, const char *only_symbol)
{
	static char *line[4096];
	int n = lines(out, line, 4096);
	uint64_t next_id[3] = {0, 0, 0};
	unsigned long long prev_seq = 0;

	cr_assert_eq(n, want, "%d lines, want %d", n, want);
	for (int i = 0; i < n; i++) {
		struct jobj o;

		cr_assert_eq(jparse(line[i], &o), 0, "not a flat JSON object: %s", line[i]);
		cr_assert_str_eq(jget(&o, "type", 's')->str, "trade");
		cr_assert_str_eq(jget(&o, "venue", 's')->str, "synth");
		const char *sym = jget(&o, "symbol", 's')->str;
		unsigned long long seq = jnum(&o, "seq");
		if (!only_symbol)
			cr_assert(i == 0 || seq == prev_seq + 1, "seq %llu after %llu", seq,
				  prev_seq);
		else
			cr_assert_str_eq(sym, only_symbol);
		cr_assert_gt(seq, prev_seq);
		prev_seq = seq;
		cr_assert_geq(jnum(&o, "epoch"), 1);
		cr_assert_gt(jnum(&o, "ts_event"), 0);
		cr_assert_geq(jnum(&o, "ts_recv"), jnum(&o, "ts_event"));
		cr_assert_gt(jdecimal(&o, "price"), 0);
		cr_assert_gt(jdecimal(&o, "qty"), 0);
		const char *side = jget(&o, "side", 's')->str;
		cr_assert(!strcmp(side, "buy") || !strcmp(side, "sell"), "side %s", side);
		cr_assert_eq(jnum(&o, "trade_count"), 1);
		cr_assert_str_eq(jget(&o, "flags", 'a')->str, "");
		/* Trade ids are contiguous per symbol. */
		int k = !strcmp(sym, "BTCUSDT") ? 0 : !strcmp(sym, "ETHUSDT") ? 1 : 2;
		uint64_t id = jnum(&o, "trade_id");
		cr_assert(!next_id[k] || id == next_id[k], "%s trade id %llu, want %llu", sym,
			  (unsigned long long)id, (unsigned long long)next_id[k]);
		next_id[k] = id + 1;
	}
	return n;
}

/* ---- end to end ---- */

TestSuite(cli, .fini = tproc_cleanup, .timeout = 120);

Test(cli, tail_json_from_oldest_prints_every_record_exactly)
{
	const char *inst = tproc_instance("cli");

	synth_run(inst, "500", "BTCUSDT,ETHUSDT", "trades,quotes,candles,events");
	const char *argv[] = {tproc_prog("tickring"),
			      "--instance",
			      inst,
			      "tail",
			      "--json",
			      "--from",
			      "oldest",
			      "--count",
			      "500",
			      NULL};
	struct result r = run(argv);

	cr_assert_eq(r.status, 0, "tail exited %d: %s", r.status, r.err);
	check_trades(r.out, 500, NULL);
	result_free(&r);
}

Test(cli, tail_follows_a_live_producer_and_exits_0_on_sigterm)
{
	const char *inst = tproc_instance("cli");
	const char *synth[] = {
	    tproc_prog("tr-synth"), "-i", inst, "--rate", "2000", "--count", "100000000", NULL};
	pid_t sp = spawn(synth, tproc_tmpfile("cli"), tproc_tmpfile("cli"));

	wait_alive(inst);
	/* From the tail: only records published after it joined, seq contiguous. */
	const char *tail[] = {
	    tproc_prog("tickring"), "-i", inst, "tail", "--json", "--count", "200", NULL};
	struct result r = run(tail);
	cr_assert_eq(r.status, 0, "tail exited %d: %s", r.status, r.err);
	check_trades(r.out, 200, NULL);
	result_free(&r);

	/* An endless tail stops cleanly on SIGTERM once it has printed. */
	const char *out = tproc_tmpfile("cli");
	const char *endless[] = {tproc_prog("tickring"), "-i", inst, "tail", NULL};
	pid_t tp = spawn(endless, out, tproc_tmpfile("cli"));
	while (!has_line(out))
		sleep_ms(10);
	kill(tp, SIGTERM);
	cr_assert_eq(tproc_reap(tp), 0, "tail exits 0 on SIGTERM");
	char *s = tproc_slurp(out);
	cr_assert(strstr(s, "synth:") && strstr(s, " trade "), "text lines: %s", s);
	free(s);
	kill(sp, SIGTERM);
	cr_assert_eq(tproc_reap(sp), 0, "tr-synth exits 0 on SIGTERM");
}

Test(cli, tail_symbol_filter_keeps_only_that_symbol)
{
	const char *inst = tproc_instance("cli");

	synth_run(inst, "600", "BTCUSDT,ETHUSDT,SOLUSDT", "trades");
	const char *argv[] = {tproc_prog("tickring"),
			      "-i",
			      inst,
			      "tail",
			      "--json",
			      "--from",
			      "oldest",
			      "--symbol",
			      "ethusdt",
			      "--count",
			      "60",
			      NULL};
	struct result r = run(argv);

	cr_assert_eq(r.status, 0, "tail exited %d: %s", r.status, r.err);
	check_trades(r.out, 60, "ETHUSDT");
	result_free(&r);
}

Test(cli, tail_prints_candles_and_events_in_the_schema)
{
	const char *inst = tproc_instance("cli");
	struct jobj o;

	synth_run(inst, "300", "BTCUSDT", "trades,candles,events");
	const char *ev[] = {tproc_prog("tickring"),
			    "-i",
			    inst,
			    "tail",
			    "--kind",
			    "events",
			    "--json",
			    "--from",
			    "oldest",
			    "--count",
			    "1",
			    NULL};
	struct result r = run(ev);
	cr_assert_eq(r.status, 0, "%s", r.err);
	*strchr(r.out, '\n') = 0;
	cr_assert_eq(jparse(r.out, &o), 0, "%s", r.out);
	cr_assert_str_eq(jget(&o, "type", 's')->str, "event");
	cr_assert_str_eq(jget(&o, "event", 's')->str, "engine_start");
	cr_assert_str_eq(jget(&o, "severity", 's')->str, "info");
	jget(&o, "symbol", 'z');
	cr_assert_eq(jnum(&o, "seq"), 1);
	cr_assert(strstr(jget(&o, "text", 's')->str, "tr-synth"));
	result_free(&r);

	const char *cd[] = {tproc_prog("tickring"),
			    "-i",
			    inst,
			    "tail",
			    "--kind",
			    "candles",
			    "--interval",
			    "1s",
			    "--json",
			    "--from",
			    "oldest",
			    "--count",
			    "1",
			    NULL};
	r = run(cd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	*strchr(r.out, '\n') = 0;
	cr_assert_eq(jparse(r.out, &o), 0, "%s", r.out);
	cr_assert_str_eq(jget(&o, "type", 's')->str, "candle");
	cr_assert_str_eq(jget(&o, "symbol", 's')->str, "BTCUSDT");
	cr_assert_str_eq(jget(&o, "interval", 's')->str, "1s");
	cr_assert_eq(jnum(&o, "close_time"), jnum(&o, "open_time") + 999000000ull);
	cr_assert_leq(jdecimal(&o, "low"), jdecimal(&o, "high"));
	jdecimal(&o, "vwap");
	jget(&o, "final", 'b');
	result_free(&r);
}

Test(cli, stat_shows_rings_and_exits_by_liveness)
{
	const char *inst = tproc_instance("cli");
	const char *synth[] = {tproc_prog("tr-synth"),
			       "-i",
			       inst,
			       "--slots",
			       "4096",
			       "--rate",
			       "500",
			       "--count",
			       "100000000",
			       NULL};
	pid_t sp = spawn(synth, tproc_tmpfile("cli"), tproc_tmpfile("cli"));

	wait_alive(inst);
	const char *st[] = {tproc_prog("tickring"), "-i", inst, "stat", NULL};
	struct result r = run(st);
	cr_assert_eq(r.status, 0, "stat while running exits 0: %s", r.err);
	cr_assert(strstr(r.out, "liveness   alive"), "%s", r.out);
	cr_assert(strstr(r.out, "trades") && strstr(r.out, "events"), "%s", r.out);
	cr_assert(strstr(r.out, " 4096 "), "ring capacity shown: %s", r.out);
	cr_assert(strstr(r.out, "venues     synth"), "%s", r.out);
	result_free(&r);

	const char *sj[] = {tproc_prog("tickring"), "-i", inst, "stat", "--json", NULL};
	r = run(sj);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "{\"kind\":\"trades\",\"capacity\":4096,\"slot_size\":64,"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "\"alive\":true"), "%s", r.out);
	result_free(&r);

	kill(sp, SIGTERM);
	cr_assert_eq(tproc_reap(sp), 0);
	r = run(st);
	cr_assert_eq(r.status, 1, "stat after the engine stopped exits 1");
	cr_assert(strstr(r.err, "not alive") && strstr(r.err, "stopped"), "%s", r.err);
	cr_assert(strstr(r.out, " 4096 "), "still describes the region: %s", r.out);
	result_free(&r);
}

Test(cli, missing_instance_fails_with_a_clear_message)
{
	const char *inst = tproc_instance("cli"); /* unlinked, never created */
	const char *tail[] = {tproc_prog("tickring"), "--instance", inst, "tail", NULL};
	struct result r = run(tail);

	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
	cr_assert(!strncmp(r.err, "tickring: /dev/shm/tickring.cli-", 32), "%s", r.err);
	cr_assert(strstr(r.err, "no region"), "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err), "one line: %s", r.err);
	result_free(&r);

	const char *st[] = {tproc_prog("tickring"), "--instance", inst, "stat", NULL};
	r = run(st);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "no region"), "%s", r.err);
	result_free(&r);
}

Test(cli, help_and_usage_errors)
{
	const char *h1[] = {tproc_prog("tickring"), "--help", NULL};
	const char *h2[] = {tproc_prog("tickring"), "tail", "--help", NULL};
	const char *h3[] = {tproc_prog("tickring"), "stat", "--help", NULL};
	const char *h4[] = {tproc_prog("tr-synth"), "--help", NULL};
	const char *bad1[] = {tproc_prog("tickring"), "frobnicate", NULL};
	const char *bad2[] = {tproc_prog("tickring"), "tail", "--kind", "nope", NULL};
	const char *bad3[] = {tproc_prog("tickring"), "tail", "--interval", "1m", NULL};
	const char *const *ok[] = {h1, h2, h3, h4};
	const char *const *bad[] = {bad1, bad2, bad3};

	for (int i = 0; i < 4; i++) {
		struct result r = run(ok[i]);

		cr_assert_eq(r.status, 0, "%s %s", ok[i][1], r.err);
		cr_assert(strstr(r.out, "usage:"), "%s", r.out);
		result_free(&r);
	}
	for (int i = 0; i < 3; i++) {
		struct result r = run(bad[i]);

		cr_assert_eq(r.status, 2, "usage error exits 2: %s", r.err);
		cr_assert_neq(r.err[0], 0);
		result_free(&r);
	}
}

/* ---- tr_format: the schema, byte for byte ---- */

static struct tr_writer *fw;
static struct tr_region *fr;

/* A region with venues "binance" and "synth", symbols BTCUSDT (id 0) and
 * the hostile name A"B\C (id 1). */
static void format_region(void)
{
	struct tr_writer_config cfg;
	const char *inst = tproc_instance("cli");

	tr_writer_config_default(&cfg);
	cfg.instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = 2;
	cfg.geometry.symbol_capacity = 4;
	cr_assert_eq(tr_writer_open(&fw, &cfg), 0, "%s", tr_errmsg());
	cr_assert_eq(tr_writer_venue(fw, "binance"), 0);
	cr_assert_eq(tr_writer_venue(fw, "synth"), 1);
	cr_assert_eq(tr_writer_symbol(fw, 0, "BTCUSDT"), 0);
	cr_assert_eq(tr_writer_symbol(fw, 1, "A\"B\\C"), 1);
	cr_assert_eq(tr_region_open(&fr, inst, 0), 0, "%s", tr_errmsg());
}

static void format_done(void)
{
	tr_region_close(fr);
	tr_writer_close(fw);
	tproc_cleanup();
}

static void expect_json(unsigned kind, const void *rec, const char *want)
{
	char buf[TR_FORMAT_BUFSZ];
	int n = tr_format_json(fr, kind, rec, 3, buf, sizeof buf);

	cr_assert_eq(n, (int)strlen(want), "length %d, want %zu:\n%s\n%s", n, strlen(want), buf,
		     want);
	cr_assert_str_eq(buf, want);
}

Test(cli, format_trade_json, .init = format_region, .fini = format_done)
{
	struct tr_trade t = {.seq = 42,
			     .ts_event = 1714564800123000000,
			     .ts_recv = 1714564800123456789,
			     .price = 6183763000000,
			     .qty = 100000,
			     .trade_id = 3600000001,
			     .symbol_id = 0,
			     .venue_id = 0,
			     .side = TR_SIDE_SELL,
			     .flags = TR_TRADE_AGG | TR_TRADE_GAP | (1u << 9),
			     .trade_count = 3};

	expect_json(TR_KIND_TRADE, &t,
		    "{\"type\":\"trade\",\"venue\":\"binance\",\"symbol\":\"BTCUSDT\",\"seq\":42,"
		    "\"epoch\":3,\"ts_event\":1714564800123000000,\"ts_recv\":1714564800123456789,"
		    "\"price\":\"61837.63\",\"qty\":\"0.001\",\"trade_id\":3600000001,"
		    "\"side\":\"sell\",\"trade_count\":3,\"flags\":[\"agg\",\"gap\",\"bit9\"]}");
	/* Unknown ids: venue "?" and symbol "#<id>"; and no region at all. */
	t.symbol_id = 77;
	t.venue_id = 9;
	t.side = 7;
	t.flags = 0;
	t.price = -1;
	expect_json(TR_KIND_TRADE, &t,
		    "{\"type\":\"trade\",\"venue\":\"?\",\"symbol\":\"#77\",\"seq\":42,"
		    "\"epoch\":3,\"ts_event\":1714564800123000000,\"ts_recv\":1714564800123456789,"
		    "\"price\":\"-0.00000001\",\"qty\":\"0.001\",\"trade_id\":3600000001,"
		    "\"side\":\"unknown\",\"trade_count\":3,\"flags\":[]}");
	char a[TR_FORMAT_BUFSZ], b[TR_FORMAT_BUFSZ];
	tr_format_json(fr, TR_KIND_TRADE, &t, 3, a, sizeof a);
	tr_format_json(NULL, TR_KIND_TRADE, &t, 3, b, sizeof b);
	cr_assert_str_eq(a, b);
}

Test(cli, format_quote_json_escapes_hostile_names, .init = format_region, .fini = format_done)
{
	struct tr_quote q = {.seq = 7,
			     .ts_event = 0,
			     .ts_recv = 1714564800000000001,
			     .bid_px = 265110000000,
			     .bid_qty = 150000000,
			     .ask_px = 265111000000,
			     .ask_qty = 1,
			     .symbol_id = 1,
			     .venue_id = 1,
			     .flags = TR_QUOTE_GAP | TR_QUOTE_REPLAY};

	expect_json(TR_KIND_QUOTE, &q,
		    "{\"type\":\"quote\",\"venue\":\"synth\",\"symbol\":\"A\\\"B\\\\C\",\"seq\":7,"
		    "\"epoch\":3,\"ts_event\":0,\"ts_recv\":1714564800000000001,"
		    "\"bid_px\":\"2651.1\",\"bid_qty\":\"1.5\",\"ask_px\":\"2651.11\","
		    "\"ask_qty\":\"0.00000001\",\"flags\":[\"gap\",\"replay\"]}");
}

Test(cli, format_candle_json, .init = format_region, .fini = format_done)
{
	struct tr_candle c = {.seq = 5,
			      .open_time = 1714564800000000000,
			      .open = 6000000000000,
			      .high = 6010050000000,
			      .low = 5990000000000,
			      .close = 6005000000000,
			      .volume = 1234567890,
			      .quote_volume = 741000000000000,
			      .taker_buy_volume = 600000000,
			      .taker_buy_quote_volume = 360000000000000,
			      .vwap = 6002000000000,
			      .first_trade_id = 100,
			      .last_trade_id = 180,
			      .ts_update = 1714564859999000000,
			      .trade_count = 81,
			      .symbol_id = 0,
			      .interval_s = 60,
			      .venue_id = 0,
			      .flags = TR_CANDLE_FINAL | TR_CANDLE_GAP,
			      .revision = 2};

	expect_json(TR_KIND_CANDLE, &c,
		    "{\"type\":\"candle\",\"venue\":\"binance\",\"symbol\":\"BTCUSDT\",\"seq\":5,"
		    "\"epoch\":3,\"interval\":\"1m\",\"open_time\":1714564800000000000,"
		    "\"close_time\":1714564859999000000,\"open\":\"60000\",\"high\":\"60100.5\","
		    "\"low\":\"59900\",\"close\":\"60050\",\"volume\":\"12.3456789\","
		    "\"quote_volume\":\"7410000\",\"trade_count\":81,\"taker_buy_volume\":\"6\","
		    "\"taker_buy_quote_volume\":\"3600000\",\"vwap\":\"60020\","
		    "\"first_trade_id\":100,\"last_trade_id\":180,"
		    "\"ts_update\":1714564859999000000,\"final\":true,\"revision\":2,"
		    "\"flags\":[\"gap\"]}");
	c.interval_s = 90;
	c.flags = TR_CANDLE_EMPTY | TR_CANDLE_OVERFLOW;
	c.revision = 0;
	char buf[TR_FORMAT_BUFSZ];
	cr_assert_gt(tr_format_json(fr, TR_KIND_CANDLE, &c, 3, buf, sizeof buf), 0);
	cr_assert(strstr(buf, "\"interval\":\"90s\",\"open_time\":1714564800000000000,"
			      "\"close_time\":1714564889999000000,"),
		  "%s", buf);
	cr_assert(strstr(buf, "\"final\":false,\"revision\":0,\"flags\":[\"empty\",\"overflow\"]}"),
		  "%s", buf);
}

Test(cli, format_event_json_per_type, .init = format_region, .fini = format_done)
{
	struct tr_event e = {.seq = 9,
			     .ts_event = 1714564800000000000,
			     .ts_recv = 1714564800000000500,
			     .type = TR_EV_GAP,
			     .severity = 1,
			     .symbol_id = 0,
			     .venue_id = 0};
	const char *head = "{\"type\":\"event\",\"venue\":\"binance\",\"symbol\":\"BTCUSDT\","
			   "\"seq\":9,\"epoch\":3,";
	char want[1024];

	e.u.gap = (struct tr_ev_gap){.expected_id = 100, .got_id = 105, .missing = 5, .id_kind = 0};
	snprintf(want, sizeof want,
		 "%s\"event\":\"gap\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"warning\",\"expected_id\":100,"
		 "\"got_id\":105,\"missing\":5,\"id_kind\":\"trade\"}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);

	e.type = TR_EV_STALE;
	e.severity = 2;
	e.u.stale =
	    (struct tr_ev_stale){.last_trade_ns = 1714564790000000000, .silent_ns = 10000000000};
	snprintf(want, sizeof want,
		 "%s\"event\":\"stale\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"error\","
		 "\"last_trade_ns\":1714564790000000000,\"silent_ns\":10000000000}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);

	e.type = TR_EV_VOLUME_SPIKE;
	e.severity = 0;
	e.u.spike = (struct tr_ev_spike){.volume = 5000000000,
					 .baseline = 250000000,
					 .score = 2000000000,
					 .open_time = 1714564740000000000,
					 .interval_s = 60};
	snprintf(want, sizeof want,
		 "%s\"event\":\"volume_spike\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"info\",\"volume\":\"50\","
		 "\"baseline\":\"2.5\",\"score\":\"20\",\"open_time\":1714564740000000000,"
		 "\"interval\":\"1m\"}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);

	e.type = TR_EV_PRICE_OUTLIER;
	e.u.outlier = (struct tr_ev_outlier){.price = 7000000000000,
					     .reference = 6000000000000,
					     .deviation = 1250000000,
					     .trade_id = 77};
	snprintf(want, sizeof want,
		 "%s\"event\":\"price_outlier\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"info\",\"price\":\"70000\","
		 "\"reference\":\"60000\",\"deviation\":\"12.5\",\"trade_id\":77}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);

	e.type = TR_EV_LATE_TRADE;
	e.u.late = (struct tr_ev_late){.trade_id = 78,
				       .trade_ts = 1714564799000000000,
				       .lateness_ns = 1500000000,
				       .interval_s = 1};
	snprintf(want, sizeof want,
		 "%s\"event\":\"late_trade\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"info\",\"trade_id\":78,"
		 "\"trade_ts\":1714564799000000000,\"lateness_ns\":1500000000,\"interval\":\"1s\"}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);

	e.type = TR_EV_ALERT;
	memset(&e.u, 0, sizeof e.u);
	e.u.alert.rule_id = 4;
	e.u.alert.rule_kind = 2;
	e.u.alert.value = 6500000000000;
	e.u.alert.threshold = 6400000000000;
	strcpy(e.u.alert.text, "btc > 64k");
	snprintf(want, sizeof want,
		 "%s\"event\":\"alert\",\"ts_event\":1714564800000000000,"
		 "\"ts_recv\":1714564800000000500,\"severity\":\"info\",\"rule_id\":4,"
		 "\"rule_kind\":2,\"rule\":\"change\",\"value\":\"65000\",\"threshold\":\"64000\","
		 "\"text\":\"btc > 64k\"}",
		 head);
	expect_json(TR_KIND_EVENT, &e, want);
}

Test(cli, format_event_text_is_escaped_and_bounded, .init = format_region, .fini = format_done)
{
	struct tr_event e = {.seq = 1,
			     .ts_event = 1,
			     .ts_recv = 2,
			     .type = TR_EV_FEED_DOWN,
			     .severity = 2,
			     .symbol_id = UINT32_MAX,
			     .venue_id = 1};

	/* Quote, backslash, newline, a control byte, valid UTF-8 (é), an invalid
	 * byte, a truncated sequence at the end; and no NUL in the whole field. */
	memset(e.u.text, 'x', sizeof e.u.text);
	memcpy(e.u.text,
	       "a\"b\\c\nd\x01"
	       "e\xc3\xa9"
	       "f\xff"
	       "g",
	       14);
	e.u.text[sizeof e.u.text - 1] = '\xe2';
	char want[512] = "{\"type\":\"event\",\"venue\":\"synth\",\"symbol\":null,\"seq\":1,"
			 "\"epoch\":3,\"event\":\"feed_down\",\"ts_event\":1,\"ts_recv\":2,"
			 "\"severity\":\"error\",\"text\":\"a\\\"b\\\\c\\nd\\u0001e\xc3\xa9"
			 "f\\ufffdg";
	for (size_t i = 14; i < sizeof e.u.text - 1; i++)
		strcat(want, "x");
	strcat(want, "\\ufffd\"}");
	expect_json(TR_KIND_EVENT, &e, want);

	/* Unknown type and severity: named, no payload. */
	e.type = 200;
	e.severity = 9;
	expect_json(TR_KIND_EVENT, &e,
		    "{\"type\":\"event\",\"venue\":\"synth\",\"symbol\":null,\"seq\":1,"
		    "\"epoch\":3,\"event\":\"#200\",\"ts_event\":1,\"ts_recv\":2,"
		    "\"severity\":\"unknown\"}");
}

Test(cli, format_never_writes_past_len, .init = format_region, .fini = format_done)
{
	struct tr_candle c = {.seq = 1,
			      .open_time = 1714564800000000000,
			      .interval_s = 3600,
			      .open = INT64_MIN,
			      .high = INT64_MAX,
			      .symbol_id = 1};
	char full[TR_FORMAT_BUFSZ], buf[TR_FORMAT_BUFSZ + 16];
	int n = tr_format_json(fr, TR_KIND_CANDLE, &c, 3, full, sizeof full);

	cr_assert_gt(n, 0);
	cr_assert(
	    strstr(full, "\"open\":\"-92233720368.54775808\",\"high\":\"92233720368.54775807\""),
	    "%s", full);
	for (size_t len = 0; len <= (size_t)n + 1; len++) {
		memset(buf, '#', sizeof buf);
		int rc = tr_format_json(fr, TR_KIND_CANDLE, &c, 3, buf, len);

		for (size_t i = len; i < sizeof buf; i++)
			cr_assert_eq(buf[i], '#', "byte %zu written with len %zu", i, len);
		if (len <= (size_t)n) {
			cr_assert_eq(rc, -ENOSPC, "len %zu", len);
			if (len)
				cr_assert_eq(strlen(buf), len - 1);
		} else {
			cr_assert_eq(rc, n);
			cr_assert_str_eq(buf, full);
		}
	}
	cr_assert_eq(tr_format_json(fr, 9, &c, 3, full, sizeof full), -EINVAL);
	memset(buf, '#', sizeof buf);
	cr_assert_eq(tr_format_text(fr, TR_KIND_CANDLE, &c, buf, 10), -ENOSPC);
	cr_assert_eq(buf[10], '#');
	cr_assert_eq(strlen(buf), 9);
}

/* The number writers (eight digits at a time, straight into the buffer) and
 * tr_fixed_format() against printf, at every digit count and sign; and every
 * shorter buffer holds a prefix of the same text. */
Test(cli, format_numbers_match_printf_at_every_length, .init = format_region, .fini = format_done)
{
	char buf[TR_FORMAT_BUFSZ], small[TR_FORMAT_BUFSZ], want[128];
	uint64_t x = 0x2545f4914f6cdd1dull;

	for (int round = 0; round < 3000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t u = x >> (x % 64);
		if (round < 63) { /* every power of ten and its neighbours */
			u = 1;
			for (int i = 0; i < round / 3; i++)
				u *= 10;
			u += (uint64_t)(round % 3) - 1;
		} else if (round < 66) {
			u = UINT64_MAX - (uint64_t)(round - 63);
		}
		int64_t v = round & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
		if (round == 66)
			v = INT64_MIN;
		struct tr_trade t = {.seq = u,
				     .ts_event = v,
				     .ts_recv = ~v,
				     .price = v,
				     .qty = (int64_t)(u >> 1),
				     .trade_id = ~u,
				     .side = TR_SIDE_BUY,
				     .trade_count = (uint32_t)u,
				     .flags = (uint32_t)x};
		int n = tr_format_json(fr, TR_KIND_TRADE, &t, u, buf, sizeof buf);
		cr_assert_gt(n, 0);

		snprintf(want, sizeof want, "\"seq\":%llu,\"epoch\":%llu,\"ts_event\":%lld,",
			 (unsigned long long)u, (unsigned long long)u, (long long)v);
		cr_assert(strstr(buf, want), "%s not in %s", want, buf);
		snprintf(want, sizeof want, "\"trade_id\":%llu,", (unsigned long long)~u);
		cr_assert(strstr(buf, want), "%s not in %s", want, buf);
		snprintf(want, sizeof want, "\"trade_count\":%u,", (uint32_t)u);
		cr_assert(strstr(buf, want), "%s not in %s", want, buf);
		/* The price, exactly: integer part, then the eight places without
		 * their trailing zeros (and without the dot when all are zero). */
		uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
		int w = snprintf(want, sizeof want, "\"price\":\"%s%llu.%08llu", v < 0 ? "-" : "",
				 (unsigned long long)(a / 100000000),
				 (unsigned long long)(a % 100000000));
		while (want[w - 1] == '0')
			w--;
		if (want[w - 1] == '.')
			w--;
		strcpy(want + w, "\",");
		cr_assert(strstr(buf, want), "%s not in %s", want, buf);

		if (round % 100)
			continue;
		for (size_t len = 1; len <= (size_t)n; len++) {
			cr_assert_eq(tr_format_json(fr, TR_KIND_TRADE, &t, u, small, len), -ENOSPC);
			cr_assert_eq(strlen(small), len - 1);
			cr_assert_eq(memcmp(small, buf, len - 1), 0, "len %zu: %s", len, small);
		}
	}
}

/* A head made once and reused for other records of the same kind, venue and
 * symbol gives tr_format_json()'s bytes; it is stable only when every name
 * was found in the region. */
Test(cli, format_json_from_a_kept_head_is_the_same, .init = format_region, .fini = format_done)
{
	static const struct {
		uint32_t venue, symbol;
		int region, stable;
	} names[] = {
	    {0, 0, 1, 1},	   /* binance BTCUSDT */
	    {1, 1, 1, 1},	   /* synth, the hostile name */
	    {0, 77, 1, 0},	   /* a symbol the region does not have (yet) */
	    {9, 0, 1, 0},	   /* a venue it does not have */
	    {1, UINT32_MAX, 1, 1}, /* an event about no symbol */
	    {0, 0, 0, 0},	   /* no region: every name unknown */
	};
	char head[512], a[TR_FORMAT_BUFSZ], b[TR_FORMAT_BUFSZ];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
			const struct tr_region *r = names[i].region ? fr : NULL;
			union {
				struct tr_trade t;
				struct tr_quote q;
				struct tr_candle c;
				struct tr_event e;
			} rec;
			int stable = -1;

			if (names[i].symbol == UINT32_MAX && kind != TR_KIND_EVENT)
				continue;
			memset(&rec, 0, sizeof rec);
			if (kind == TR_KIND_TRADE)
				rec.t.symbol_id = names[i].symbol, rec.t.venue_id = names[i].venue;
			else if (kind == TR_KIND_QUOTE)
				rec.q.symbol_id = names[i].symbol, rec.q.venue_id = names[i].venue;
			else if (kind == TR_KIND_CANDLE)
				rec.c.symbol_id = names[i].symbol, rec.c.venue_id = names[i].venue,
				rec.c.interval_s = 60;
			else
				rec.e.symbol_id = names[i].symbol, rec.e.venue_id = names[i].venue,
				rec.e.type = TR_EV_FEED_UP;
			int hl = tr_format_json_head(r, kind, &rec, head, sizeof head, &stable);
			cr_assert_gt(hl, 0);
			cr_assert_eq(stable, names[i].stable, "names %zu kind %u: %s", i, kind,
				     head);
			cr_assert_eq(head[hl - 1], names[i].symbol == UINT32_MAX ? 'l' : '"');
			/* The same head for records that differ in everything else. */
			for (uint64_t seq = 1; seq < 2000; seq += 333) {
				rec.t.seq = seq; /* seq is the first field of every record */
				if (kind == TR_KIND_TRADE)
					rec.t.price = (int64_t)seq * 1000003;
				else if (kind == TR_KIND_QUOTE)
					rec.q.bid_px = (int64_t)seq * 7;
				else if (kind == TR_KIND_CANDLE)
					rec.c.close = (int64_t)seq * 11;
				else
					rec.e.ts_event = (int64_t)seq * 13;
				int n = tr_format_json(r, kind, &rec, seq % 5, a, sizeof a);
				cr_assert_gt(n, 0);
				cr_assert_eq(tr_format_json_with_head(head, (size_t)hl, kind, &rec,
								      seq % 5, b, sizeof b),
					     n);
				cr_assert_str_eq(a, b);
				cr_assert_eq(tr_format_json_with_head(head, (size_t)hl, kind, &rec,
								      seq % 5, b, (size_t)hl),
					     -ENOSPC);
			}
		}
	cr_assert_eq(tr_format_json_with_head("{", 1, 9, a, 0, b, sizeof b), -EINVAL);
}

Test(cli, format_text_lines, .init = format_region, .fini = format_done)
{
	struct tr_trade t = {.seq = 7,
			     .ts_event = 1714564800123456789,
			     .price = 6183763000000,
			     .qty = 100000,
			     .trade_id = 42,
			     .side = TR_SIDE_BUY,
			     .flags = TR_TRADE_REPLAY};
	struct tr_quote q = {.seq = 8,
			     .ts_recv = 1714564800000000000,
			     .bid_px = 100000000,
			     .bid_qty = 200000000,
			     .ask_px = 101000000,
			     .ask_qty = 300000000,
			     .symbol_id = 1,
			     .venue_id = 1};
	char buf[TR_FORMAT_BUFSZ];

	cr_assert_gt(tr_format_text(fr, TR_KIND_TRADE, &t, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "2024-05-01T12:00:00.123456789Z binance:BTCUSDT trade 61837.63 x "
			      "0.001 buy id=42 flags=replay seq=7");
	cr_assert_gt(tr_format_text(fr, TR_KIND_QUOTE, &q, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "2024-05-01T12:00:00.000000000Z synth:A\"B\\C quote 2@1 / 3@1.01 "
			      "seq=8");
}

Test(cli, interval_names_follow_binance)
{
	static const struct {
		uint32_t s;
		const char *name;
	} iv[] = {{1, "1s"},
		  {60, "1m"},
		  {180, "3m"},
		  {300, "5m"},
		  {900, "15m"},
		  {1800, "30m"},
		  {3600, "1h"},
		  {7200, "2h"},
		  {14400, "4h"},
		  {21600, "6h"},
		  {28800, "8h"},
		  {43200, "12h"},
		  {86400, "1d"},
		  {604800, "1w"},
		  {90, "90s"},
		  {0, "0s"},
		  {4294967295u, "4294967295s"}};
	char buf[TR_INTERVAL_BUFSZ];

	for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
		cr_assert_str_eq(tr_interval_name(iv[i].s, buf), iv[i].name);
		if (iv[i].s)
			cr_assert_eq(tr_interval_parse(iv[i].name), iv[i].s, "%s", iv[i].name);
	}
	cr_assert_eq(tr_interval_parse("60"), 60);
	cr_assert_eq(tr_interval_parse("0"), -EINVAL);
	cr_assert_eq(tr_interval_parse("1x"), -EINVAL);
	cr_assert_eq(tr_interval_parse("m"), -EINVAL);
	cr_assert_eq(tr_interval_parse("1mm"), -EINVAL);
	cr_assert_eq(tr_interval_parse("99999999999"), -EINVAL);
	cr_assert_eq(tr_interval_parse("10000w"), -EINVAL);
}
