/* test_python.c - the pure-stdlib Python reader (clients/python/tickring.py)
 * end to end. Each test builds a small region with the C writer in this
 * process and runs tests/py/check_reader.py as a child, asserting the lines it
 * prints: decoded records field by field (prices as exact decimal text), the
 * layout hash computed from the reader's own field tables, exact lap
 * accounting, the specific error for each kind of bad region, and the latest
 * table. The Python side lives in tests/py/check_reader.py.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr_abi.h"
#include "tr_layout.h"
#include "tr_writer.h"

#define PY_SLOTS 1024u

/* ---- helpers ------------------------------------------------------------ */

/* Instances made by this test (each test runs in its own process), removed
 * by py_fini even when an assertion ends the test early. */
static char py_made[8][64];
static int py_nmade;

static void py_instance(char *buf, size_t n)
{
	static int counter;

	snprintf(buf, n, "py-%d-%d", (int)getpid(), counter++);
	if (py_nmade < 8)
		snprintf(py_made[py_nmade++], sizeof py_made[0], "%s", buf);
}

static const char *py_dir(void);

static void py_fini(void)
{
	static const char *const tags[] = {"zeros", "random", "empty", "head",	  "half",  "v2",
					   "v0",    "hash",   "ring",  "section", "stale", "init"};
	char p[PATH_MAX];

	for (int i = 0; i < py_nmade; i++) {
		tr_writer_unlink(NULL, py_made[i]);
		for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
			snprintf(p, sizeof p, "%s/tickring-%s.%s", py_dir(), py_made[i], tags[t]);
			unlink(p);
		}
	}
}

static const char *py_dir(void)
{
	const char *d = getenv("TICKRING_DIR");

	return d && *d ? d : "/dev/shm";
}

static struct tr_writer *py_writer(const char *inst)
{
	struct tr_writer_config cfg;
	struct tr_writer *w = NULL;

	tr_writer_config_default(&cfg);
	cfg.instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = PY_SLOTS;
	cfg.geometry.symbol_capacity = 64;
	tr_writer_unlink(NULL, inst);
	int rc = tr_writer_open(&w, &cfg);
	cr_assert_eq(rc, 0, "tr_writer_open(%s): %s", inst, tr_errmsg());
	return w;
}

static void py_script(char *buf, size_t n)
{
	const char *root = getenv("TR_ROOT");

	snprintf(buf, n, "%s/tests/py/check_reader.py", root && *root ? root : ".");
}

struct py_child {
	pid_t pid;
	int out; /* its stdout */
	int in;	 /* its stdin, or -1 */
};

/* Start `python3 check_reader.py args...` (NULL-terminated). */
static struct py_child py_spawn(int want_stdin, const char *mode, ...)
{
	const char *argv[16];
	char script[PATH_MAX];
	int n = 0, outp[2], inp[2] = {-1, -1};
	va_list ap;
	struct py_child c;

	py_script(script, sizeof script);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = mode;
	va_start(ap, mode);
	for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(pipe(outp), 0);
	if (want_stdin)
		cr_assert_eq(pipe(inp), 0);
	fflush(NULL);
	c.pid = fork();
	cr_assert_geq(c.pid, 0, "fork: %s", strerror(errno));
	if (c.pid == 0) {
		dup2(outp[1], 1);
		close(outp[0]);
		close(outp[1]);
		if (want_stdin) {
			dup2(inp[0], 0);
			close(inp[0]);
			close(inp[1]);
		}
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(outp[1]);
	c.out = outp[0];
	c.in = -1;
	if (want_stdin) {
		close(inp[0]);
		c.in = inp[1];
	}
	return c;
}

/* Read one line of the child's stdout (byte by byte, so nothing after it is
 * consumed) into buf, without the newline. */
static void py_readline(struct py_child *c, char *buf, size_t n)
{
	size_t i = 0;
	ssize_t r;

	while (i + 1 < n && (r = read(c->out, buf + i, 1)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_eq(r, 1, "read from check_reader.py: %s", strerror(errno));
		if (buf[i] == '\n')
			break;
		i++;
	}
	buf[i] = 0;
}

/* Read the child's whole stdout (malloc'd) and reap it; asserts exit 0. */
static char *py_finish(struct py_child *c)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t r;
	int status;

	cr_assert(buf);
	if (c->in >= 0)
		close(c->in);
	for (;;) {
		if (len + 4096 > cap)
			cr_assert((buf = realloc(buf, cap *= 2)));
		r = read(c->out, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	close(c->out);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "check_reader.py failed (status %#x); it printed:\n%s", status, buf);
	return buf;
}

#define py_run(...) py_run_((const char *)0, __VA_ARGS__, (const char *)0)
static char *py_run_(const char *unused, const char *mode, ...)
{
	const char *a[8] = {0};
	int n = 0;
	va_list ap;
	struct py_child c;

	(void)unused;
	va_start(ap, mode);
	for (const char *s; n < 7 && (s = va_arg(ap, const char *));)
		a[n++] = s;
	va_end(ap);
	c = py_spawn(0, mode, a[0], a[1], a[2], a[3], a[4], a[5], a[6], (const char *)0);
	return py_finish(&c);
}

/* The output line that starts with `key` (a copy, without newline), or NULL. */
static char *py_line(const char *out, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = out; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n >= k && !strncmp(p, key, k) && (n == k || p[k] == ' '))
			return strndup(p, n);
		if (!e)
			break;
		p = e + 1;
	}
	return NULL;
}

/* Assert that a line like `want` was printed, field by field. Its key is
 * everything up to and including the first token holding '=' (for example
 * "trade seq=2"), or the whole line if none does. */
static void py_expect(const char *out, const char *want)
{
	char key[256], wbuf[2048];
	const char *eq = strchr(want, '=');
	size_t klen = strlen(want);

	if (eq) {
		const char *sp = strchr(eq, ' ');
		klen = sp ? (size_t)(sp - want) : strlen(want);
	}
	cr_assert_lt(klen, sizeof key);
	memcpy(key, want, klen);
	key[klen] = 0;
	char *got = py_line(out, key);
	cr_assert(got, "python printed no line \"%s\"; output:\n%s", key, out);

	snprintf(wbuf, sizeof wbuf, "%s", want);
	char *gs = NULL, *ws = NULL;
	char *g = strtok_r(got, " ", &gs), *w = strtok_r(wbuf, " ", &ws);
	int i = 0;
	for (; g && w; g = strtok_r(NULL, " ", &gs), w = strtok_r(NULL, " ", &ws), i++) {
		const char *ge = strchr(g, '='), *we = strchr(w, '=');
		if (ge && we && ge - g == we - w && !strncmp(g, w, (size_t)(we - w)))
			cr_expect_str_eq(ge + 1, we + 1,
					 "[%s] field %.*s: python decoded %s, expected %s", key,
					 (int)(we - w), w, ge + 1, we + 1);
		else
			cr_expect_str_eq(g, w, "[%s] token %d: python printed %s, expected %s", key,
					 i, g, w);
	}
	cr_expect(!g && !w, "[%s] field count differs: extra %s", key, g ? g : w);
	free(got);
}

/* Assert the line starting with `key` starts with `prefix` (after the key)
 * and contains `needle`. */
static void py_expect_has(const char *out, const char *line_prefix, const char *needle)
{
	const char *p = strstr(out, line_prefix);

	cr_assert(p && (p == out || p[-1] == '\n'),
		  "expected a line \"%s...\"; python printed:\n%s", line_prefix, out);
	const char *e = strchr(p, '\n');
	char *l = strndup(p, e ? (size_t)(e - p) : strlen(p));
	cr_expect(strstr(l, needle), "line \"%s\" does not say \"%s\"", l, needle);
	free(l);
}

/* Same checksum as tests/py/check_reader.py (checksum_ok). */
static uint64_t py_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void py_publish_checked_trade(struct tr_writer *w, uint64_t seq)
{
	struct tr_trade t;

	memset(&t, 0, sizeof t);
	t.ts_event = (int64_t)(py_mix(seq) & 0x7fffffffffff);
	t.ts_recv = (int64_t)(py_mix(seq + 1) & 0x7fffffffffff);
	t.price = (int64_t)(py_mix(seq + 2) & 0xffffffffff);
	t.qty = (int64_t)(py_mix(seq + 3) & 0xffffffff);
	t.symbol_id = (uint32_t)(seq % 3);
	t.side = (uint8_t)(seq % 3);
	t.flags = (uint32_t)seq;
	t.trade_count = 1;
	t.trade_id = py_mix((uint64_t)t.ts_event ^ (uint64_t)t.ts_recv * 3 ^ (uint64_t)t.price * 5 ^
			    (uint64_t)t.qty * 7 ^ seq * 11 ^ t.flags);
	uint64_t s = tr_writer_publish(w, TR_KIND_TRADE, &t);
	cr_assert_eq(s, seq, "writer gave seq %" PRIu64 ", test expected %" PRIu64, s, seq);
}

static void py_cleanup(const char *inst)
{
	tr_writer_unlink(NULL, inst);
}

/* ---- layout hash --------------------------------------------------------- */

Test(python, layout_hash_from_own_tables, .timeout = 60, .fini = py_fini)
{
	char want[64];
	char *out = py_run("hash");

	snprintf(want, sizeof want, "hash %08x", tr_layout_hash());
	py_expect(out, want);
	/* The text itself, so a mismatch shows where the tables differ. */
	char *text = py_line(out, "text");
	cr_assert(text);
	cr_expect_str_eq(text + 5, tr_layout_describe(), "python's layout text differs from C's");
	free(text);
	free(out);
}

/* ---- decoding ------------------------------------------------------------ */

static void put_event(struct tr_writer *w, struct tr_event *e, uint16_t type, uint8_t sev,
		      uint32_t sym, uint16_t venue, uint16_t flags, uint32_t aux, int64_t ts)
{
	e->ts_event = ts;
	e->ts_recv = ts + 1000;
	e->type = type;
	e->severity = sev;
	e->symbol_id = sym;
	e->venue_id = venue;
	e->flags = flags;
	e->aux = aux;
	tr_writer_publish(w, TR_KIND_EVENT, e);
	memset(e, 0, sizeof *e);
}

Test(python, decodes_every_kind_exactly, .timeout = 60, .fini = py_fini)
{
	char inst[64];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);

	cr_assert_eq(tr_writer_venue(w, "binance"), 0);
	cr_assert_eq(tr_writer_venue(w, "okx"), 1);
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "ETHUSDT"), 1);
	cr_assert_eq(tr_writer_symbol(w, 1, "BTC-USDT"), 2);
	tr_writer_symbol_status(w, 2, TR_SYM_HALTED);
	tr_writer_counter_add(w, TR_CTR_TRADES, 3);
	tr_writer_counter_add(w, TR_CTR_QUOTES, 2);
	tr_writer_counter_add(w, TR_CTR_BAD_JSON, 5);
	tr_writer_counter_add(w, TR_CTR_FUTEX_WAKES, 9);

	struct tr_trade t;
	memset(&t, 0, sizeof t);
	t.ts_event = 1700000000123000000;
	t.ts_recv = 1700000000123456789;
	t.price = 6183763000000;
	t.qty = 12345;
	t.trade_id = 3141592653;
	t.symbol_id = 0;
	t.venue_id = 0;
	t.side = TR_SIDE_BUY;
	t.flags = TR_TRADE_AGG | TR_TRADE_GATEWAY;
	t.trade_count = 3;
	tr_writer_publish(w, TR_KIND_TRADE, &t);
	memset(&t, 0, sizeof t);
	t.ts_event = -1;
	t.ts_recv = 0;
	t.price = INT64_MAX;
	t.qty = 100000000;
	t.trade_id = UINT64_MAX;
	t.symbol_id = 2;
	t.venue_id = 1;
	t.side = TR_SIDE_SELL;
	t.flags = TR_TRADE_NONMARKET | TR_TRADE_OUTLIER | TR_TRADE_GAP | TR_TRADE_REPLAY;
	t.trade_count = UINT32_MAX;
	tr_writer_publish(w, TR_KIND_TRADE, &t);
	memset(&t, 0, sizeof t);
	t.ts_event = 1700000000200000000;
	t.ts_recv = 1700000000200000001;
	t.price = -1;
	t.qty = INT64_MIN;
	t.trade_id = 0;
	t.symbol_id = 1;
	t.trade_count = 1;
	tr_writer_publish(w, TR_KIND_TRADE, &t);

	struct tr_quote q;
	memset(&q, 0, sizeof q);
	q.ts_event = 0;
	q.ts_recv = 1700000000999999999;
	q.bid_px = 6183762000000;
	q.bid_qty = 150000000;
	q.ask_px = 6183763000000;
	q.ask_qty = 1;
	tr_writer_publish(w, TR_KIND_QUOTE, &q);
	memset(&q, 0, sizeof q);
	q.ts_event = 1700000001000000000;
	q.ts_recv = 1700000001000000001;
	q.bid_px = 265110000000;
	q.bid_qty = 0;
	q.ask_px = 265111000000;
	q.ask_qty = 1234567890123;
	q.symbol_id = 1;
	q.venue_id = 0;
	q.flags = UINT16_MAX;
	tr_writer_publish(w, TR_KIND_QUOTE, &q);

	struct tr_candle k;
	memset(&k, 0, sizeof k);
	k.open_time = 1700000040000000000;
	k.open = 6183763000000;
	k.high = 6190000000000;
	k.low = 6180012345678;
	k.close = 6185000000000;
	k.volume = 1234500000000;
	k.quote_volume = INT64_MAX;
	k.taker_buy_volume = 0;
	k.taker_buy_quote_volume = -5;
	k.vwap = 6184999999999;
	k.first_trade_id = 100;
	k.last_trade_id = UINT64_MAX;
	k.ts_update = 1700000099999000000;
	k.trade_count = UINT32_MAX;
	k.symbol_id = 0;
	k.interval_s = 60;
	k.venue_id = 0;
	k.flags = TR_CANDLE_FINAL | TR_CANDLE_GAP | TR_CANDLE_OVERFLOW;
	k.revision = 255;
	tr_writer_publish(w, TR_KIND_CANDLE, &k);
	memset(&k, 0, sizeof k);
	k.open_time = 1700000000000000000;
	k.open = k.high = k.low = k.close = k.vwap = 1;
	k.symbol_id = 2;
	k.interval_s = 604800;
	k.venue_id = 1;
	k.flags = TR_CANDLE_EMPTY;
	tr_writer_publish(w, TR_KIND_CANDLE, &k);

	struct tr_event e;
	const int64_t T = 1700000000000000000;
	memset(&e, 0, sizeof e);
	snprintf(e.u.text, sizeof e.u.text, "tickringd 0.1.0");
	put_event(w, &e, TR_EV_ENGINE_START, 0, UINT32_MAX, 0, 0, 7, T);
	snprintf(e.u.text, sizeof e.u.text, "closed by peer: 1006");
	put_event(w, &e, TR_EV_FEED_DOWN, 2, UINT32_MAX, 1, 0, 0, T + 1);
	e.u.gap.expected_id = 1000;
	e.u.gap.got_id = 1042;
	e.u.gap.missing = 42;
	e.u.gap.id_kind = 1;
	put_event(w, &e, TR_EV_GAP, 1, 0, 0, UINT16_MAX, UINT32_MAX, T + 2);
	e.u.stale.last_trade_ns = T;
	e.u.stale.silent_ns = 5000000000;
	put_event(w, &e, TR_EV_STALE, 1, 1, 0, 0, 0, T + 3);
	put_event(w, &e, TR_EV_STALE_CLEARED, 0, 1, 0, 0, 0, T + 4);
	e.u.spike.volume = 1234500000000;
	e.u.spike.baseline = 100000000;
	e.u.spike.score = 1234500000000;
	e.u.spike.open_time = 1700000040000000000;
	e.u.spike.interval_s = 60;
	put_event(w, &e, TR_EV_VOLUME_SPIKE, 0, 0, 0, 0, 0, T + 5);
	e.u.outlier.price = 7000000000000;
	e.u.outlier.reference = 6183763000000;
	e.u.outlier.deviation = 1250000000;
	e.u.outlier.trade_id = 77;
	put_event(w, &e, TR_EV_PRICE_OUTLIER, 1, 0, 0, 0, 0, T + 6);
	e.u.late.trade_id = 78;
	e.u.late.trade_ts = T;
	e.u.late.lateness_ns = 2500000000;
	e.u.late.interval_s = 60;
	put_event(w, &e, TR_EV_LATE_TRADE, 0, 0, 0, 0, 0, T + 7);
	e.u.alert.rule_id = 3;
	e.u.alert.rule_kind = 2;
	e.u.alert.value = 6183763000000;
	e.u.alert.threshold = 6000000000000;
	snprintf(e.u.alert.text, sizeof e.u.alert.text, "btc above 60k");
	put_event(w, &e, TR_EV_ALERT, 1, 0, 0, 0, 0, T + 8);
	snprintf(e.u.text, sizeof e.u.text, "bad number: 1e999");
	put_event(w, &e, TR_EV_BAD_INPUT, 2, UINT32_MAX, 0, 0, 0, T + 9);
	put_event(w, &e, 99, 0, UINT32_MAX, 0, 0, 0, T + 10);

	tr_writer_heartbeat(w);
	char *out = py_run("decode", inst);

	char want[512];
	snprintf(want, sizeof want,
		 "region instance=%s epoch=1 pid=%d state=running abi=1 hash=%08x "
		 "intervals=1,60,300,900,3600,86400",
		 inst, (int)getpid(), tr_layout_hash());
	py_expect(out, want);
	py_expect(out, "alive True age_ok=True");
	py_expect(out, "counters trades=3 quotes=2 bad_json=5 futex_wakes=9");
	py_expect(out, "venues binance,okx");
	py_expect(out, "symbol id=0 venue_id=0 venue=binance status=0 name=BTCUSDT");
	py_expect(out, "symbol id=1 venue_id=0 venue=binance status=0 name=ETHUSDT");
	py_expect(out, "symbol id=2 venue_id=1 venue=okx status=2 name=BTC-USDT");
	py_expect(out, "find 0 1 None");

	py_expect(out, "trade seq=1 ts_event=1700000000123000000 ts_recv=1700000000123456789 "
		       "price=61837.63 qty=0.00012345 trade_id=3141592653 symbol_id=0 venue_id=0 "
		       "side=1 flags=34 trade_count=3");
	py_expect(out, "trade seq=2 ts_event=-1 ts_recv=0 price=92233720368.54775807 qty=1 "
		       "trade_id=18446744073709551615 symbol_id=2 venue_id=1 side=2 flags=29 "
		       "trade_count=4294967295");
	py_expect(out, "trade seq=3 ts_event=1700000000200000000 ts_recv=1700000000200000001 "
		       "price=-0.00000001 qty=-92233720368.54775808 trade_id=0 symbol_id=1 "
		       "venue_id=0 side=0 flags=0 trade_count=1");
	py_expect(out, "end trade head=3 delivered=3");

	py_expect(out, "quote seq=1 ts_event=0 ts_recv=1700000000999999999 bid_px=61837.62 "
		       "bid_qty=1.5 ask_px=61837.63 ask_qty=0.00000001 symbol_id=0 venue_id=0 "
		       "flags=0");
	py_expect(out, "quote seq=2 ts_event=1700000001000000000 ts_recv=1700000001000000001 "
		       "bid_px=2651.1 bid_qty=0 ask_px=2651.11 ask_qty=12345.67890123 symbol_id=1 "
		       "venue_id=0 flags=65535");
	py_expect(out, "end quote head=2 delivered=2");

	py_expect(out, "candle seq=1 open_time=1700000040000000000 open=61837.63 high=61900 "
		       "low=61800.12345678 close=61850 volume=12345 "
		       "quote_volume=92233720368.54775807 taker_buy_volume=0 "
		       "taker_buy_quote_volume=-0.00000005 vwap=61849.99999999 first_trade_id=100 "
		       "last_trade_id=18446744073709551615 ts_update=1700000099999000000 "
		       "trade_count=4294967295 symbol_id=0 interval_s=60 venue_id=0 flags=11 "
		       "revision=255");
	py_expect(out,
		  "candle seq=2 open_time=1700000000000000000 open=0.00000001 "
		  "high=0.00000001 low=0.00000001 close=0.00000001 volume=0 quote_volume=0 "
		  "taker_buy_volume=0 taker_buy_quote_volume=0 vwap=0.00000001 first_trade_id=0 "
		  "last_trade_id=0 ts_update=0 trade_count=0 symbol_id=2 interval_s=604800 "
		  "venue_id=1 flags=4 revision=0");
	py_expect(out, "end candle head=2 delivered=2");

	py_expect(out, "event seq=1 ts_event=1700000000000000000 ts_recv=1700000000000001000 "
		       "type=1 severity=0 symbol_id=4294967295 venue_id=0 flags=0 aux=7 "
		       "type_name=engine_start text=\"tickringd\\u00200.1.0\"");
	py_expect(out, "event seq=2 ts_event=1700000000000000001 ts_recv=1700000000000001001 "
		       "type=3 severity=2 symbol_id=4294967295 venue_id=1 flags=0 aux=0 "
		       "type_name=feed_down text=\"closed\\u0020by\\u0020peer:\\u00201006\"");
	py_expect(out, "event seq=3 ts_event=1700000000000000002 ts_recv=1700000000000001002 "
		       "type=4 severity=1 symbol_id=0 venue_id=0 flags=65535 aux=4294967295 "
		       "type_name=gap expected_id=1000 got_id=1042 missing=42 id_kind=1");
	py_expect(out, "event seq=4 ts_event=1700000000000000003 ts_recv=1700000000000001003 "
		       "type=5 severity=1 symbol_id=1 venue_id=0 flags=0 aux=0 type_name=stale "
		       "last_trade_ns=1700000000000000000 silent_ns=5000000000");
	py_expect(out, "event seq=5 ts_event=1700000000000000004 ts_recv=1700000000000001004 "
		       "type=6 severity=0 symbol_id=1 venue_id=0 flags=0 aux=0 "
		       "type_name=stale_cleared");
	py_expect(out, "event seq=6 ts_event=1700000000000000005 ts_recv=1700000000000001005 "
		       "type=7 severity=0 symbol_id=0 venue_id=0 flags=0 aux=0 "
		       "type_name=volume_spike volume=12345 baseline=1 score=12345 "
		       "open_time=1700000040000000000 interval_s=60");
	py_expect(out, "event seq=7 ts_event=1700000000000000006 ts_recv=1700000000000001006 "
		       "type=8 severity=1 symbol_id=0 venue_id=0 flags=0 aux=0 "
		       "type_name=price_outlier price=70000 reference=61837.63 deviation=12.5 "
		       "trade_id=77");
	py_expect(out, "event seq=8 ts_event=1700000000000000007 ts_recv=1700000000000001007 "
		       "type=9 severity=0 symbol_id=0 venue_id=0 flags=0 aux=0 "
		       "type_name=late_trade trade_id=78 trade_ts=1700000000000000000 "
		       "lateness_ns=2500000000 interval_s=60");
	py_expect(out, "event seq=9 ts_event=1700000000000000008 ts_recv=1700000000000001008 "
		       "type=10 severity=1 symbol_id=0 venue_id=0 flags=0 aux=0 type_name=alert "
		       "rule_id=3 rule_kind=2 value=61837.63 threshold=60000 "
		       "name=\"btc\\u0020above\\u002060k\" rule=\"change\"");
	py_expect(out, "event seq=10 ts_event=1700000000000000009 ts_recv=1700000000000001009 "
		       "type=11 severity=2 symbol_id=4294967295 venue_id=0 flags=0 aux=0 "
		       "type_name=bad_input text=\"bad\\u0020number:\\u00201e999\"");
	py_expect(out, "event seq=11 ts_event=1700000000000000010 ts_recv=1700000000000001010 "
		       "type=99 severity=0 symbol_id=4294967295 venue_id=0 flags=0 aux=0 "
		       "type_name=?");
	py_expect(out, "end event head=11 delivered=11");
	cr_expect_null(strstr(out, "unexpected"), "python saw a non-record:\n%s", out);
	free(out);
	tr_writer_close(w);
	py_cleanup(inst);
}

/* ---- lapped ---------------------------------------------------------------- */

/* Deterministic: the reader asks for seq 1 after 3 rings and 5 records were
 * published; it must lose exactly up to head - slots + 1 + slots/8. */
Test(python, lapped_exact_gap_when_joined_behind, .timeout = 60, .fini = py_fini)
{
	char inst[64], total_s[32];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);
	const uint64_t total = 3 * PY_SLOTS + 5;

	for (uint64_t s = 1; s <= total; s++)
		py_publish_checked_trade(w, s);
	tr_writer_heartbeat(w);
	snprintf(total_s, sizeof total_s, "%" PRIu64, total);
	char *out = py_run("lapped", inst, total_s);

	uint64_t resume = total - PY_SLOTS + 1 + PY_SLOTS / 8, lost = resume - 1;
	char want[256];
	snprintf(want, sizeof want,
		 "delivered=%" PRIu64 " lost=%" PRIu64 " laps=1 last_gap=%" PRIu64 " next=%" PRIu64,
		 total - lost, lost, lost, total + 1);
	py_expect(out, want);
	py_expect(out, "verdict OK");
	free(out);
	tr_writer_close(w);
	py_cleanup(inst);
}

/* Concurrent: the writer publishes while the reader runs, and laps it on
 * purpose by publishing two rings while the reader is stopped (SIGSTOP). */
Test(python, lapped_while_stopped_counts_exactly, .timeout = 60, .fini = py_fini)
{
	char inst[64], total_s[32];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);
	const int rounds = 5;
	const uint64_t live = 300, burst = 2 * PY_SLOTS + 100, race = 200000, tail = 200;
	const uint64_t total = rounds * (live + burst) + race + tail;
	uint64_t seq = 0;
	int status;

	snprintf(total_s, sizeof total_s, "%" PRIu64, total);
	struct py_child c = py_spawn(0, "lapped", inst, total_s, (const char *)0);
	char ready[64];
	py_readline(&c, ready, sizeof ready); /* the reader runs: the stops below lap it */
	cr_assert_str_eq(ready, "ready next=1");
	for (int r = 0; r < rounds; r++) {
		for (uint64_t i = 0; i < live; i++) {
			py_publish_checked_trade(w, ++seq);
			if (i % 16 == 15)
				usleep(200); /* let the reader keep up part of the time */
		}
		tr_writer_heartbeat(w);
		cr_assert_eq(kill(c.pid, SIGSTOP), 0);
		cr_assert_eq(waitpid(c.pid, &status, WUNTRACED), c.pid);
		cr_assert(WIFSTOPPED(status), "reader ended early (status %#x)", status);
		for (uint64_t i = 0; i < burst; i++)
			py_publish_checked_trade(w, ++seq);
		cr_assert_eq(kill(c.pid, SIGCONT), 0);
	}
	/* Race: publish faster than Python reads, so the reader keeps running
	 * into the writer at the edge of the ring and slots get overwritten
	 * while it copies them (caught by its re-check, or by the checksum if
	 * the re-check were missing). */
	for (uint64_t i = 0; i < race; i++) {
		py_publish_checked_trade(w, ++seq);
		if (i % 32 == 31) {
			int64_t until = tr_now_ns() + 10000;
			while (tr_now_ns() < until)
				;
		}
	}
	for (uint64_t i = 0; i < tail; i++)
		py_publish_checked_trade(w, ++seq);
	tr_writer_heartbeat(w);
	cr_assert_eq(seq, total);
	char *out = py_finish(&c);

	unsigned long long delivered = 0, lost = 0, laps = 0;
	char *l = strstr(out, "delivered=");
	cr_assert(l, "no summary line; python printed:\n%s", out);
	cr_assert_eq(sscanf(l, "delivered=%llu lost=%llu laps=%llu", &delivered, &lost, &laps), 3);
	cr_expect_eq(delivered + lost, total, "delivered %llu + lost %llu != published %" PRIu64,
		     delivered, lost, total);
	cr_expect_geq(laps, (unsigned long long)rounds, "only %llu laps in %d stops", laps, rounds);
	cr_expect_geq(delivered, (unsigned long long)tail, "delivered %llu", delivered);
	cr_log_info("python reader: %s", l);
	py_expect(out, "verdict OK");
	free(out);
	tr_writer_close(w);
	py_cleanup(inst);
}

/* ---- errors ------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	cr_assert(b);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert(f, "create %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* Run `open path [any]` and assert "error <cls> ...<needle>..." (or "ok ..."). */
static void expect_open(const char *path, const char *flag, const char *cls, const char *needle)
{
	char *out = flag ? py_run("open", path, flag) : py_run("open", path);
	char prefix[128];

	snprintf(prefix, sizeof prefix, "%s%s%s", cls[0] == 'o' ? "" : "error ", cls,
		 cls[0] == 'o' ? "" : " ");
	py_expect_has(out, prefix, needle);
	cr_expect_null(strstr(out, "Traceback"), "traceback:\n%s", out);
	free(out);
}

Test(python, refuses_bad_regions_with_specific_errors, .timeout = 60, .fini = py_fini)
{
	char inst[64], path[PATH_MAX], bad[PATH_MAX];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);

	cr_assert_eq(tr_writer_venue(w, "binance"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), 0);
	for (uint64_t s = 1; s <= 10; s++)
		py_publish_checked_trade(w, s);
	tr_writer_heartbeat(w);
	snprintf(path, sizeof path, "%s/tickring.%s", py_dir(), inst);

	/* The real thing opens. */
	expect_open(inst, NULL, "ok running", "epoch=1");
	expect_open(path, NULL, "ok running", "epoch=1");

	size_t len;
	char *img = read_file(path, &len);
	struct tr_superblock sb;
	memcpy(&sb, img, sizeof sb);
	cr_assert_eq(len, sb.region_size);
	char *buf = malloc(len);
	cr_assert(buf);

#define BAD(tag) snprintf(bad, sizeof bad, "%s/tickring-%s.%s", py_dir(), inst, tag)
	BAD("zeros");
	memset(buf, 0, 65536);
	write_file(bad, buf, 65536);
	expect_open(bad, "any", "BadMagicError", "not a tickring region");
	unlink(bad);

	BAD("random");
	srand(42);
	for (size_t i = 0; i < 65536; i++)
		buf[i] = (char)(rand() >> 7);
	write_file(bad, buf, 65536);
	expect_open(bad, "any", "BadMagicError", "not a tickring region");
	unlink(bad);

	BAD("empty");
	write_file(bad, buf, 0);
	expect_open(bad, "any", "TruncatedError", "shorter than a superblock");
	unlink(bad);

	BAD("head");
	write_file(bad, img, 100);
	expect_open(bad, "any", "TruncatedError", "shorter than a superblock");
	unlink(bad);

	BAD("half");
	write_file(bad, img, len / 2);
	expect_open(bad, "any", "TruncatedError", "the region needs");
	unlink(bad);

	BAD("v2");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->abi_version = TR_ABI_VERSION + 1;
	write_file(bad, buf, len);
	expect_open(bad, "any", "AbiVersionError", "region ABI version 2, this reader speaks 1");
	unlink(bad);

	BAD("v0");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->abi_version = 0;
	write_file(bad, buf, len);
	expect_open(bad, "any", "AbiVersionError", "older than this reader");
	unlink(bad);

	BAD("hash");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->layout_hash ^= 0x1000;
	write_file(bad, buf, len);
	expect_open(bad, "any", "LayoutError", "layout hash");
	unlink(bad);

	BAD("ring");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->rings[TR_KIND_QUOTE].slot_count = 1000;
	write_file(bad, buf, len);
	expect_open(bad, "any", "LayoutError", "inconsistent quotes ring");
	unlink(bad);

	BAD("section");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->latest.offset = len - 4096;
	write_file(bad, buf, len);
	expect_open(bad, "any", "LayoutError", "latest section");
	unlink(bad);

	/* Running, pid alive (ours), heartbeat 10 s old: a hung engine. */
	BAD("stale");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->heartbeat_ns = tr_now_ns() - 10000000000ll;
	write_file(bad, buf, len);
	expect_open(bad, NULL, "StaleEngineError", "has not beaten for");
	expect_open(bad, "any", "ok running", "epoch=1");
	unlink(bad);

	/* Being created. */
	BAD("init");
	memcpy(buf, img, len);
	((struct tr_superblock *)buf)->state = TR_STATE_INIT;
	write_file(bad, buf, len);
	expect_open(bad, NULL, "NotReadyError", "being created");
	unlink(bad);

	BAD("missing");
	expect_open(bad, NULL, "RegionNotFoundError", "no region");

	snprintf(bad, sizeof bad, "%s/", py_dir());
	expect_open(bad, "any", "TickringError", "not a regular file");

	/* Stopped cleanly. */
	tr_writer_close(w);
	expect_open(inst, NULL, "EngineStoppedError", "stopped");
	expect_open(inst, "any", "ok stopped", "epoch=1");
#undef BAD
	free(buf);
	free(img);
	py_cleanup(inst);
}

/* An engine that dies without tr_writer_close(): state stays running, the pid
 * is gone. */
Test(python, refuses_region_of_dead_engine, .timeout = 60, .fini = py_fini)
{
	char inst[64];
	int status;
	py_instance(inst, sizeof inst);
	tr_writer_unlink(NULL, inst);

	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct tr_writer_config cfg;
		struct tr_writer *w = NULL;

		tr_writer_config_default(&cfg);
		cfg.instance = inst;
		for (int k = 0; k < TR_NKINDS; k++)
			cfg.geometry.ring_slots[k] = PY_SLOTS;
		cfg.geometry.symbol_capacity = 64;
		if (tr_writer_open(&w, &cfg) < 0)
			_exit(2);
		for (uint64_t s = 1; s <= 5; s++) {
			struct tr_trade t;
			memset(&t, 0, sizeof t);
			t.price = (int64_t)s;
			tr_writer_publish(w, TR_KIND_TRADE, &t);
		}
		_exit(0); /* no tr_writer_close: the region still says running */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child failed");

	char msg[64];
	snprintf(msg, sizeof msg, "engine pid %d is gone without stopping", (int)pid);
	expect_open(inst, NULL, "DeadEngineError", msg);
	expect_open(inst, "any", "ok running", "epoch=1");
	py_cleanup(inst);
}

/* ---- latest table ------------------------------------------------------------ */

Test(python, latest_table_round_trip, .timeout = 60, .fini = py_fini)
{
	char inst[64];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);

	cr_assert_eq(tr_writer_venue(w, "binance"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), 0);
	cr_assert_eq(tr_writer_symbol(w, 0, "ETHUSDT"), 1);
	cr_assert_eq(tr_writer_symbol(w, 0, "SOLUSDT"), 2);

	struct tr_trade t;
	struct tr_quote q;
	struct tr_stats24h st;
	struct tr_candle k;
	memset(&t, 0, sizeof t);
	t.seq = 41;
	t.ts_event = 1700000000123000000;
	t.ts_recv = 1700000000123456789;
	t.price = 6183763000000;
	t.qty = 250000;
	t.trade_id = 987654321;
	t.side = TR_SIDE_SELL;
	t.flags = TR_TRADE_AGG;
	t.trade_count = 2;
	memset(&q, 0, sizeof q);
	q.seq = 17;
	q.ts_recv = 1700000000200000000;
	q.bid_px = 6183762000000;
	q.bid_qty = 1;
	q.ask_px = 6183763000000;
	q.ask_qty = 99999999;
	memset(&st, 0, sizeof st);
	st.last = 6183763000000;
	st.open = 6000000000000;
	st.high = 6200000000000;
	st.low = 5900000000000;
	st.change = 183763000000;
	st.change_pct = 306271666;
	st.volume = 1234567800000000;
	st.quote_volume = INT64_MAX;
	st.trade_count = 1000000;
	st.open_time = 1699913600000000000;
	st.close_time = 1700000000000000000;
	st.first_trade_id = 1;
	st.last_trade_id = 1000000;
	st.vwap = 6100000000001;
	st.ts_update = 1700000000123000000;
	memset(&k, 0, sizeof k);
	k.seq = 5;
	k.open_time = 1700000040000000000;
	k.open = k.low = 6183763000000;
	k.high = k.close = 6190000000000;
	k.volume = 300000000;
	k.vwap = 6185000000000;
	k.first_trade_id = 10;
	k.last_trade_id = 12;
	k.ts_update = 1700000041000000000;
	k.trade_count = 3;
	k.interval_s = 60;

	struct tr_latest *l = tr_latest_begin(w, 0);
	tr_latest_put(l, &l->trade, &t, sizeof t);
	tr_latest_put(l, &l->quote, &q, sizeof q);
	tr_latest_put(l, &l->stats, &st, sizeof st);
	tr_latest_put(l, &l->candles[1], &k, sizeof k);
	tr_latest_mark(l,
		       TR_LATEST_TRADE | TR_LATEST_QUOTE | TR_LATEST_STATS | TR_LATEST_CANDLE(1));
	tr_latest_end(l);
	q.symbol_id = 1;
	q.bid_px = 265110000000;
	l = tr_latest_begin(w, 1);
	tr_latest_put(l, &l->quote, &q, sizeof q);
	tr_latest_mark(l, TR_LATEST_QUOTE);
	tr_latest_end(l);
	/* A second update of symbol 0's trade: the reader must see the newest. */
	t.seq = 42;
	t.price = 6183764000000;
	l = tr_latest_begin(w, 0);
	tr_latest_put(l, &l->trade, &t, sizeof t);
	tr_latest_end(l);
	tr_writer_heartbeat(w);

	char *out = py_run("latest", inst, "0", "1", "2");
	py_expect(out, "latest_trade 0 trade seq=42 ts_event=1700000000123000000 "
		       "ts_recv=1700000000123456789 price=61837.64 qty=0.0025 trade_id=987654321 "
		       "symbol_id=0 venue_id=0 side=2 flags=2 trade_count=2");
	py_expect(out, "latest_quote 0 quote seq=17 ts_event=0 ts_recv=1700000000200000000 "
		       "bid_px=61837.62 bid_qty=0.00000001 ask_px=61837.63 ask_qty=0.99999999 "
		       "symbol_id=0 venue_id=0 flags=0");
	py_expect(out, "latest_stats 0 stats last=61837.63 open=60000 high=62000 low=59000 "
		       "change=1837.63 change_pct=3.06271666 volume=12345678 "
		       "quote_volume=92233720368.54775807 trade_count=1000000 "
		       "open_time=1699913600000000000 close_time=1700000000000000000 "
		       "first_trade_id=1 last_trade_id=1000000 vwap=61000.00000001 "
		       "ts_update=1700000000123000000");
	py_expect(out, "latest_candle 0 0 none");
	py_expect(out, "latest_candle 0 1 candle seq=5 open_time=1700000040000000000 "
		       "open=61837.63 high=61900 low=61837.63 close=61900 volume=3 quote_volume=0 "
		       "taker_buy_volume=0 taker_buy_quote_volume=0 vwap=61850 first_trade_id=10 "
		       "last_trade_id=12 ts_update=1700000041000000000 trade_count=3 symbol_id=0 "
		       "interval_s=60 venue_id=0 flags=0 revision=0");
	py_expect(out, "latest_candle 0 5 none");
	py_expect(out, "latest_trade 1 none");
	py_expect(out, "latest_quote 1 quote seq=17 ts_event=0 ts_recv=1700000000200000000 "
		       "bid_px=2651.1 bid_qty=0.00000001 ask_px=61837.63 ask_qty=0.99999999 "
		       "symbol_id=1 venue_id=0 flags=0");
	py_expect(out, "latest_stats 1 none");
	py_expect(out, "latest_trade 2 none");
	py_expect(out, "latest_quote 2 none");
	py_expect(out, "unknown_symbol NoSuchSymbolError");
	free(out);

	/* An update that never ends (engine died mid-update): a clear error. */
	(void)tr_latest_begin(w, 2);
	out = py_run("latest", inst, "2");
	py_expect_has(out, "error LatestLockedError ", "stays locked");
	cr_expect_null(strstr(out, "Traceback"), "traceback:\n%s", out);
	free(out);
	tr_writer_close(w);
	py_cleanup(inst);
}

/* ---- epoch ----------------------------------------------------------------- */

/* The engine restarts (same geometry: region kept, epoch bumped) while a
 * Python cursor follows the trades ring: it sees EpochChanged, then the
 * records of the new epoch, whose sequence continues. */
Test(python, epoch_change_seen_and_sequence_continues, .timeout = 60, .fini = py_fini)
{
	char inst[64], buf[256];
	py_instance(inst, sizeof inst);
	struct tr_writer *w = py_writer(inst);

	for (uint64_t s = 1; s <= 3; s++)
		py_publish_checked_trade(w, s);
	tr_writer_heartbeat(w);
	struct py_child c = py_spawn(1, "epoch", inst, (const char *)0);
	/* Wait for "ready": the cursor has joined at the tail (next = 4). */
	py_readline(&c, buf, sizeof buf);
	cr_assert_str_eq(buf, "ready next=4");
	tr_writer_close(w);
	{
		struct tr_writer_config cfg;
		tr_writer_config_default(&cfg);
		cfg.instance = inst;
		for (int k = 0; k < TR_NKINDS; k++)
			cfg.geometry.ring_slots[k] = PY_SLOTS;
		cfg.geometry.symbol_capacity = 64;
		cr_assert_eq(tr_writer_open(&w, &cfg), 0, "reopen: %s", tr_errmsg());
		cr_assert(w->reopened, "same geometry must keep the region");
	}
	py_publish_checked_trade(w, 4);
	py_publish_checked_trade(w, 5);
	tr_writer_heartbeat(w);
	cr_assert_eq(write(c.in, "go\n", 3), 3);
	char *out = py_finish(&c);
	/* Records are delivered as long as there are any; the epoch change is
	 * reported when the cursor next finds the ring empty (as in C). */
	py_expect(out, "got seq=4 checksum=ok");
	py_expect(out, "got seq=5 checksum=ok");
	py_expect(out, "epoch old=1 new=2 next=6");
	py_expect(out, "verdict OK");
	free(out);
	tr_writer_close(w);
	py_cleanup(inst);
}
